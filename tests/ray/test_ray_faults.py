"""`evalkit run --ray` on a real two-node cluster with SmolLM2 (llama.cpp, one thread per replica), under faults.

Each fault test compares the run directory with an undisturbed plain run (greedy decoding: the same
text): every sample exactly once, nothing lost, nothing doubled. The node-stopping test is last: it
restarts the second node when it is done.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from ray_helpers import EVALKIT, LIMIT, error_lines, run_args, sample_set, samples

pytestmark = pytest.mark.slow


def _start(cluster, args: list[str]) -> subprocess.Popen:
    return cluster.run([EVALKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 400) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the driver did not finish within {timeout} s: {err[-3000:]}")
    return proc.returncode, out, err


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 300, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"never saw {what} (driver rc {proc.returncode}): {err[-2000:]}")


def test_ray_run_writes_what_the_plain_run_writes(cluster, shared_data, reference, tmp_path):
    """Two replicas, one per node; the run directory equals the plain run's (config identity and samples)."""
    out = tmp_path / "run"
    rc, stdout, err = _finish(_start(cluster, run_args(shared_data, "--ray", "-o", str(out), "--replicas", "2",
                                                       "--chunk-size", "1")))
    assert rc == 0, err[-3000:]
    assert sample_set(out) == reference
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["engine"] == "llamacpp" and config["model"]["engine_options"]["threads"] == 1
    assert json.loads((out / "metrics.json").read_text())["gsm8k"]["n_samples"] == LIMIT
    assert "evalkit results" in stdout


def test_killing_an_engine_actor_mid_chunk_requeues_its_chunk(cluster, shared_data, reference, tmp_path):
    out = tmp_path / "run"
    proc = _start(cluster, run_args(shared_data, "--ray", "-o", str(out), "--replicas", "2", "--chunk-size", "1"))

    def busy_replica():
        if not samples(out):
            return None
        pids = cluster.actor_processes("EngineReplica", "generate")
        return pids[0] if pids else None

    victim = _wait_for(busy_replica, proc, what="a replica generating after the first sample")
    os.kill(victim, signal.SIGKILL)
    rc, _, err = _finish(proc)
    assert rc == 0, err[-3000:]
    assert "lost" in err and "re-queued" in err
    assert sample_set(out) == reference


def test_a_frozen_replica_does_not_hold_the_run(cluster, shared_data, reference, tmp_path):
    """A replica stopped (SIGSTOP) mid-chunk: its chunk goes to the other replica once the queue is empty."""
    out = tmp_path / "run"
    proc = _start(cluster, run_args(shared_data, "--ray", "-o", str(out), "--replicas", "2", "--chunk-size", "1"))
    frozen = _wait_for(lambda: samples(out) and (cluster.actor_processes("EngineReplica", "generate") or [None])[0],
                       proc, what="a replica generating")
    os.kill(frozen, signal.SIGSTOP)
    try:
        rc, _, err = _finish(proc)
    finally:
        if Path(f"/proc/{frozen}").exists():
            os.kill(frozen, signal.SIGCONT)
    assert rc == 0, err[-3000:]
    assert sample_set(out) == reference


def test_killing_the_driver_then_rerunning_resumes_every_cell(cluster, shared_data, smollm2_gguf, reference,
                                                              tmp_path):
    """Two checkpoints (two cells at once); SIGKILL to the driver; the same command resumes both, then skips them."""
    for step in (1, 2):
        (tmp_path / "ckpt" / f"step-{step}").mkdir(parents=True)
        (tmp_path / "ckpt" / f"step-{step}" / "model.gguf").symlink_to(smollm2_gguf)
    out = tmp_path / "sweep"
    args = run_args(shared_data, "--ray", "-o", str(out), "--chunk-size", "1", model=str(tmp_path / "ckpt" / "step-*"))
    cells = [out / "ckpt_step-1", out / "ckpt_step-2"]
    proc = _start(cluster, args)
    _wait_for(lambda: sum(len(samples(c)) for c in cells) >= 3, proc, what="three samples written")
    proc.kill()
    proc.wait()
    written = {c.name: len(samples(c)) for c in cells}
    assert 0 < sum(written.values()) < 2 * LIMIT, written  # the driver died mid-run
    rc, _, err = _finish(_start(cluster, args))
    assert rc == 0, err[-3000:]
    assert "resumed:" in err
    for cell in cells:
        assert sample_set(cell) == reference, cell
        assert (cell / "metrics.json").is_file()
    start = time.monotonic()
    rc, _, err = _finish(_start(cluster, args))
    assert rc == 0, err[-3000:]
    assert err.count("already complete, skipped") == 2
    assert not cluster.actor_processes("EngineReplica")  # nothing was started for finished cells
    assert time.monotonic() - start < 120


def test_a_replica_that_cannot_start_gives_one_line(cluster, shared_data, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)  # a GGUF header and nothing behind it
    rc, _, err = _finish(_start(cluster, run_args(shared_data, "--ray", "-o", str(tmp_path / "run"), "--replicas", "2",
                                                  model=str(broken))))
    assert rc == 2, err[-3000:]
    lines = error_lines(err)
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith("error: replica ") and " cannot start: " in lines[0] and "127.0.0.1" in lines[0]
    assert "Traceback" not in err


POOL_CHECK = r"""
import json, sys
from pathlib import Path
import benchmarks
from benchmarks.base import DataSource
from evalkit.distributed.code_pool import CodePool, compute_score, compute_score_batch
from evalkit.train.tasks import BenchmarkTask
from graders import rewards
from graders.code_grader import CodeGrader

data = Path(sys.argv[1])
bench = benchmarks.get("humaneval")
problems = bench.load(DataSource(data))[:3]
refs = bench.references(problems)
completions = [p.gold for p in problems] + ["def nothing():\n    return 0\n"] * 3
refs = refs + refs
pool = CodePool("auto")
remote = [(v.correct, v.reason, v.trust) for v in pool.grade_batch(completions, refs)]
local = [(v.correct, v.reason, v.trust) for v in CodeGrader().grade_batch(completions, refs)]
task = BenchmarkTask("humaneval", tokenizer=None, data_dir=data, chat=False, code_grader=pool)
golds = [e.gold for e in task.heldout_examples()[:3]] * 2
trainer = task.rewards(completions, golds)
verl = [compute_score("openai/gsm8k", "so the answer is #### 72", "72", ray_address="auto"),
        compute_score("math", "\\boxed{\\frac{1}{2}}", "0.5", ray_address="auto")]
verl_local = [rewards.compute_score("openai/gsm8k", "so the answer is #### 72", "72"),
              rewards.compute_score("math", "\\boxed{\\frac{1}{2}}", "0.5")]
sources, texts, golds = ["openai/gsm8k", "math", "gsm8k"], ["#### 72", "\\boxed{3}", "it is 5"], ["72", "4", "5"]
verl_batch = compute_score_batch(sources, texts, golds, ray_address="auto", wrong_reward=-1.0)
verl_batch_local = rewards.compute_score_batch(sources, texts, golds, wrong_reward=-1.0)
actors = [a for a in pool.actors()]
print(json.dumps({"remote": remote, "local": local, "trainer": trainer, "verl": verl, "verl_local": verl_local,
                  "verl_batch": verl_batch, "verl_batch_local": verl_batch_local, "actors": len(actors)}))
"""


def test_code_grading_pool_serves_run_trainer_and_verl(cluster, shared_data):
    """The cluster's pool gives the local sandbox's verdicts, as the trainer's rewards and as verl's score."""
    out = json.loads(cluster.python_plain(POOL_CHECK, str(shared_data)).strip().splitlines()[-1])
    assert out["remote"] == out["local"]
    assert [c for c, _, _ in out["remote"]] == [True] * 3 + [False] * 3
    assert out["trainer"] == [1.0] * 3 + [0.0] * 3
    assert out["verl"] == out["verl_local"] == [1.0, 1.0]
    assert out["verl_batch"] == out["verl_batch_local"] and out["verl_batch"][1] == -1.0  # reward kwargs pass on
    assert out["actors"] == 2  # one per node


def test_code_benchmark_on_ray_matches_local_grading(cluster, shared_data, tmp_path):
    """humaneval through --ray (graded on the pool's actors) equals regrading the same completions locally."""
    out = tmp_path / "run"
    rc, _, err = _finish(_start(cluster, run_args(shared_data, "--ray", "-o", str(out), "--replicas", "2",
                                                  benchmarks="humaneval")))
    assert rc == 0, err[-3000:]
    on_ray = {(r["problem_id"], r["sample_index"]): (r["correct"], r["reason"], r["trust"]) for r in samples(out)}
    assert len(on_ray) == LIMIT
    regraded = subprocess.run([EVALKIT, "grade", str(out)], capture_output=True, text=True, timeout=300)
    assert regraded.returncode == 0, regraded.stderr[-2000:]
    assert {(r["problem_id"], r["sample_index"]): (r["correct"], r["reason"], r["trust"]) for r in samples(out)} \
        == on_ray


PLACEMENT_CHECK = r"""
import json, time
from evalkit.distributed import cluster
cluster.connect("auto")
start = time.monotonic()
try:
    cluster.reserve_bundle({"CPU": 1, "GPU": 2}, 2.0, "replica 1 of 'x' (vllm)")
except cluster.ClusterError as exc:
    print(json.dumps({"error": str(exc), "seconds": time.monotonic() - start}))
"""


def test_a_placement_group_that_cannot_be_met_fails_with_one_line(cluster):
    """TP > 1 reserves its GPUs through a placement group with a deadline, never waiting forever."""
    out = json.loads(cluster.python(PLACEMENT_CHECK).strip().splitlines()[-1])
    assert out["error"].startswith("could not reserve CPU 1, GPU 2 on one node for replica 1 of 'x' (vllm) within 2 s")
    assert "127.0.0.1" in out["error"] and "\n" not in out["error"]
    assert out["seconds"] < 30


def test_bad_addresses_and_settings_give_one_line(cluster, shared_data, tmp_path):
    done = cluster.run([EVALKIT, *run_args(shared_data, "--ray", "127.0.0.1:9", "-o", str(tmp_path / "a"))],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, err = done.communicate(timeout=300)
    assert done.returncode == 2 and error_lines(err)[0].startswith("error: cannot connect to the Ray cluster at "
                                                                  "127.0.0.1:9"), err[-2000:]
    assert len(error_lines(err)) == 1 and "Traceback" not in err
    rc, _, err = _finish(_start(cluster, run_args(shared_data, "--ray", "-o", str(tmp_path / "b"), "--engine", "vllm")))
    assert rc == 2 and error_lines(err) == ["error: --engine vllm needs GPUs, and no node of the cluster has one; use "
                                            "--engine llamacpp or hf"], err[-2000:]


def test_ray_local_starts_its_own_cluster(cluster, shared_data, reference, tmp_path):
    """--ray local (and --ray without RAY_ADDRESS) runs on a cluster of its own, started and stopped by the driver."""
    out = tmp_path / "run"
    env = {k: v for k, v in cluster.env().items() if k != "RAY_ADDRESS"}
    proc = cluster.run([EVALKIT, *run_args(shared_data, "--ray", "-o", str(out))], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rc, _, err = _finish(proc)
    assert rc == 0, err[-3000:]
    assert sample_set(out) == reference


def test_stopping_the_second_node_mid_run_completes_on_the_head(cluster, shared_data, reference, tmp_path):
    out = tmp_path / "run"
    proc = _start(cluster, run_args(shared_data, "--ray", "-o", str(out), "--replicas", "2", "--chunk-size", "1"))

    def replica_busy_on_node_2():
        return samples(out) and any(cluster.node_of_pid(p) == 1
                                    for p in cluster.actor_processes("EngineReplica", "generate"))

    _wait_for(replica_busy_on_node_2, proc, what="a replica generating on the second node")
    try:
        cluster.stop_node(1, abrupt=True)
        rc, _, err = _finish(proc)
        assert rc == 0, err[-3000:]
        assert "lost" in err
        assert sample_set(out) == reference
    finally:
        cluster.start_node(1)
        cluster.wait_for_nodes(2)
