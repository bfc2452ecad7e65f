"""The command line: help for every flag, and one clear line with exit code 2 for each bad input."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_help_lists_every_run_flag():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.output)
    for flag in ("--model", "--benchmarks", "--engine", "--n", "--temperature", "--top-p", "--max-tokens",
                 "--limit", "--seed", "--num-fewshot", "--data-dir", "--output", "--no-chat-template",
                 "--system-prompt", "--base-url", "--tensor-parallel-size", "--max-model-len", "--threads",
                 "--unsafe-code-exec"):
        assert flag in text, flag


def test_list_shows_math_benchmarks():
    result = invoke("list")
    assert result.exit_code == 0
    for name in ("gsm8k", "math", "math500"):
        assert name in result.output


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data" / "gsm8k"
    d.mkdir(parents=True)
    (d / "test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    return tmp_path / "data"


BAD_INPUTS = {
    "unknown benchmark": (["--benchmarks", "gsm9k"], "unknown benchmark 'gsm9k'; did you mean 'gsm8k'?"),
    "missing model path": (["--model", "./no/such/model"], "model not found"),
    "n zero": (["--n", "0"], "--n must be at least 1"),
    "greedy n": (["--n", "4"], "identical greedy samples"),
    "bad engine": (["--engine", "tpu"], "--engine 'tpu' is not one of"),
    "bad top-p": (["--top-p", "0"], "--top-p must be in"),
    "bad limit": (["--limit", "0"], "--limit must be at least 1"),
    "bad threads": (["--threads", "0"], "--threads must be at least 1"),
    "fewshot over pool": (["--num-fewshot", "3"], "train.jsonl"),
    "missing data dir": (["--data-dir", "/no/such/dir"], "--data-dir /no/such/dir is not a directory"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case: str, data_dir: Path, tmp_path: Path):
    extra, expected = BAD_INPUTS[case]
    out = tmp_path / "out"
    args = ["run", "--model", "./missing.gguf", "--data-dir", str(data_dir), "--output", str(out)]
    if "--model" in extra:
        args = ["run", "--data-dir", str(data_dir), "--output", str(out)]
    elif case != "missing data dir":
        args[2] = str(_fake_gguf(tmp_path))
    result = runner.invoke(app, args + extra)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert expected in message
    assert message.startswith("error:") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()


def _fake_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_malformed_data_file_names_the_line(tmp_path: Path):
    d = tmp_path / "data" / "gsm8k"
    d.mkdir(parents=True)
    (d / "test.jsonl").write_text('{"question": "1+1?", "answer": "#### 2"}\n{"question": oops}\n')
    out = tmp_path / "out"
    result = invoke("run", "--model", str(_fake_gguf(tmp_path)), "--data-dir", str(tmp_path / "data"),
                    "--output", str(out))
    assert result.exit_code == 2
    assert "malformed JSON at" in result.output and "test.jsonl:2" in " ".join(result.output.split()).replace(" ", "")
    assert not out.exists()


def test_missing_local_file_explains_both_fixes(tmp_path: Path):
    (tmp_path / "data").mkdir()
    result = invoke("run", "--model", str(_fake_gguf(tmp_path)), "--benchmarks", "math500",
                    "--data-dir", str(tmp_path / "data"), "--output", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "data file not found" in result.output and "EVALKIT_DATA_DIR" in " ".join(result.output.split())


def test_offline_hub_error_names_both_ways_to_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("EVALKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    result = invoke("run", "--model", str(_fake_gguf(tmp_path)), "--benchmarks", "math500",
                    "--output", str(tmp_path / "out"))
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "Hugging Face hub" in text and "--data-dir" in text and "EVALKIT_DATA_DIR" in text


def test_grade_on_a_non_run_directory(tmp_path: Path):
    result = invoke("grade", str(tmp_path))
    assert result.exit_code == 2 and "not a run directory" in result.output


def test_many_checkpoints_by_glob_are_sorted_by_step(tmp_path: Path):
    from evalkit.cli import _model_dir_name, expand_models

    for step in (100, 20, 3):
        (tmp_path / f"step-{step}").mkdir()
    found = expand_models([str(tmp_path / "step-*"), "smollm2-135m"])
    assert [Path(p).name for p in found[:3]] == ["step-3", "step-20", "step-100"] and found[3] == "smollm2-135m"
    assert _model_dir_name(found[0]) == f"{tmp_path.name}_step-3"
    result = invoke("run", "--model", str(tmp_path / "nothing-*"))
    assert result.exit_code == 2 and "matched no path" in result.output


def test_code_benchmark_without_sandbox_is_refused_before_anything_runs(tmp_path: Path, monkeypatch):
    pytest.importorskip("sandbox.isolation")
    monkeypatch.setattr("sandbox.isolation.shutil.which", lambda name: None)
    monkeypatch.delenv("EVALKIT_UNSAFE_CODE_EXEC", raising=False)
    out = tmp_path / "out"
    result = invoke("run", "--model", str(_fake_gguf(tmp_path)), "--benchmarks", "humaneval", "--output", str(out))
    assert result.exit_code == 2 and "bubblewrap" in result.output and not out.exists()
    # With the explicit opt-in the refusal is lifted (the fake model then fails to load: still exit 2, no files).
    result = invoke("run", "--model", str(_fake_gguf(tmp_path)), "--benchmarks", "humaneval", "--output", str(out),
                    "--unsafe-code-exec")
    assert "bubblewrap" not in result.output and not out.exists()
    assert "EVALKIT_UNSAFE_CODE_EXEC" not in os.environ  # the opt-in is an argument, never written to the environment
