"""Issue 12, class 1: nothing one candidate does is visible to any later (or concurrent) candidate.

Each channel of hostile.CHANNELS is a pair: an honest writer that leaves a mark through one kernel
mechanism, then a reader that adds correctly only if it finds the mark. Both run on the same worker,
one after the other, as samples of one problem do; the reader must fail. Against the sandbox before
issue 12, SysV shared memory, message queues, semaphores, the pid counter, /proc, flock, fcntl locks
and inotify all carried the mark.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sandbox

sys.path.insert(0, str(Path(__file__).parent))
from hostile import CHANNELS, CONCURRENT_CHANNELS, CONTEXT, HONEST_ADD, TEST  # noqa: E402


def _job(solution: str, **extra: object) -> dict:
    return {"solution": solution, "test": TEST, "entry_point": "add", "context": CONTEXT, "timeout_s": 5.0, **extra}


@pytest.fixture(scope="module")
def sequential(isolated):
    jobs = [_job(code) for writer, reader in CHANNELS.values() for code in (writer, reader)]
    results = sandbox.run_many(jobs, workers=1)  # one worker: every reader runs right after its writer
    return {name: (results[2 * i], results[2 * i + 1]) for i, name in enumerate(CHANNELS)}


@pytest.mark.parametrize("name", sorted(CHANNELS))
def test_a_later_candidate_cannot_read_what_an_earlier_one_left(sequential, name):
    writer, reader = sequential[name]
    assert writer.passed, writer  # the writer is honest: its mark-making did not break it
    assert not reader.passed, f"{name} carried state from one sample to the next"


@pytest.mark.parametrize("name", sorted(CONCURRENT_CHANNELS))
def test_concurrent_candidates_cannot_signal_each_other(isolated, name):
    holder, observer = CONCURRENT_CHANNELS[name]
    held, observed = sandbox.run_many([_job(holder), _job(observer)], workers=2)  # at the same time
    assert held.passed, held
    assert not observed.passed, f"{name} carried a signal between concurrent samples"


def test_each_candidate_starts_in_an_empty_world(isolated):
    """pid 1 of its own pid namespace, a /proc that shows only itself, an empty private /tmp, and no
    directory it may write to but that /tmp (it walks the whole file system to check)."""
    probe = (
        "import os\n"
        "def probe():\n"
        "    writable = []\n"
        "    for root, dirs, files in os.walk('/'):\n"
        "        dirs[:] = [d for d in dirs if os.path.join(root, d) not in ('/proc', '/sys')]\n"
        "        if os.access(root, os.W_OK):\n"
        "            writable.append(root)\n"
        "    own = os.stat('/tmp')\n"
        "    return [os.getpid(), os.getppid(), sorted(os.listdir('/proc')), os.listdir('/tmp'), writable,\n"
        "            own.st_uid == os.getuid(), oct(own.st_mode & 0o777), os.getcwd(), os.environ['HOME']]\n"
    )
    expected = [1, 0, ["1", "self", "thread-self"], [], ["/tmp"], True, "0o700", "/tmp", "/tmp"]
    test = f"assert probe() == {expected!r}\n"
    results = sandbox.run_many([{"solution": probe, "test": test, "entry_point": "probe"}] * 3, workers=1)
    assert all(r.passed for r in results), results


def test_the_judge_draws_the_same_random_inputs_whatever_ran_before(isolated):
    """Tests that draw inputs with `random` (HumanEval/53) run in the long-lived judge: its state is reset
    per job, so no earlier sample can steer a later one's inputs (and verdicts do not depend on order)."""
    test = "import random\nfor _ in range(5):\n    x = random.randint(0, 10 ** 6)\n    assert f(x) == x + 1\n"
    reveal = "def f(x):\n    raise ValueError(f'first input {x}')\n"
    consume = {"solution": HONEST_ADD, "test": "import random\nrandom.random()\nassert add(1, 2) == 3\n",
               "entry_point": "add"}
    first, _, second, _, third = sandbox.run_many(
        [{"solution": reveal, "test": test, "entry_point": "f"}, consume,
         {"solution": reveal, "test": test, "entry_point": "f"}, consume,
         {"solution": reveal, "test": test, "entry_point": "f"}], workers=1)
    assert "first input" in first.detail
    assert first.detail == second.detail == third.detail
