"""`evalkit report` over `evalkit train` directories: training curves, summary, time split, tidy CSV.

The training runs are real: the trainer's own loop on the toy task writes them, and every number the
report shows is checked against the metrics.jsonl it read.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from report_runs import binary_items, tables
from typer.testing import CliRunner

from reports.training import load_training_run, trend

runner = CliRunner()


def cli(*args: str):
    from evalkit.cli import app

    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def train_dirs(tmp_path_factory) -> dict[str, Path]:
    from evalkit.train.config import TrainConfig
    from evalkit.train.tasks import AdditionTask
    from evalkit.train.toy import char_tokenizer, tiny_llama
    from evalkit.train.trainer import train

    root = tmp_path_factory.mktemp("train")
    tokenizer = char_tokenizer()
    out = {}
    for algo in ("grpo", "gspo"):
        model = tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=16, seed=0)
        cfg = TrainConfig(algo=algo, benchmark="addition", output=str(root / f"toy-{algo}"), steps=3,
                          prompts_per_step=4, group_size=4, lr=1e-3, max_new_tokens=3, minibatches=2, eval_every=1,
                          eval_size=8)
        train(cfg, model, tokenizer, AdditionTask(digits=1, n_heldout=20, seed=0), log=lambda line: None)
        out[algo] = root / f"toy-{algo}"
    return out


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def summary_table(markdown: str) -> tuple[list[str], list[list[str]]]:
    return next(t for t in tables(markdown).values() if t[0][:2] == ["run", "algo"])


def row_of(table: tuple[list[str], list[list[str]]], run: str) -> dict[str, str]:
    header, rows = table
    return dict(zip(header, next(r for r in rows if r[0] == run), strict=True))


def test_training_runs_are_summarised_from_their_metrics(train_dirs, tmp_path):
    report = tmp_path / "report.md"
    result = cli("report", str(train_dirs["grpo"]), str(train_dirs["gspo"]), "--output", str(report),
                 "--csv", str(tmp_path / "r.csv"), "--plots", str(tmp_path / "plots"))
    assert result.exit_code == 0, result.output
    text = report.read_text()
    assert text.startswith("# evalkit report\n\n## Training runs\n\n2 training runs.")
    table = summary_table(text)
    for algo, path in train_dirs.items():
        row, recs = row_of(table, f"toy-{algo}"), records(path)
        steps = [r for r in recs if r["step"] >= 1]
        assert row["algo"] == algo and row["steps"] == "3/3" and row["benchmark"] == "addition"
        # 3 steps: the first and last tenth are one step each
        assert row["reward"] == f"{steps[0]['reward_mean']:.3f} → {steps[-1]['reward_mean']:.3f}"
        assert row["entropy"] == f"{steps[0]['entropy']:.3f} → {steps[-1]['entropy']:.3f}"
        assert row["held-out accuracy"] == f"{recs[0]['heldout_accuracy']:.3f} → {recs[-1]['heldout_accuracy']:.3f}"
        assert row["KL to start (end)"] == f"{steps[-1]['kl']:.4f}"
        clip = sum(s["clip_low"] + s["clip_high"] for s in steps) / len(steps)
        assert row["clip fraction (mean)"] == f"{clip:.4f}"
    # time split: totals over every record, per stage
    header, rows = next(t for t in tables(text).values() if "generation" in t[0])
    recs = records(train_dirs["grpo"])
    grpo = dict(zip(header, next(r for r in rows if r[0] == "toy-grpo"), strict=True))
    total = sum(r.get(k, 0.0) for r in recs for k in ("time_generation_s", "time_reward_s", "time_update_s",
                                                       "time_eval_s"))
    assert grpo["total"] == f"{total:.1f} s"
    # the settings that differ are named; the output directory is not a setting
    differ = next(t for t in tables(text).values() if t[0][0] == "run" and "algo" in t[0] and len(t[0]) < 5)
    assert differ[0] == ["run", "algo"]
    # plots are written and linked
    for name in ("training-curves.png", "training-time.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000
        assert f"plots/{name}" in text
    # CSV: one row per step and metric, the value as logged
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    reward = {int(r["checkpoint_step"]): float(r["value"]) for r in rows
              if r["run"] == "toy-grpo" and r["metric"] == "reward_mean"}
    assert reward == {r["step"]: r["reward_mean"] for r in recs if "reward_mean" in r}
    assert {r["subset"] for r in rows} == {"train"}


def test_evaluation_and_training_runs_share_one_report(train_dirs, make_run, tmp_path):
    run = make_run("eval", {"gsm8k": binary_items([True, False, True, True])})
    result = cli("report", str(run), str(train_dirs["grpo"]), "--csv", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.output
    assert "1 runs, 1 benchmarks" in result.output and "## Training runs" in result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    assert {r["subset"] for r in rows} == {"all", "train"}


def test_a_torn_last_line_and_an_unfinished_run_are_noted(train_dirs, tmp_path):
    path = tmp_path / "partial"
    path.mkdir()
    (path / "train_config.json").write_text((train_dirs["grpo"] / "train_config.json").read_text())
    lines = (train_dirs["grpo"] / "metrics.jsonl").read_text().splitlines()
    (path / "metrics.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:20])
    run = load_training_run(path)
    assert [r.step for r in run.records] == [0, 1]
    assert any("torn" in n for n in run.notes) and any("1 of 3 steps" in n for n in run.notes)
    result = cli("report", str(path))
    assert result.exit_code == 0 and "1 of 3 steps logged" in result.output
    assert row_of(summary_table(result.output), "partial")["steps"] == "1/3"


@pytest.mark.parametrize("damage,message", [
    ("middle", "is not a JSON line"),
    ("no-metrics", "no metrics.jsonl"),
    ("bad-config", "is not valid JSON"),
])
def test_damaged_training_runs_exit_2_with_one_line(train_dirs, tmp_path, damage, message):
    path = tmp_path / "bad"
    path.mkdir()
    (path / "train_config.json").write_text("{" if damage == "bad-config" else "{}")
    if damage == "middle":
        (path / "metrics.jsonl").write_text('{"step": 0}\nnot json\n{"step": 1}\n')
    elif damage == "bad-config":
        (path / "metrics.jsonl").write_text('{"step": 0}\n')
    result = cli("report", str(path))
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_training_run_cannot_be_the_baseline(train_dirs, make_run):
    run = make_run("eval", {"gsm8k": binary_items([True, False])})
    result = cli("report", str(run), "--baseline", str(train_dirs["grpo"]))
    assert result.exit_code == 2 and "baseline must be an `evalkit run` directory" in result.output


def test_trend_averages_the_first_and_last_tenth():
    t = trend([float(v) for v in range(1, 21)])  # 20 values: windows of 2
    assert (t.first, t.last, t.window) == (1.5, 19.5, 2)
    assert trend([4.0]).first == trend([4.0]).last == 4.0 and trend([]) is None
    assert trend([1.0, 2.0, 3.0], window=1).last == 3.0


def test_runs_with_one_directory_name_are_labelled_by_their_parent(train_dirs, tmp_path):
    import shutil

    from reports.training import load_training_runs

    paths = []
    for seed in (0, 1):
        dest = tmp_path / f"seed{seed}" / "grpo"
        dest.mkdir(parents=True)
        for name in ("train_config.json", "metrics.jsonl"):
            shutil.copy(train_dirs["grpo"] / name, dest / name)
        paths.append(dest)
    assert [r.label for r in load_training_runs(paths)] == ["seed0/grpo", "seed1/grpo"]
