"""Fixtures for the grader tests: the shared real data, skipped cleanly when absent."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = Path(os.environ.get("EVALKIT_SHARED_DATA", "/work/shared/data"))
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set EVALKIT_SHARED_DATA)")
    return path
