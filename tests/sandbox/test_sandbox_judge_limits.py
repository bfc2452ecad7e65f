"""Issue 12, class 5: the trusted judge has limits of its own, and exceeding one fails only that sample.

The judge runs the benchmark's test on the candidate's *values*. Each bomb of hostile.JUDGE_BOMBS makes
that work explode: `range(10**8)` a test sorts, 60 MB of empty sets, hash floods (as a set, or as a list
the test turns into one), a 10-million-bit int, a number the test loops over in Python, a string the
test repeats 10**9 times, and a computation stuck inside one C call. Before issue 12 these took the
judge to 7.6 GB, or kept it busy until the worker was killed at 50 s. Now each fails quickly, its
reason names the limit, and the next sample on the same worker passes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import sandbox
from sandbox import _codec

sys.path.insert(0, str(Path(__file__).parent))
from hostile import HONEST_ADD, JUDGE_BOMBS  # noqa: E402

NEXT = {"solution": HONEST_ADD, "test": "assert add(1, 2) == 3\n", "entry_point": "add"}
#: name -> what the reason must say
LIMITS = {
    "range_materialised_by_the_test": "too many items",
    "ten_million_empty_sets": "limit 8388608",
    "hash_colliding_set": "hash flood",
    "hash_colliding_list_made_a_set_by_the_test": "hash flood",
    "huge_int": "integer longer than",
    "python_level_work_on_a_returned_number": "judge's deadline",
    "memory_of_the_judge": "judge's memory limit",
}


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_a_sample_that_overworks_the_judge_fails_naming_the_limit(isolated, name):
    solution, test = JUDGE_BOMBS[name]
    start = time.monotonic()
    bomb, after = sandbox.run_many([{"solution": solution, "test": test, "entry_point": "f", "timeout_s": 2.0},
                                    NEXT], workers=1)
    elapsed = time.monotonic() - start
    assert bomb.status == "failed" and bomb.detail.startswith(("judge limit", "input")), bomb
    assert LIMITS[name] in bomb.detail, bomb
    assert elapsed < 2.0 + 1.0 + 3.0, f"{name} kept the judge busy for {elapsed:.1f} s"
    assert after.passed, after


def test_work_stuck_in_one_c_call_stops_the_worker_and_fails_only_that_sample(isolated):
    """No signal handler runs inside one C call; the host stops the worker at the job's deadline plus the
    judge's grace, and the next job gets a fresh worker."""
    solution, test = JUDGE_BOMBS["c_level_work_on_a_returned_number"]
    start = time.monotonic()
    before, stuck, after = sandbox.run_many(
        [NEXT, {"solution": solution, "test": test, "entry_point": "f", "timeout_s": 1.0, "allow_inproc": False},
         NEXT], workers=1)
    assert before.passed and after.passed
    assert stuck.status == "failed" and "judge limit: no verdict within" in stuck.detail, stuck
    assert time.monotonic() - start < 20


def test_decoding_counts_ranges_refuses_hash_floods_and_huge_ints():
    with pytest.raises(_codec.TooLarge):
        _codec.decode(["r", 0, 10**8, 1], max_items=1_000_000)
    assert _codec.decode(["r", 0, 10, 1], max_items=100) == range(10)
    flood = ["s", *[k * (2**61 - 1) for k in range(1, 100)]]
    with pytest.raises(_codec.HashFlood):
        _codec.decode(flood)
    assert _codec.decode(["l", *[0] * 5000]) == [0] * 5000  # equal members are no flood
    assert len(_codec.decode(["s", *range(5000)])) == 5000
    with pytest.raises(_codec.TooLarge):
        _codec.decode(["x", "f" * (_codec.MAX_INT_BITS // 4 + 1)])
    with pytest.raises(_codec.TooLarge):
        _codec.decode(["l", *[["s"]] * 11], max_items=10)
