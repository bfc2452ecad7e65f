"""Fixtures for the sandbox tests: skip cleanly where the isolation layer cannot run."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def isolated() -> None:
    """Tests that execute code need bubblewrap (CI installs it: apt-get install bubblewrap)."""
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    import sandbox

    sandbox.require_isolation()  # raises IsolationUnavailable when bwrap cannot create namespaces here
