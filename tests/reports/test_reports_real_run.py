"""`evalkit report` over run directories written by the real `evalkit run` pipeline (runner, store, grader,
metrics), with a deterministic engine standing in for the model, so the answers and hence every number
are known.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from report_runs import cell, tables, wilson_pct
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.engines.base import Completion, Engine, Prompt, Request, SamplingParams
from evalkit.runner import RunSettings, run

# MATH-500 layout: 8 problems, levels 1-2 and two subjects; the answer of problem i is i + 10.
PROBLEMS = [{"unique_id": f"test/{'algebra' if i % 2 else 'geometry'}/{i}.json", "problem": f"Compute {i} + 10.",
             "answer": str(i + 10), "subject": "Algebra" if i % 2 else "Geometry", "level": 1 + (i >= 4),
             "solution": f"\\boxed{{{i + 10}}}"} for i in range(8)]


class AnswerKeyEngine(Engine):
    """Answers problem i right when i is in `solves`, else with 0; `truncate` marks completions as cut."""

    name = "answer-key"

    def __init__(self, solves: set[int], truncate: set[int] = frozenset()) -> None:
        self.solves = solves
        self.truncate = truncate

    def render(self, prompt: Prompt) -> str:
        return prompt.text if prompt.text is not None else prompt.as_json()

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        for i, r in enumerate(requests):
            text = r.prompt.text or r.prompt.messages[-1][1]
            k = next(j for j in range(8) if f"Compute {j} + 10." in text)
            answer = k + 10 if k in self.solves else 0
            finish = "length" if k in self.truncate else "stop"
            yield i, [Completion(text=f"So it is \\boxed{{{answer}}}.", tokens=40 if finish == "length" else 12,
                                 finish_reason=finish)]


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "data" / "math500"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    out = []
    for name, engine in (("old", AnswerKeyEngine({0, 1, 2})), ("new", AnswerKeyEngine(set(range(7)), {7}))):
        settings = RunSettings(model=f"served-{name}", benchmarks=["math500"], engine="openai",
                               sampling=SamplingParams(n=1, temperature=0.0, max_tokens=40),
                               data_dir=tmp_path / "data", output=tmp_path / "runs" / name)
        run(settings, engine_factory=lambda engine_name, model, engine=engine: engine)
        out.append(tmp_path / "runs" / name)
    return out[0], out[1]


def test_report_over_real_run_directories(runs, tmp_path):
    old, new = runs
    csv_path = tmp_path / "r.csv"
    result = CliRunner().invoke(app, ["report", str(new), "--baseline", str(old), "--csv", str(csv_path)])
    assert result.exit_code == 0, result.output
    t = tables(result.stdout)
    results = t["Results"]
    assert cell(results, "served-old", "math500 accuracy [95% CI]") == wilson_pct(3, 8)
    assert cell(results, "served-new", "math500 accuracy [95% CI]") == wilson_pct(7, 8)
    paired = t["Against the baseline (served-old)"]
    assert cell(paired, "served-new", "better / worse") == "4 / 0"
    assert cell(paired, "served-new", "p-value") == f"{2 / 16:.4f}"  # exact McNemar, 2 * P(Bin(4, 1/2) = 0)
    assert cell(paired, "served-new", "significant") == "no"
    # levels from the runner's metrics.json: level 1 = problems 0-3, level 2 = problems 4-7
    assert t["math500 by level"][1] == [["served-old", wilson_pct(3, 4), wilson_pct(0, 4)],
                                        ["served-new", wilson_pct(4, 4), wilson_pct(3, 4)]]
    by_subject = t["math500 by subject"]
    assert cell(by_subject, "served-old", "subject Geometry (n=4)") == wilson_pct(2, 4)  # 0 and 2 of 0, 2, 4, 6
    assert cell(t["Generation"], "served-new", "math500 truncated") == "12.5%"
    assert cell(t["Generation"], "served-new", "math500 mean tokens") == f"{(7 * 12 + 40) / 8:.0f}"
    assert "served-new: 12.5% of math500 samples hit the token limit (max_tokens 40)" in result.stdout
    assert csv_path.read_text().count("\n") > 10
