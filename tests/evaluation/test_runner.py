"""The run pipeline's bookkeeping with a scripted engine: files, prompts, resume, refusal, regrading."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evalkit.errors import UsageError
from evalkit.prompts import prompt_hash
from evalkit.runner import RunSettings, regrade, run
from evalkit.schema import BenchmarkMetrics, PromptConfig, SamplingParams
from evalkit.store import RunStore

sys.path.insert(0, str(Path(__file__).parent))
from scripted import ScriptedEngine, write_gsm8k  # noqa: E402

ROWS = [(f"What is {i} plus {i}?", str(2 * i)) for i in range(1, 7)]
# Problems 1-4 answered right, 5 wrong, 6 with the default "0".
ANSWERS = {f"What is {i} plus {i}?": str(2 * i) for i in range(1, 5)} | {"What is 5 plus 5?": "11"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_gsm8k(tmp_path / "data", ROWS)
    return tmp_path / "data"


def settings(data_dir: Path, output: Path, **overrides) -> RunSettings:
    base = dict(model="scripted-model", benchmarks=["gsm8k"], engine="openai",
                sampling=SamplingParams(n=2, temperature=0.7, max_tokens=32), data_dir=data_dir, output=output)
    base.update(overrides)
    return RunSettings(**base)


def factory(engine: ScriptedEngine):
    return lambda name, model: engine


def test_run_writes_every_file_and_scores(data_dir: Path, tmp_path: Path):
    engine = ScriptedEngine(ANSWERS)
    result = run(settings(data_dir, tmp_path / "run"), engine_factory=factory(engine))
    out = tmp_path / "run"
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 12 and engine.closed
    expected_keys = {(f"test/{i}", j) for i in range(6) for j in (0, 1)}
    assert {(s["problem_id"], s["sample_index"]) for s in samples} == expected_keys
    written = json.loads((out / "metrics.json").read_text())["gsm8k"]
    m = result.metrics["gsm8k"]
    assert BenchmarkMetrics.from_dict(written) == m and written == m.to_dict()
    assert m.accuracy == pytest.approx(4 / 6) and m.pass_at_k[2] == pytest.approx(4 / 6)
    assert m.maj_at_k[2] == pytest.approx(4 / 6) and m.n_problems == 6
    config = json.loads((out / "config.json").read_text())
    assert config["sampling"]["n"] == 2 and config["data"]["gsm8k"]["n_problems_total"] == 6
    assert config["data"]["gsm8k"]["source"] == f"local:{data_dir.resolve()}"
    assert "python" in config["versions"] and config["graders"]["gsm8k"].startswith("graders.gsm8k@")
    # The exact prompt of each sample is recoverable and hashes to the recorded hash.
    prompt_rows = [json.loads(line) for line in (out / "prompts.jsonl").read_text().splitlines()]
    prompts = {row["prompt_hash"]: row for row in prompt_rows}
    for s in samples:
        record = prompts[s["prompt_hash"]]
        assert prompt_hash(record["prompt"]) == s["prompt_hash"] and record["problem_id"] == s["problem_id"]
    assert "What is 1 plus 1?" in prompts[samples[0]["prompt_hash"]]["prompt"]
    # Samples of one problem use distinct seeds.
    assert len(set(engine.generated)) == 12


def test_resume_after_crash_generates_only_missing_samples(data_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    crashing = ScriptedEngine(ANSWERS, crash_after=6)
    with pytest.raises(RuntimeError, match="scripted crash"):
        run(settings(data_dir, out), engine_factory=factory(crashing))
    assert len((out / "samples.jsonl").read_text().splitlines()) == 6
    engine = ScriptedEngine(ANSWERS)
    result = run(settings(data_dir, out), engine_factory=factory(engine))
    assert len(engine.generated) == 6 and result.resumed == 6 and result.generated == 6
    fresh = run(settings(data_dir, tmp_path / "fresh"), engine_factory=factory(ScriptedEngine(ANSWERS)))
    assert result.metrics == fresh.metrics
    keys = [(s.problem_id, s.sample_index) for s in RunStore(out).read_samples()]
    assert len(keys) == len(set(keys)) == 12


def test_torn_last_line_is_dropped_and_regenerated(data_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    run(settings(data_dir, out), engine_factory=factory(ScriptedEngine(ANSWERS)))
    lines = (out / "samples.jsonl").read_bytes().splitlines(keepends=True)
    (out / "samples.jsonl").write_bytes(b"".join(lines[:-1]) + lines[-1][:25])  # die mid-write
    engine = ScriptedEngine(ANSWERS)
    run(settings(data_dir, out), engine_factory=factory(engine))
    assert len(engine.generated) == 1
    rows = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 12


def test_larger_limit_extends_the_same_run(data_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    run(settings(data_dir, out, limit=2), engine_factory=factory(ScriptedEngine(ANSWERS)))
    engine = ScriptedEngine(ANSWERS)
    result = run(settings(data_dir, out, limit=4), engine_factory=factory(engine))
    assert len(engine.generated) == 4 and result.metrics["gsm8k"].n_problems == 4


def test_different_settings_into_a_used_directory_are_refused(data_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    run(settings(data_dir, out), engine_factory=factory(ScriptedEngine(ANSWERS)))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(UsageError, match=r"different run.*sampling.temperature"):
        run(settings(data_dir, out, sampling=SamplingParams(n=2, temperature=0.9, max_tokens=32)),
            engine_factory=factory(ScriptedEngine(ANSWERS)))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_prompt_modes_chat_fewshot_and_plain(data_dir: Path, tmp_path: Path):
    engine = ScriptedEngine(ANSWERS)
    run(settings(data_dir, tmp_path / "plain", prompt=PromptConfig(chat=False, num_fewshot=2), limit=1,
                 sampling=SamplingParams(n=1)), engine_factory=factory(engine))
    prompt = json.loads((tmp_path / "plain" / "prompts.jsonl").read_text().splitlines()[0])["prompt"]
    assert prompt.count("Question: train:") == 2 and prompt.endswith("Question: test: What is 1 plus 1?\nAnswer:")
    assert "<<" not in prompt  # calculator annotations stripped from exemplars
    run(settings(data_dir, tmp_path / "chat", prompt=PromptConfig(system_prompt="Be brief.", num_fewshot=1),
                 limit=1, sampling=SamplingParams(n=1)), engine_factory=factory(ScriptedEngine(ANSWERS)))
    chat = json.loads(json.loads((tmp_path / "chat" / "prompts.jsonl").read_text())["prompt"].removeprefix("<chat>"))
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user"]
    assert chat[2]["content"].endswith("\\boxed{" + chat[2]["content"].rsplit("{", 1)[1])
    assert "\\boxed{}" in chat[-1]["content"]


def test_regrade_restores_verdicts_and_metrics(data_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    first = run(settings(data_dir, out), engine_factory=factory(ScriptedEngine(ANSWERS)))
    path = out / "samples.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    for r in rows:
        r["correct"], r["extracted"] = (not r["correct"]), "tampered"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "metrics.json").unlink()
    result = regrade(out)
    assert result.metrics == first.metrics
    assert all(s.extracted != "tampered" for s in RunStore(out).read_samples())


def test_regrade_refuses_a_directory_without_a_run(tmp_path: Path):
    with pytest.raises(UsageError, match="not a run directory"):
        regrade(tmp_path)


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from scripted import ScriptedEngine
    from evalkit.runner import RunSettings, run
    from evalkit.schema import SamplingParams
    engine = ScriptedEngine({answers!r}, delay_s={delay})
    run(RunSettings(model="scripted-model", benchmarks=["gsm8k"], engine="openai",
                    sampling=SamplingParams(n=2, temperature=0.7, max_tokens=32),
                    data_dir=Path({data!r}), output=Path({out!r})),
        engine_factory=lambda name, model: engine)
    print(len(engine.generated))
""")


def test_sigkill_loses_nothing_and_duplicates_nothing(data_dir: Path, tmp_path: Path):
    out = tmp_path / "run"
    tests_dir = str(Path(__file__).parent)

    def script(delay: float) -> str:
        return KILL_SCRIPT.format(tests=tests_dir, answers=ANSWERS, delay=delay, data=str(data_dir), out=str(out))

    proc = subprocess.Popen([sys.executable, "-c", script(0.4)], start_new_session=True)
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if samples.is_file() and len(samples.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = len(samples.read_text().splitlines())
    assert 4 <= kept < 12 and not (out / "metrics.json").exists()
    done = subprocess.run([sys.executable, "-c", script(0.0)], capture_output=True, text=True, check=True)
    assert int(done.stdout.strip().splitlines()[-1]) == 12 - kept
    keys = [(s.problem_id, s.sample_index) for s in RunStore(out).read_samples()]
    assert len(keys) == len(set(keys)) == 12
    assert json.loads((out / "metrics.json").read_text())["gsm8k"]["accuracy"] == pytest.approx(4 / 6)
