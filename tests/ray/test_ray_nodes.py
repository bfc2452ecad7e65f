"""A cluster whose second node is misconfigured: it cannot see the checkpoints, and it has no bubblewrap.

The second node's `ray start` runs under bwrap with its own mount namespace, where a tmpfs hides the
checkpoint directory and /dev/null stands in for the bwrap binary: exactly a node that lacks the shared
filesystem and the sandbox package. Each problem must stop the sweep before any work with one line naming
the node.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_cluster import LocalCluster
from ray_helpers import EVALKIT, error_lines, run_args, two_nodes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Path:
    """A checkpoint directory the second node cannot see."""
    directory = tmp_path_factory.mktemp("hidden")
    (directory / "model.gguf").symlink_to(smollm2_gguf)
    return directory


@pytest.fixture(scope="module")
def bad_cluster(hidden: Path) -> Iterator[LocalCluster]:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bubblewrap is not installed (tests/install_and_run.sh installs it)")
    mask = [bwrap, "--dev-bind", "/", "/", "--tmpfs", str(hidden), "--ro-bind", "/dev/null", bwrap, "--"]
    yield from two_nodes(wrappers=[[], mask])


def _run(cluster: LocalCluster, args: list[str]) -> subprocess.CompletedProcess:
    proc = cluster.run([EVALKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_checkpoint_one_node_cannot_see_is_refused_before_launch(bad_cluster, shared_data, hidden, tmp_path):
    done = _run(bad_cluster, run_args(shared_data, "--ray", "-o", str(tmp_path / "run"),
                                      model=str(hidden / "model.gguf")))
    assert done.returncode == 2, done.stderr[-3000:]
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert lines[0].startswith(f"error: checkpoint {hidden / 'model.gguf'} does not exist on node 127.0.0.1")
    assert "shared filesystem" in lines[0]
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_a_node_without_bubblewrap_fails_code_grading_loudly(bad_cluster, shared_data, tmp_path):
    done = _run(bad_cluster, run_args(shared_data, "--ray", "-o", str(tmp_path / "run"), benchmarks="humaneval"))
    assert done.returncode == 2, done.stderr[-3000:]
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert lines[0].startswith("error: code-grading actor on node 127.0.0.1")
    assert "cannot start: refusing to execute model-written code without isolation: install bubblewrap" in lines[0]
