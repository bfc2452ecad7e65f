"""`evalkit run --benchmarks reasoning` on the real files, and `evalkit report` over two such runs: every new
benchmark end to end (an answer-key engine for exact numbers; SmolLM2 through the CLI, offline, for the real
pipeline), with the breakdowns and their intervals in metrics.json and the report."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

import benchmarks
from benchmarks.base import DataSource
from evalkit.cli import app
from evalkit.engines.base import Completion, Engine, Prompt, Request, SamplingParams
from evalkit.runner import RunSettings, run

runner = CliRunner()
REASONING = benchmarks.GROUPS["reasoning"]
#: (benchmark, breakdown key) the report must show
BREAKDOWNS = [("aime24", "year"), ("aime24", "part"), ("aime25", "part"), ("amc23", "part"), ("math500", "level"),
              ("olympiadbench", "subfield"), ("olympiadbench", "answer_type"), ("minerva_math", "course")]


class AnswerKeyEngine(Engine):
    """Answers a problem with its gold when `right(question)` holds, else with 0."""

    name = "answer-key"

    def __init__(self, golds: dict[str, str], right) -> None:
        self.golds = golds
        self.right = right

    def render(self, prompt: Prompt) -> str:
        return prompt.as_json() if prompt.text is None else prompt.text

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        for i, r in enumerate(requests):
            text = r.prompt.messages[-1][1] if r.prompt.messages else r.prompt.text or ""
            question = next(q for q in self.golds if q in text)
            answer = self.golds[question] if self.right(question) else "0"
            yield i, [Completion(text=f"Thus \\boxed{{{answer}}}.", tokens=9, finish_reason="stop")
                      for _ in range(r.n)]


def _golds(shared_data: Path, limit: int) -> dict[str, str]:
    out = {}
    for name in REASONING:
        for p in benchmarks.get(name).load(DataSource(shared_data))[:limit]:
            out[p.question] = p.gold.replace("$", "")
    return out


def _assert_report_shows_breakdowns(report: str, runs: Sequence[str]) -> None:
    for bench, key in BREAKDOWNS:
        heading = f"### {bench} by {key}"
        assert heading in report, heading
        section = report.split(heading, 1)[1].split("###", 1)[0]
        for label in runs:
            row = next(line for line in section.splitlines() if line.startswith(f"| {label} |"))
            assert "[" in row and "]" in row, row  # accuracy with its 95% interval


def test_reasoning_group_with_an_answer_key_and_the_report(shared_data: Path, tmp_path: Path):
    golds = _golds(shared_data, 2)
    first = sorted(golds)[::2]
    outputs = []
    for label, right in (("all", lambda q: True), ("half", lambda q: q in first)):
        settings = RunSettings(model=f"key-{label}", benchmarks=["reasoning"], engine="openai", limit=2,
                               data_dir=shared_data, output=tmp_path / label,
                               sampling=SamplingParams(n=2, temperature=0.6, top_p=0.95, max_tokens=16))
        result = run(settings, engine_factory=lambda name, model, right=right: AnswerKeyEngine(golds, right))
        outputs.append(tmp_path / label)
        assert list(result.metrics) == list(REASONING)
    metrics = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert all(metrics[name]["accuracy"] == 1.0 for name in REASONING), {n: metrics[n]["accuracy"] for n in REASONING}
    assert metrics["aime24"]["breakdown"]["part"]["I"]["n_problems"] == 2
    assert metrics["olympiadbench"]["breakdown"]["answer_type"]["Numerical"]["accuracy_ci95"]
    config = json.loads((tmp_path / "all" / "config.json").read_text())
    assert config["benchmarks"] == list(REASONING) and "rel_tol=0.0001" in config["graders"]["minerva_math"]
    done = runner.invoke(app, ["report", *map(str, outputs), "--baseline", str(outputs[0])])
    assert done.exit_code == 0, done.output
    _assert_report_shows_breakdowns(done.stdout, ["key-all", "key-half"])
    assert "--benchmarks aime24,aime25,amc23,math500,olympiadbench,minerva_math" in done.stdout


@pytest.mark.slow
def test_reasoning_with_smollm2_offline_twice_and_the_report(smollm2_gguf: Path, shared_data: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    """The issue's command, offline: every new benchmark end to end on the real small model (few tokens),
    greedy and with the reasoning preset (n and max tokens lowered for CPU), then the report over both."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    common = ["run", "-m", "smollm2-135m", "-b", "reasoning", "--limit", "2", "--data-dir", str(shared_data),
              "--threads", "2"]
    greedy = runner.invoke(app, [*common, "--max-tokens", "8", "-o", str(tmp_path / "greedy")])
    assert greedy.exit_code == 0, greedy.output
    sampled = runner.invoke(app, [*common, "--preset", "reasoning", "--n", "2", "--max-tokens", "8",
                                  "-o", str(tmp_path / "preset")])
    assert sampled.exit_code == 0, sampled.output
    config = json.loads((tmp_path / "preset" / "config.json").read_text())
    assert config["sampling"] == {"n": 2, "temperature": 0.6, "top_p": 0.95, "max_tokens": 8, "seed": 0}
    metrics = json.loads((tmp_path / "preset" / "metrics.json").read_text())
    for name in REASONING:
        m = metrics[name]
        assert m["n_problems"] == 2 and m["n_samples"] == 4 and m["truncation_rate"] > 0.5, (name, m)
        assert "maj@2" in m and "pass@2" in m and "accuracy_sampling_se" in m
    samples = [json.loads(line) for line in (tmp_path / "greedy" / "samples.jsonl").read_text().splitlines()]
    assert {s["benchmark"] for s in samples} == set(REASONING) and all(s["tokens"] <= 8 for s in samples)
    done = runner.invoke(app, ["report", str(tmp_path / "greedy"), str(tmp_path / "preset")])
    assert done.exit_code == 0, done.output
    labels = [line.split("|")[1].strip() for line in done.stdout.split("## Results", 1)[1].splitlines()[4:6]]
    _assert_report_shows_breakdowns(done.stdout, labels)
