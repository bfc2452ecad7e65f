"""`evalkit train`: config files, flags over files, one-line usage errors, and checkpoints `evalkit run` evaluates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.errors import UsageError
from evalkit.train.command import parse_loss_options
from evalkit.train.config import TrainConfig

runner = CliRunner()


def cli(*args: str):
    from evalkit.cli import app

    return runner.invoke(app, list(args))


def test_toml_and_json_configs_read_the_same(tmp_path: Path):
    toml = tmp_path / "c.toml"
    toml.write_text('algo = "mpo"\nsteps = 7\n[loss]\nk = 3\nweights = "uniform"\n')
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"algo": "mpo", "steps": 7, "loss": {"k": 3, "weights": "uniform"}}))
    a, b = TrainConfig.from_file(toml), TrainConfig.from_file(js)
    assert a == b and a.loss == {"k": 3, "weights": "uniform"}
    a.resolved()


@pytest.mark.parametrize("text,match", [
    ('algo = "grpo"\nstep = 3\n', "unknown setting"),
    ('algo = "mpo"\n[loss]\nK = 3\n', "unknown mpo loss option"),
    ('algo = "nope"\n', "not one of"),
    ('algo = "grpo"\ngroup_size = 1\n', "group-size must be >= 2 for grpo"),
    ('group_size = 1\n', "group-size must be >= 2"),
    ('temperature = 0.0\n', "temperature must be > 0"),
    ('algo = "grpo"\nsteps = \n', "not valid TOML"),
])
def test_bad_settings_are_usage_errors(tmp_path: Path, text: str, match: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=match):
        TrainConfig.from_file(path).resolved()


def test_algorithm_defaults_resolve():
    assert TrainConfig(algo="dr_grpo").resolved().scale_rewards == "none"
    assert TrainConfig(algo="dapo").resolved().dynamic_sampling is True
    assert TrainConfig(algo="grpo").resolved().dynamic_sampling is False
    assert TrainConfig(algo="dapo", dynamic_sampling=False).resolved().dynamic_sampling is False


def test_loss_options_parse_numbers_booleans_and_strings():
    assert parse_loss_options(["k=3", "beta=0.0", "weights=future:0.3", "x=true"]) == \
        {"k": 3, "beta": 0.0, "weights": "future:0.3", "x": True}
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_loss_options(["k"])


def test_help_lists_every_train_flag():
    result = cli("train", "--help")
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.output)
    for flag in ("--algo", "--model", "--benchmarks", "--steps", "--n", "--data-dir", "--output", "--config",
                 "--epochs", "--minibatches", "--loss-option", "--dynamic-sampling", "--eval-every", "--rollout-engine",
                 "--vllm-gpu-memory", "--vllm-max-model-len", "--vllm-sleep", "--mtp-warmup-steps", "--mtp-init"):
        assert flag in text, flag


@pytest.mark.parametrize("args,match", [
    (["--algo", "nope"], "is not one of"),
    (["--algo", "mpo", "--mtp-warmup-steps", "3"], "future=mtp"),
    (["--algo", "ppo", "--loss-option", "critic=shared"], "critic must be"),
    (["--loss-option", "k=3"], "unknown grpo loss option"),
    (["--config", "/no/such.toml"], "not found"),
    (["--model", "./no/such/model", "--steps", "1"], "model not found"),
    (["--rollout-engine", "vllm"], "use --device cuda"),
    (["--rollout-engine", "vllm", "--device", "cuda", "--vllm-gpu-memory", "0"], "in (0, 1)"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, args: list[str], match: str):
    result = cli("train", "--output", str(tmp_path / "out"), *args)
    assert result.exit_code == 2, result.output
    assert match in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "out" / "metrics.jsonl").exists()


def test_a_gpu_run_without_a_gpu_exits_2_before_loading(tmp_path: Path, toy_model_dir: Path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = cli("train", "--model", str(toy_model_dir), "--benchmark", "addition", "--rollout-engine", "vllm",
                 "--device", "cuda", "--output", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "no CUDA GPU is visible" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def toy_model_dir(tmp_path_factory) -> Path:
    from evalkit.train.toy import TEXT_CHARS, char_tokenizer, tiny_llama

    tokenizer = char_tokenizer(TEXT_CHARS)
    path = tmp_path_factory.mktemp("toy") / "model"
    tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=16).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_train_then_evalkit_run_evaluates_the_checkpoint(tmp_path: Path, toy_model_dir: Path):
    config = tmp_path / "train.toml"
    config.write_text('benchmark = "addition"\naddition_digits = 1\nsteps = 3\nmax_new_tokens = 3\n'
                      'prompts_per_step = 2\ngroup_size = 2\nminibatches = 1\n')
    out = tmp_path / "train"
    args = ["train", "--config", str(config), "--model", str(toy_model_dir), "--output", str(out), "--steps", "1"]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1  # --steps 1 overrode the file's 3
    assert json.loads((out / "train_config.json").read_text())["addition_digits"] == 1
    again = cli(*args)
    assert again.exit_code == 2 and "--overwrite" in again.output

    data = tmp_path / "data" / "gsm8k"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text(json.dumps({"question": "1+1", "answer": "#### 2"}) + "\n")
    run_dir = tmp_path / "eval"
    result = cli("run", "--model", str(out / "step-1"), "--benchmarks", "gsm8k", "--data-dir", str(tmp_path / "data"),
                 "--no-chat-template", "--max-tokens", "3", "--engine", "hf", "--device", "cpu",
                 "--output", str(run_dir))
    assert result.exit_code == 0, result.output
    model = json.loads((run_dir / "config.json").read_text())["model"]
    assert model["checkpoint_step"] == 1


@pytest.mark.slow
def test_smollm2_mpo_with_mtp_modules_writes_a_checkpoint_that_evalkit_run_evaluates(smollm2_gguf, shared_data,
                                                                                        tmp_path: Path):
    """The paper's MPO end to end on the real small model: PPO base, critic, MTP warm-up, then `evalkit run`."""
    config = tmp_path / "mpo.toml"
    config.write_text("log_kl = false\nmtp_warmup_batch_size = 2\neval_size = 2\n")
    out = tmp_path / "mpo"
    result = cli("train", "--config", str(config), "--algo", "mpo", "--model", str(smollm2_gguf),
                 "--benchmark", "gsm8k", "--data-dir", str(shared_data), "--loss-option", "future=mtp",
                 "--loss-option", "k=2",
                 "--mtp-warmup-steps", "2", "--steps", "1", "--group-size", "1", "--prompts-per-step", "2",
                 "--max-new-tokens", "8", "--minibatches", "1", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "MTP warm-up: 2 steps" in result.output
    (entry,) = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert entry["algo"] == "mpo" and "value_loss" in entry and entry["sequences_trained"] == 2
    checkpoint = out / "step-1"
    assert (checkpoint / "mtp" / "modules.safetensors").is_file()
    assert json.loads((checkpoint / "trainer_state.json").read_text())["mtp_modules"] == 1

    run_dir = tmp_path / "eval"
    result = cli("run", "--model", str(checkpoint), "--benchmarks", "gsm8k", "--data-dir", str(shared_data),
                 "--limit", "2", "--max-tokens", "8", "--engine", "hf", "--device", "cpu", "--output", str(run_dir))
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "config.json").read_text())["model"]["checkpoint_step"] == 1
    (samples,) = run_dir.rglob("samples.jsonl")
    assert len(samples.read_text().splitlines()) == 2
