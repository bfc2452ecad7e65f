"""Fixtures of the viewer tests: real run directories (built once per session) and a server over them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from view_runs import build_code_run, build_math_runs, build_train_run


@pytest.fixture(scope="session")
def view_root(tmp_path_factory, shared_data) -> Path:
    """A folder whose runs/ holds three MATH runs (one with hostile samples) and a training run."""
    root = tmp_path_factory.mktemp("view")
    build_math_runs(shared_data, root)
    build_train_run(root)
    return root


@pytest.fixture(scope="session")
def code_run(tmp_path_factory, shared_data) -> Path:
    """A HumanEval+ run graded in the sandbox (skips where bubblewrap cannot run)."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap); the code run needs the sandbox")
    import sandbox

    sandbox.require_isolation()
    root = tmp_path_factory.mktemp("view-code")
    mp = pytest.MonkeyPatch()
    mp.setenv("EVALKIT_CACHE_DIR", str(root / "cache"))
    try:
        return build_code_run(shared_data, root)
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def server(view_root: Path, code_run_or_none) -> Iterator:
    """The viewer serving view_root/runs (and the code run when the sandbox is available) on a free port."""
    from reports.view.discover import discover
    from reports.view.server import start

    args = [str(view_root / "runs")] + ([str(code_run_or_none)] if code_run_or_none else [])
    running = start(discover(args), port=0)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def code_run_or_none(request) -> Path | None:
    try:
        return request.getfixturevalue("code_run")
    except pytest.skip.Exception:
        return None
