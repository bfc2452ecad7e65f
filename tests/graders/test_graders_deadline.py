"""The deadline pool: results and exceptions come back, overruns are killed and replaced on time."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from graders.deadline import DeadlineExceeded, DeadlinePool, WorkerCrashed


@pytest.fixture(scope="module")
def pool():
    pool = DeadlinePool(2, preload=("graders_pool_tasks",), memory_limit_mb=1024)
    pool.warm_up()
    yield pool
    pool.close()


def test_results_and_exceptions_come_back(pool):
    import graders_pool_tasks as pool_tasks

    assert pool.call(pool_tasks.add, (2, 3), timeout_s=5) == 5
    with pytest.raises(ZeroDivisionError):
        pool.call(pool_tasks.divide, (1, 0), timeout_s=5)
    assert pool.call(pool_tasks.worker_pid, (), timeout_s=5) != os.getpid()


def test_overrun_is_killed_on_time_and_the_worker_replaced(pool):
    import graders_pool_tasks as pool_tasks

    kills = pool.kills
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        pool.call(pool_tasks.spin, (), timeout_s=0.3)
    assert time.monotonic() - start < 0.6
    assert pool.kills == kills + 1
    start = time.monotonic()
    assert pool.call(pool_tasks.add, (1, 1), timeout_s=5) == 2
    assert time.monotonic() - start < 0.5  # forked from the warm zygote, not a fresh interpreter


def test_memory_runaway_ends_in_the_worker_not_the_host(pool):
    import graders_pool_tasks as pool_tasks

    with pytest.raises((MemoryError, WorkerCrashed)):
        pool.call(pool_tasks.allocate, (4096,), timeout_s=5)
    assert pool.call(pool_tasks.add, (1, 2), timeout_s=5) == 3


def test_calls_from_many_threads(pool):
    import graders_pool_tasks as pool_tasks

    with ThreadPoolExecutor(max_workers=6) as executor:
        out = list(executor.map(lambda i: pool.call(pool_tasks.add, (i, i), timeout_s=5), range(30)))
    assert out == [2 * i for i in range(30)]


def test_pool_size_must_be_positive():
    with pytest.raises(ValueError):
        DeadlinePool(0)
