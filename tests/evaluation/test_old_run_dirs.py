"""Run and training directories written before the house-rules redesign still load, regrade and resume.

The directories in tests/fixtures/main_69e1e52 were written by evalkit's main branch at 69e1e52
(see its README); they are read here with today's code, never regenerated.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import benchmarks
from evalkit.cli import app
from evalkit.runner import RunSettings, run
from evalkit.schema import BenchmarkMetrics, SamplingParams
from evalkit.store import RunStore

sys.path.insert(0, str(Path(__file__).parent))
from scripted import ScriptedEngine  # noqa: E402

OLD = Path(__file__).resolve().parents[1] / "fixtures" / "main_69e1e52"
runner = CliRunner()


@pytest.fixture
def old_run(tmp_path: Path) -> tuple[Path, Path]:
    """A writable copy of the old run directory and of the data it was made from."""
    shutil.copytree(OLD / "eval-run", tmp_path / "eval-run")
    shutil.copytree(OLD / "data", tmp_path / "data")
    return tmp_path / "eval-run", tmp_path / "data"


def _old_metrics() -> dict[str, BenchmarkMetrics]:
    raw = json.loads((OLD / "eval-run" / "metrics.json").read_text())
    return {name: BenchmarkMetrics.from_dict(entry) for name, entry in raw.items()}


def _as_old(metrics: dict[str, BenchmarkMetrics]) -> dict[str, BenchmarkMetrics]:
    """Today's metrics without the figures added since (sampling error, breakdown intervals): the numbers an
    old run recorded must come back unchanged, new figures may be added."""
    return {name: dataclasses.replace(
        m, accuracy_sampling_se=None, truncated_thinking_rate=None, truncated_after_thinking_rate=None,
        breakdowns={k: {v: dataclasses.replace(g, accuracy_ci95=None) for v, g in t.items()}
                    for k, t in m.breakdowns.items()})
        for name, m in metrics.items()}


def test_old_metrics_json_reads_into_the_typed_schema_and_writes_back_unchanged():
    raw = json.loads((OLD / "eval-run" / "metrics.json").read_text())
    metrics = _old_metrics()
    assert metrics["gsm8k"].maj_at_k == {1: 0.5, 2: 0.5} and metrics["gsm8k"].pass_at_k == {1: 0.5, 2: 0.5}
    assert metrics["math500"].breakdowns["level"]["5"].n_problems == 1
    assert metrics["humaneval"].pass_at_k[2] == 1.0 and not metrics["humaneval"].maj_at_k
    assert {name: m.to_dict() for name, m in metrics.items()} == raw


def test_report_reads_old_evaluation_and_training_directories(tmp_path: Path):
    out = tmp_path / "report.md"
    result = runner.invoke(app, ["report", str(OLD / "eval-run"), str(OLD / "train-run"), "-o", str(out),
                                 "--csv", str(tmp_path / "report.csv")])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "## Breakdowns" in text and "math500 by level" in text and "## Training runs" in text
    rows = (tmp_path / "report.csv").read_text().splitlines()
    assert any(r.startswith("scripted-model,scripted-model,,gsm8k,all,maj@2,0.5,") for r in rows)
    assert any(",math500,level=5,accuracy,0.0," in r for r in rows)
    assert any(r.startswith("train-run,") and ",train,heldout_accuracy," in r for r in rows)


def test_grade_regrades_an_old_run_to_the_same_numbers(old_run: tuple[Path, Path]):
    run_dir, data = old_run
    before = RunStore(run_dir).read_samples()
    args = ["grade", str(run_dir), "--data-dir", str(data)]
    if shutil.which("bwrap") is None:
        args.append("--unsafe-code-exec")  # the fixture's code is ours; CI has bubblewrap
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    after = RunStore(run_dir).read_samples()
    assert [(s.problem_id, s.completion, s.correct) for s in after] == \
        [(s.problem_id, s.completion, s.correct) for s in before]
    written = json.loads((run_dir / "metrics.json").read_text())
    assert _as_old({name: BenchmarkMetrics.from_dict(entry) for name, entry in written.items()}) == _old_metrics()


def test_the_same_command_resumes_an_old_run_without_generating(old_run: tuple[Path, Path]):
    """Only a changed grader version tells the old run apart (every other setting reads back identical); once
    `evalkit grade` has regraded it with today's graders, the same command resumes it with nothing to generate."""
    from evalkit.errors import UsageError
    from evalkit.runner import regrade

    run_dir, data = old_run
    unsafe = shutil.which("bwrap") is None
    settings = RunSettings(model="scripted-model", benchmarks=["gsm8k", "math500", "humaneval"], engine="openai",
                           sampling=SamplingParams(n=2, temperature=0.7, max_tokens=32), data_dir=data,
                           output=run_dir, unsafe_code_exec=unsafe)
    engine = ScriptedEngine({})
    old_graders = json.loads((run_dir / "config.json").read_text())["graders"]
    current = {name: benchmarks.get(name).grader.version for name in old_graders}
    if current != old_graders:
        with pytest.raises(UsageError) as refused:
            run(settings, engine_factory=lambda name, model: engine)
        differing = re.findall(r"(\w[\w.]*) \(", str(refused.value).split("holds a different run (", 1)[1])
        assert differing and all(d.startswith("graders.") for d in differing), str(refused.value)
        regrade(run_dir, data, unsafe_code_exec=unsafe)
    result = run(settings, engine_factory=lambda name, model: engine)
    assert result.generated == 0 and result.resumed == 20 and engine.generated == []
    assert _as_old(result.metrics) == _old_metrics()
