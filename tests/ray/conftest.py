"""Fixtures of the Ray tests: a real two-node local cluster, the small real model, and a reference run.

The cluster (`local_cluster.LocalCluster`) is a head and a second node started with `ray start` on
127.0.0.1 inside a private network namespace, CPU-only, one logical CPU each (so two replicas spread
one per node), and is stopped at the end of each module even when a test fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_cluster import LocalCluster
from ray_helpers import EVALKIT, LIMIT, run_args, sample_set, two_nodes


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    yield from two_nodes()


@pytest.fixture(scope="session")
def reference(shared_data: Path, smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The undisturbed sample set: plain `evalkit run` (no Ray), one llama.cpp thread, as each replica runs."""
    out = tmp_path_factory.mktemp("reference") / "run"
    done = subprocess.run([EVALKIT, *run_args(shared_data, "--threads", "1", "-o", str(out))], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    found = sample_set(out)
    assert len(found) == LIMIT
    return found
