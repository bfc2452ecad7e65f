"""The benchmark tests register benchmark files (their names are process-wide, as in a long-running session);
each test's registrations are undone after it, so later tests see only the built-in benchmarks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import benchmarks


@pytest.fixture(autouse=True)
def restore_benchmark_registry() -> Iterator[None]:
    targets = dict(benchmarks.BENCHMARKS._targets)
    files = dict(benchmarks._FILES)
    yield
    benchmarks.BENCHMARKS._targets.clear()
    benchmarks.BENCHMARKS._targets.update(targets)
    benchmarks._FILES.clear()
    benchmarks._FILES.update(files)
