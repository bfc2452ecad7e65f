"""`evalkit run --ray`: a sweep of checkpoints x benchmarks on a Ray cluster that survives failures.

Nothing here is imported by `evalkit run` without `--ray` (a test checks that Ray never loads then);
Ray itself is the optional extra `evalkit[ray]` and is imported only inside these modules' functions.

Design
------
- Cells. The unit of work stays one run directory: one checkpoint x the benchmarks x the settings,
  exactly what `evalkit run` writes without Ray (same config.json, same default directory name, same
  resume rule). `--model` with several checkpoints (or a glob) gives several cells. Before anything
  starts, the driver recognises cells that are already finished from their run directory (settings,
  problems and a full samples.jsonl) and skips them without loading a model; partial cells resume.
- Replicas. `--replicas N` engine actors per checkpoint (`replica.EngineReplica`), each a whole
  engine in one actor process: vLLM runs in-process inside its actor (no nested Ray: vLLM's own
  multiprocessing executor is forced for tensor parallelism), llama.cpp and transformers likewise.
  A replica reserves `num_gpus = --tensor-parallel-size` (GPU engines) or `--threads` CPUs (CPU
  engines, 1 thread by default under Ray). A GPU replica is placed into a one-bundle STRICT_PACK
  placement group (its GPUs on one node) created with a timeout: a reservation the cluster cannot
  meet fails with one line instead of waiting forever; a request no node could ever meet fails at once.
- Chunks. Each cell's missing requests are cut into chunks kept in a queue by the driver. A replica
  is handed a new chunk whenever it has fewer than two in flight (so it never idles on a round trip),
  never a fixed share: a fast replica takes more. A chunk whose replica dies (process killed, node
  lost) is put back at the head of the queue and the replica is replaced (a few times per slot); a
  chunk still out long after the others of its cell finish (a hung or very slow replica) is handed to
  an idle replica too, and the first result wins.
- One writer. The driver is the only writer of every run directory: it holds the directory's lock,
  grades each request's completions and appends them with one write + fsync (`evalkit.store`),
  skipping any sample the directory already holds. So samples.jsonl keeps its guarantees whatever
  fails: a replica's death loses only unwritten work, which is re-queued; a duplicate result (a
  re-queued chunk that had in fact finished) is dropped; killing the driver loses at most the
  requests in flight, and rerunning the same command resumes every cell.
- Grading. Math is graded by the writer (fast, in-process graders). Code goes to CPU actors that own
  sandbox workers (`code_pool`): one per node by default, each checks at start that the sandbox can
  isolate model code there (bubblewrap) and fails loudly, naming the node, when it cannot. The same
  pool serves the trainer (`evalkit train --ray ADDRESS`) and verl (`code_pool.compute_score`), as
  named actors in the `evalkit` namespace of the cluster.
- Shared paths. Checkpoints (and `--data-dir`, outputs) must be on a path every node sees (a shared
  filesystem); the driver checks every checkpoint path on every alive node before launching.
- The driver never waits without a deadline: connecting, reserving, starting a replica
  (`--ray-start-timeout`) and each node check are bounded, and each failure is one line (exit 2).

Without Ray, one GPU node scales out too: `vllm serve MODEL --data-parallel-size N` and `evalkit run
--engine openai --base-url http://localhost:8000/v1 --concurrency 64`. Its limit is the seed: evalkit
sends each sample as its own request with seed `--seed + j` (no shared prefill through `n`, only the
server's prefix cache), and vLLM honours a per-request seed only as far as batching allows: the online
server's scheduling depends on load, so sampled text is not reproducible run to run (vLLM's own
reproducibility notes), while `--ray` replicas run the offline engine with the seeds evalkit gives.
"""

from __future__ import annotations

__all__ = ["RaySettings"]

from evalkit.distributed.settings import RaySettings
