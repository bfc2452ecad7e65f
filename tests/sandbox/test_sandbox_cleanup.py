"""Issue 12, class 3: one sample's leftovers never touch another sample's verdict.

Before issue 12 a candidate that built a 3000-deep tree (and held 64 MB so that it died slowly) made the
worker's `rmtree` raise RecursionError and kill the worker, so the next problem's canonical solution was
graded `error`. Now each candidate's files live on a tmpfs of its own that the kernel frees with it, so
there is nothing to clean; where those namespaces cannot be made (unsafe mode without root) the worker
removes scratch trees itself, iteratively and through permission traps (`_worker.remove_tree`), and a
worker that dies fails only the job it was running.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

import sandbox
from sandbox._worker import remove_tree
from sandbox.isolation import resolve
from sandbox.pool import Pool

sys.path.insert(0, str(Path(__file__).parent))
from hostile import CLEANUP_TRAPS, CONTEXT, HONEST_ADD, TEST  # noqa: E402


@pytest.fixture(scope="module")
def canonical(shared_data) -> list[dict]:
    with gzip.open(shared_data / "humaneval" / "HumanEval.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f][:3]
    return [{"solution": r["prompt"] + r["canonical_solution"], "test": f"{r['test']}\ncheck({r['entry_point']})\n",
             "entry_point": r["entry_point"], "context": r["prompt"]} for r in rows]


def _run(pool: Pool, jobs: list[dict]) -> list[sandbox.ExecResult]:
    return [sandbox._result(r, True) for r in pool.run([sandbox._wire_job(j) for j in jobs], 1)]


@pytest.mark.parametrize("namespaces", [True, False], ids=["own-tmpfs", "scratch-directories"])
@pytest.mark.parametrize("name", sorted(CLEANUP_TRAPS))
def test_the_next_problems_canonical_solution_passes_after_a_cleanup_trap(isolated, canonical, name, namespaces):
    pool = Pool(resolve(), 1, layers={"namespaces": namespaces})
    lister = ("import os\ndef ls():\n    return sorted(os.listdir('/tmp'))\n")
    try:
        trap = {"solution": CLEANUP_TRAPS[name], "test": TEST, "entry_point": "add", "context": CONTEXT,
                "timeout_s": 30.0}
        results = _run(pool, [trap, *canonical, {"solution": lister, "test": "raise ValueError(ls())",
                                                 "entry_point": "ls"}])
    finally:
        pool.close()
    assert results[0].passed, results[0]
    assert all(r.passed for r in results[1:-1]), results
    seen = results[-1].detail  # what a later candidate finds in /tmp: nothing of the trap
    assert seen == "ValueError: []" if namespaces else seen.count("job-") == 1, seen


def test_remove_tree_deletes_any_depth_without_following_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("intact")
    top = tmp_path / "scratch"
    top.mkdir()
    cwd = os.getcwd()
    try:
        os.chdir(top)
        for i in range(3000):  # deeper than PATH_MAX allows to name
            os.mkdir("d")
            os.chdir("d")
            Path("f").write_text("x")
            os.chmod("f", 0)
            if i % 700 == 0:
                os.symlink(outside, "link")
                os.symlink(".", "loop")
        for i in range(3000):
            os.chdir("..")
            if i % 3 == 0:
                os.chmod("d", 0)
    finally:
        os.chdir(cwd)
    assert remove_tree(str(top))
    assert not top.exists()
    assert (outside / "keep").read_text() == "intact"
    assert remove_tree(str(top))  # already gone: nothing to do


def test_a_worker_that_dies_fails_only_the_job_it_was_running(isolated):
    pool = Pool(resolve(), 1)
    slow = {"solution": "import time\ndef add(a, b):\n    time.sleep(3)\n    return a + b\n", "test": TEST,
            "entry_point": "add", "context": CONTEXT}
    honest = {"solution": HONEST_ADD, "test": TEST, "entry_point": "add", "context": CONTEXT}
    try:
        worker = pool._acquire()
        pool._release(worker)
        killer = threading.Timer(1.0, worker.proc.kill)
        killer.start()
        start = time.monotonic()
        died, *rest = _run(pool, [slow, honest, honest])
        killer.join()
    finally:
        pool.close()
    assert died.status == "error" and "stopped answering" in died.detail, died
    assert all(r.passed for r in rest), rest
    assert time.monotonic() - start < 10
