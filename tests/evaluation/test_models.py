"""Model specs and engine choice: what --model may name and what --engine auto picks."""

from __future__ import annotations

from pathlib import Path

import pytest

import evalkit.engines as engines
from evalkit.models import ModelSpecError, ResolvedModel, resolve_model


def test_local_gguf_file_and_directory(tmp_path: Path):
    gguf = tmp_path / "m.Q4.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model(str(gguf)).gguf_file == str(gguf.resolve())
    assert resolve_model(str(tmp_path)).gguf_file == str(gguf.resolve())  # a directory holding one GGUF


def test_hf_checkpoint_directory_has_step(tmp_path: Path):
    ckpt = tmp_path / "out" / "step-120"
    ckpt.mkdir(parents=True)
    (ckpt / "config.json").write_text("{}")
    model = resolve_model(str(ckpt))
    assert model.gguf_file is None and model.checkpoint_step == 120 and model.name == "out/step-120"


@pytest.mark.parametrize("spec, message", [
    ("./missing/dir", "model not found"),
    ("weights.gguf", "model not found"),
    ("not a hub id", "model not found"),
])
def test_bad_specs(spec: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelSpecError, match=message):
        resolve_model(spec)


def test_non_gguf_file_and_empty_directory(tmp_path: Path):
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelSpecError, match="not a .gguf file"):
        resolve_model(str(tmp_path / "weights.bin"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSpecError, match="has no config.json"):
        resolve_model(str(tmp_path / "empty"))


def test_hub_id_is_kept_as_is():
    model = resolve_model("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert not model.is_local and model.path == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize("installed, gpu, gguf, expected", [
    ({"vllm", "llama_cpp"}, True, False, "vllm"),
    ({"vllm", "llama_cpp"}, False, False, "hf"),
    ({"llama_cpp"}, False, True, "llamacpp"),
    (set(), False, True, "hf"),
    ({"vllm"}, True, True, "hf"),  # vLLM's GGUF support is partial: a GGUF goes to llama.cpp or hf
])
def test_auto_engine_choice(installed, gpu, gguf, expected, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(engines, "_has", lambda module: module in installed)
    monkeypatch.setattr(engines, "_gpu_available", lambda: gpu)
    model = ResolvedModel(spec="m", path="m", name="m", gguf_file="m.gguf" if gguf else None)
    assert engines.choose_engine("auto", model) == expected
    assert engines.choose_engine("hf", model) == "hf"
