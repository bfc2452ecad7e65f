"""Issue 12, class 4: a candidate's memory limit counts everything it can allocate; nothing outlives it.

RLIMIT_AS counts only the address space. Each hoard of hostile.MEMORY_HOARDS tries to hold 1.5 x its
limit where RLIMIT_AS does not look (SysV segments it detaches, memfd pages it never maps, tmpfs files)
and adds correctly only if it managed to. Before issue 12 the SysV and tmpfs hoards passed, and SysV
segments stayed allocated after the sample. Now the SysV and memfd paths are closed, the candidate's
tmpfs is its own and small, and its worker's memory cgroup counts all of it, including kernel memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sandbox
from sandbox import _cgroup
from sandbox.isolation import resolve
from sandbox.pool import Pool

sys.path.insert(0, str(Path(__file__).parent))
from hostile import CONTEXT, HONEST_ADD, MEMORY_HOARDS, TEST  # noqa: E402

LIMIT_MB = 128


def _job(solution: str, memory_mb: int = LIMIT_MB) -> dict:
    return {"solution": solution, "test": TEST, "entry_point": "add", "context": CONTEXT, "timeout_s": 10.0,
            "memory_mb": memory_mb}


def _run(pool: Pool, jobs: list[dict]) -> list[sandbox.ExecResult]:
    return [sandbox._result(r, True) for r in pool.run([sandbox._wire_job(j) for j in jobs], 1)]


@pytest.fixture
def pool(isolated):
    pool = Pool(resolve(), 1)
    yield pool
    pool.close()


def _usage_bytes(pool: Pool) -> int | None:
    worker = pool._idle.queue[0]
    if worker.cgroup is None:
        return None
    name = "memory.usage_in_bytes" if worker.cgroup.version == 1 else "memory.current"
    return int((worker.cgroup.path / name).read_text())


@pytest.mark.parametrize("name", sorted(MEMORY_HOARDS))
def test_memory_outside_the_address_space_is_still_limited_and_freed(pool, name):
    # a candidate that uses 0.8 x its limit afterwards: it fails if anything of the hoard was left
    megabytes = LIMIT_MB * 8 // 10 - 30  # minus the interpreter itself
    use_most = (f"def add(a, b):\n    block = bytearray({megabytes} << 20)\n"
                "    block[::4096] = b'x' * len(block[::4096])\n    return a + b\n")
    hoard, after = _run(pool, [_job(MEMORY_HOARDS[name]), _job(use_most)])
    assert not hoard.passed, f"{name}: the candidate held 1.5 x its memory limit"
    assert after.passed, after
    usage = _usage_bytes(pool)
    if usage is not None:
        assert usage < 32 << 20, f"{usage >> 20} MB still charged to the worker's memory cgroup"


def test_the_memory_cgroup_counts_tmpfs_and_kills_only_the_candidate(pool):
    if _cgroup.parent_group() is None:
        pytest.skip("no memory cgroup can be created here (needs root and a writable memory hierarchy)")
    files_then_heap = (  # 60 MB of tmpfs files and a 45 MB heap: within RLIMIT_AS, past the 96 MB cgroup limit
        "for i in range(4):\n    with open(f'f{i}', 'wb') as f:\n        f.write(b'x' * (15 << 20))\n"
        "def add(a, b):\n    block = bytearray(45 << 20)\n    block[::4096] = b'y' * len(block[::4096])\n"
        "    return a + b\n")
    killed, honest = _run(pool, [_job(files_then_heap, memory_mb=96), _job(HONEST_ADD, memory_mb=96)])
    assert killed.status == "failed" and "memory limit (96 MB) was exceeded" in killed.detail, killed
    assert honest.passed, honest
    assert pool._idle.queue[0].info["memory_cgroup"] is True
