"""One option vocabulary across `run`, `grade`, `train` and `report`, its old spellings, and its error lines."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from evalkit import options as o
from evalkit.cli import app
from evalkit.errors import UsageError, one_line
from evalkit.schema import DataInfo, ModelConfig, PromptConfig, RunConfig, SamplingParams

runner = CliRunner()
COMMANDS = typer.main.get_command(app).commands
OLD = Path(__file__).resolve().parents[1] / "fixtures" / "main_69e1e52"

#: concept -> the commands that must offer it
SHARED = {
    o.MODEL: ("run", "train"), o.BENCHMARKS: ("run", "train"), o.OUTPUT: ("run", "train", "report"),
    o.OVERWRITE: ("run", "train"), o.DATA_DIR: ("run", "grade", "train"), o.N: ("run", "train"),
    o.TEMPERATURE: ("run", "train"), o.TOP_P: ("run", "train"), o.MAX_TOKENS: ("run", "train"),
    o.SEED: ("run", "train"), o.SYSTEM_PROMPT: ("run", "train"), o.CHAT_TEMPLATE: ("run", "train"),
    o.DEVICE: ("run", "train"), o.DTYPE: ("run", "train"), o.UNSAFE_CODE_EXEC: ("run", "grade", "train"),
}


def _param(command: str, flag: o.Flag):
    return next((p for p in COMMANDS[command].params if flag.name in p.opts), None)


@pytest.mark.parametrize("flag", list(SHARED), ids=[f.name for f in SHARED])
def test_a_concept_is_spelled_the_same_everywhere(flag: o.Flag):
    for command in SHARED[flag]:
        param = _param(command, flag)
        assert param is not None, f"{command} has no {flag.name}"
        assert set(param.opts) == {flag.name, *([flag.short] if flag.short else [])}, command
        assert param.secondary_opts == ([flag.negative] if flag.negative else []), command
        assert param.envvar == flag.envvar, command
        assert param.help and not any(old in (param.help or "") for old in flag.old)


def test_no_command_declares_a_flag_of_the_vocabulary_by_hand():
    """A command option whose name is in the vocabulary must carry exactly the vocabulary's declaration."""
    by_name = {f.name: f for f in o.VOCABULARY}
    for command in COMMANDS.values():
        for param in command.params:
            for opt in param.opts:
                if opt in by_name:
                    flag = by_name[opt]
                    assert set(param.opts) == {flag.name, *([flag.short] if flag.short else [])}, (command.name, opt)


def test_old_train_spellings_still_work_and_are_hidden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    seen = {}
    monkeypatch.setattr("evalkit.train.command.run_training", lambda cfg, log: seen.setdefault("cfg", cfg))
    monkeypatch.setenv("EVALKIT_DATA_DIR", str(tmp_path / "data"))
    result = runner.invoke(app, ["train", "--benchmark", "math500", "--group-size", "4", "--max-new-tokens=64",
                                 "--model", "smollm2-135m", "--output", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    cfg = seen["cfg"]
    assert (cfg.benchmark, cfg.group_size, cfg.max_new_tokens) == ("math500", 4, 64)
    assert cfg.data_dir == str(tmp_path / "data")  # train's --data-dir reads EVALKIT_DATA_DIR as run's does
    help_text = runner.invoke(app, ["train", "--help"]).output
    for old in ("--benchmark ", "--group-size", "--max-new-tokens"):
        assert old not in help_text


def test_new_train_flags_reach_the_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    seen = []
    monkeypatch.setattr("evalkit.train.command.run_training", lambda cfg, log: seen.append(cfg))
    result = runner.invoke(app, ["train", "-b", "gsm8k", "--n", "3", "--max-tokens", "32", "--top-p", "0.9",
                                 "--system-prompt", "Be brief.", "-m", "smollm2-135m", "-o", str(tmp_path / "o"),
                                 "--unsafe-code-exec"])
    assert result.exit_code == 0, result.output
    (cfg,) = seen
    assert (cfg.group_size, cfg.max_new_tokens, cfg.top_p, cfg.system_prompt) == (3, 32, 0.9, "Be brief.")
    assert cfg.unsafe_code_exec is True and "EVALKIT_UNSAFE_CODE_EXEC" not in os.environ


def test_rewriting_old_names_stops_at_the_end_of_options():
    args = ["--group-size", "4", "--benchmark=gsm8k", "--", "--max-new-tokens"]
    assert o.rewrite_old_names(args, warn=False) == ["--n", "4", "--benchmarks=gsm8k", "--", "--max-new-tokens"]


def test_reproduce_command_parses_back_to_the_same_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The report's command line, fed to the real CLI, asks for exactly the run it came from."""
    from reports.load import Run
    from reports.settings import reproduce_command

    config = RunConfig(
        model=ModelConfig(spec="org/model", path="org/model", engine="vllm", name="model",
                          engine_options={"dtype": "bfloat16", "tensor_parallel_size": 2, "max_model_len": 4096,
                                          "concurrency": 8, "batch_size": 8, "seed": 3}),
        benchmarks=["gsm8k", "math500"], sampling=SamplingParams(n=4, temperature=0.6, top_p=0.95, max_tokens=512,
                                                                 seed=3),
        prompt=PromptConfig(chat=False, system_prompt="Think | then answer.\nNow.", num_fewshot=4), limit=50,
        data={"gsm8k": DataInfo("local:/data dir", "h1", 50, 1319)}, graders={}, versions={}, created="x")
    command = reproduce_command(Run(path=tmp_path / "run dir", config=config, counts={}, metrics={}))
    captured = []
    monkeypatch.setattr("evalkit.runner.run", lambda settings, progress: captured.append(settings) or _NoResult())
    monkeypatch.setattr("evalkit.cli.print_summary", lambda result: None)
    argv = shlex.split(command)
    assert argv[:2] == ["evalkit", "run"]
    result = runner.invoke(app, argv[1:])
    assert result.exit_code == 0, result.output
    (s,) = captured
    assert s.model == "org/model" and list(s.benchmarks) == ["gsm8k", "math500"] and s.engine == "vllm"
    assert s.sampling == config.sampling and s.prompt == config.prompt and s.limit == 50
    assert s.data_dir == Path("/data dir") and s.output == tmp_path / "run dir"
    options = {k: v for k, v in vars(s.engine_options).items() if v is not None}
    assert options == {**config.model.engine_options, "seed": 3}


class _NoResult:
    resumed = 0


def test_error_lines_keep_brackets_and_are_never_markup(tmp_path: Path):
    """`pip install 'evalkit[vllm]'` survives the error printer (rich markup would eat `[vllm]`)."""
    data = tmp_path / "data" / "gsm8k"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    result = runner.invoke(app, ["run", "-m", str(model), "--engine", "vllm", "--data-dir", str(tmp_path / "data"),
                                 "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output == "error: engine 'vllm' needs vLLM on a GPU machine: pip install 'evalkit[vllm]'\n"
    assert one_line(UsageError("[bold]not markup[/]\n  second line")) == "error: [bold]not markup[/] second line"


def test_list_is_wrapped_like_every_command(monkeypatch: pytest.MonkeyPatch):
    def broken() -> list[str]:
        raise UsageError("the benchmark registry is broken [on purpose]")

    monkeypatch.setattr("benchmarks.names", broken)
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 2 and result.output == "error: the benchmark registry is broken [on purpose]\n"


def test_a_run_from_a_newer_evalkit_is_refused_with_one_line(tmp_path: Path):
    run_dir = tmp_path / "run"
    shutil.copytree(OLD / "eval-run", run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "schema_version": 99}))
    for args in (["grade", str(run_dir)], ["report", str(run_dir)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert len(result.output.splitlines()) == 1
        assert re.fullmatch(r"error: .*config\.json was written by a newer evalkit \(schema version 99; this "
                            r"evalkit reads 1 and older\); upgrade evalkit: pip install -U evalkit\n", result.output)


def test_output_policy_resume_refuse_overwrite(tmp_path: Path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from scripted import ScriptedEngine, write_gsm8k

    from evalkit.runner import RunSettings, run

    write_gsm8k(tmp_path / "data", [("What is 1 plus 1?", "2"), ("What is 2 plus 2?", "4")])
    out = tmp_path / "run"

    def settings(temperature: float, overwrite: bool = False) -> RunSettings:
        return RunSettings(model="m", benchmarks=["gsm8k"], engine="openai", data_dir=tmp_path / "data", output=out,
                           sampling=SamplingParams(n=2, temperature=temperature, max_tokens=8), overwrite=overwrite)

    first = run(settings(0.5), engine_factory=lambda *_: ScriptedEngine({"1 plus 1": "2"}))
    again = run(settings(0.5), engine_factory=lambda *_: ScriptedEngine({}))
    assert first.generated == 4 and again.generated == 0 and again.resumed == 4
    with pytest.raises(UsageError, match="holds a different run .*pass --overwrite to replace it"):
        run(settings(0.9), engine_factory=lambda *_: ScriptedEngine({}))
    replaced = run(settings(0.9, overwrite=True), engine_factory=lambda *_: ScriptedEngine({"2 plus 2": "4"}))
    assert replaced.generated == 4 and replaced.resumed == 0
    assert json.loads((out / "config.json").read_text())["sampling"]["temperature"] == 0.9
    assert len((out / "samples.jsonl").read_text().splitlines()) == 4


def test_grade_takes_unsafe_code_exec_as_an_argument_not_an_environment_variable(monkeypatch, tmp_path: Path):
    """A code run on a machine without bubblewrap can be regraded from the CLI, and nothing is written to the
    environment (the opt-in travels as an argument to the sandbox)."""
    monkeypatch.setattr("sandbox.isolation.shutil.which", lambda name: None)
    monkeypatch.delenv("EVALKIT_UNSAFE_CODE_EXEC", raising=False)
    run_dir = tmp_path / "run"
    shutil.copytree(OLD / "eval-run", run_dir)
    args = ["grade", str(run_dir), "--data-dir", str(OLD / "data")]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "bubblewrap" in refused.output and len(refused.output.splitlines()) == 1
    graded = runner.invoke(app, [*args, "--unsafe-code-exec"])
    assert graded.exit_code == 0, graded.output
    assert "EVALKIT_UNSAFE_CODE_EXEC" not in os.environ
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["humaneval"]["pass@2"] == 1.0 and metrics["humaneval"]["pass@1"] == 0.5
