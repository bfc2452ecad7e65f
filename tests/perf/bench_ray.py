"""`evalkit run --ray` against plain `evalkit run`: the same sweep, in one run of this script.

    python tests/perf/bench_ray.py [--data-dir ../shared/data] [--limit 8] [--max-tokens 64]

The sweep: 2 checkpoints (the SmolLM2 GGUF under two checkpoint paths) x GSM8K, greedy.
A (the anchor): plain `evalkit run` for one checkpoint, then the other, each with llama.cpp on 1 thread
   (`--with-two-threads` adds plain runs on 2 threads: the other way to use both cores).
B: one `evalkit run --ray` over both checkpoints on a local 2-node cluster (1 CPU each), 2 replicas of 1
   thread. Both sides are timed as whole commands (model loads, Ray's start-up of actors included); the
   cluster itself is started once beforehand, as a user's cluster would be, and its start-up is reported.
   A and B alternate for `--rounds` rounds, so that the load of a shared machine hits both alike; the
   ratio of each round and their median are printed.
Ray's overhead per chunk: one replica actor answers chunks of one request one after the other; the
overhead is the driver's round trip minus the time the actor spent generating, against that generation
time. All runs write the same samples (checked). GPU and multi-node scaling cannot be measured on this
machine (2 CPU cores, no GPU, one host); this measures the scheduling and its overhead, not those.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "ray"))

from local_cluster import LocalCluster  # noqa: E402

EVALKIT = str(Path(sys.executable).with_name("evalkit"))

OVERHEAD = r"""
import json, statistics, sys, time
import ray
from evalkit.distributed.cluster import connect
from evalkit.distributed.replica import EngineReplica, replica_spec
from evalkit.engines.base import EngineOptions, Prompt, Request
from evalkit.models import resolve_model
from evalkit.schema import SamplingParams

connect("auto")
model = resolve_model("smollm2-135m")
spec = replica_spec("llamacpp", "smollm2-135m", model, EngineOptions(threads=1), False)
actor = ray.remote(EngineReplica).options(num_cpus=1).remote(spec)
assert ray.get(actor.ready.remote()).error is None
params = SamplingParams(max_tokens=int(sys.argv[1]))
rows = []
for i in range(int(sys.argv[2]) + 1):
    request = Request(Prompt(messages=(("user", f"What is {i} + {i}? Explain."),)), n=1)
    start = time.perf_counter()
    result = ray.get(actor.generate.remote([request], params))
    wall = time.perf_counter() - start
    if i:  # the first chunk warms the engine
        rows.append((wall - result.seconds, result.seconds))
print(json.dumps({"overhead_s": statistics.median(r[0] for r in rows),
                  "generate_s": statistics.median(r[1] for r in rows)}))
"""


CELL_LINES: list[str] = []


def timed(cluster: LocalCluster | None, args: list[str]) -> float:
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if cluster is None:
        done = subprocess.run([EVALKIT, *args], capture_output=True, text=True, env=env)
        rc, err = done.returncode, done.stderr
    else:
        proc = cluster.run([EVALKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate()
        rc = proc.returncode
    if rc != 0:
        raise SystemExit(f"{args[:2]} failed: {err[-2000:]}")
    CELL_LINES.extend(line.split(": ", 1)[1] for line in err.splitlines() if "samples generated in" in line)
    return time.perf_counter() - start


def sample_texts(run_dir: Path) -> dict:
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return {(r["problem_id"], r["sample_index"]): r["completion"] for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("EVALKIT_SHARED_DATA",
                                                                               ROOT.parent / "shared" / "data")))
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--chunks", type=int, default=8, help="chunks timed for the per-chunk overhead")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--with-two-threads", action="store_true")
    args = parser.parse_args()
    from evalkit.models import smollm2_gguf_path

    work = Path(tempfile.mkdtemp(prefix="bench_ray"))
    ckpts = []
    for step in (1, 2):
        (work / "ckpt" / f"step-{step}").mkdir(parents=True)
        (work / "ckpt" / f"step-{step}" / "model.gguf").symlink_to(smollm2_gguf_path())
        ckpts.append(str(work / "ckpt" / f"step-{step}"))
    common = ["-b", "gsm8k", "--limit", str(args.limit), "--max-tokens", str(args.max_tokens), "--data-dir",
              str(args.data_dir)]
    start = time.perf_counter()
    cluster = LocalCluster([{"num_cpus": 1}, {"num_cpus": 1}]).start()
    cluster_start = time.perf_counter() - start
    plain: dict[int, list[float]] = {1: [], 2: []}
    on_ray: list[float] = []
    loads = []
    try:
        for r in range(args.rounds):
            for threads in (1, 2) if args.with_two_threads else (1,):
                plain[threads].append(sum(timed(None, ["run", "-m", c, *common, "--threads", str(threads), "-o",
                                                       str(work / f"plain{threads}-{r}" / Path(c).name)])
                                          for c in ckpts))
            on_ray.append(timed(cluster, ["run", "--ray", "-m", str(work / "ckpt" / "step-*"), *common, "--replicas",
                                          "2", "--chunk-size", "1", "-o", str(work / f"ray-{r}")]))
            loads.append(os.getloadavg()[0])
            for c in ckpts:
                name = Path(c).name
                assert sample_texts(work / f"ray-{r}" / f"ckpt_{name}") == \
                    sample_texts(work / f"plain1-{r}" / name), "samples differ"
        overhead = json.loads(cluster.python_plain(OVERHEAD, str(args.max_tokens), str(args.chunks))
                              .strip().splitlines()[-1])
    finally:
        cluster.stop()
    n = 2 * args.limit
    print(f"sweep: 2 checkpoints x gsm8k, {args.limit} problems each, {args.max_tokens} max tokens, greedy "
          f"({n} samples; identical in every run)")
    med = statistics.median
    ratios = [a / b for a, b in zip(plain[1], on_ray, strict=True)]
    print("| measure | seconds (median of rounds) | plain 1-thread time / this |")
    print("|---|---|---|")
    print(f"| plain `evalkit run`, one after the other, 1 thread (anchor) | {med(plain[1]):.1f} | 1 |")
    if plain[2]:
        print(f"| plain `evalkit run`, one after the other, 2 threads | {med(plain[2]):.1f} | "
              f"{med(a / b for a, b in zip(plain[1], plain[2], strict=True)):.2f} |")
    print(f"| `evalkit run --ray`, 2 replicas x 1 thread | {med(on_ray):.1f} | {med(ratios):.2f} |")
    print(f"| (local 2-node cluster start-up, once) | {cluster_start:.1f} | |")
    print(f"per-round ratios (plain / ray): {', '.join(f'{x:.2f}' for x in ratios)}; 1-minute load average after "
          f"each round: {', '.join(f'{x:.1f}' for x in loads)} on {os.cpu_count()} cores")
    share = overhead["overhead_s"] / overhead["generate_s"]
    print(f"Ray overhead per chunk: {overhead['overhead_s'] * 1000:.1f} ms (median of {args.chunks}) against "
          f"{overhead['generate_s'] * 1000:.0f} ms to generate its one request ({share:.1%})")
    print("cells of the Ray runs: " + "; ".join(CELL_LINES))
    print("GPU and multi-node scaling were not measured: this machine has 2 CPU cores, no GPU and one host.")


if __name__ == "__main__":
    main()
