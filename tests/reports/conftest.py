"""Fixtures of the report tests: a factory of constructed run directories under tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from report_runs import Item, write_run


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    """write_run under tmp_path/<dirname>."""
    def make(dirname: str, data: Mapping[str, Mapping[str, Item]], **kwargs: Any) -> Path:
        return write_run(tmp_path / dirname, data, **kwargs)
    return make
