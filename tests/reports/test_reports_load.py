"""Reading run directories: globs, damaged and interrupted runs, the fast and the dataclass reader agree."""

from __future__ import annotations

import json

import numpy as np
import pytest
from report_runs import Item, binary_items

import reports.load as load
from evalkit.errors import UsageError
from reports.load import expand_run_dirs, load_run, problem_counts, read_samples_frame


def test_glob_matches_come_in_step_order(make_run, tmp_path):
    for step in (1000, 200, 30):
        make_run(f"ckpt/step-{step}", {"gsm8k": binary_items([1])})
    found = expand_run_dirs([str(tmp_path / "ckpt" / "step-*")])
    assert [p.name for p in found] == ["step-30", "step-200", "step-1000"]


def test_globs_and_paths_expand_in_order_once(make_run, tmp_path):
    a = make_run("runs/a", {"gsm8k": binary_items([1, 0])})
    b = make_run("runs/b", {"gsm8k": binary_items([1, 1])})
    (tmp_path / "runs" / "not-a-run").mkdir()
    found = expand_run_dirs([str(b), str(tmp_path / "runs" / "*"), str(a)])
    assert found == [b.resolve(), a.resolve()]


@pytest.mark.parametrize(("arg", "message"), [("missing", "no such directory"), ("empty", "holds no run"),
                                              ("runs-*", "matched no run directory"), ("file", "is a file")])
def test_bad_run_dirs_are_usage_errors(tmp_path, arg, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=message):
        expand_run_dirs([str(tmp_path / arg)])


def test_counts_per_problem_from_samples(make_run):
    items = {"q1": Item([True, False, True], truncated=[False, False, True], tokens=[5, 6, 7]),
             "q0": Item([False, False, False], tokens=[1, 1, 1])}
    run = load_run(make_run("r", {"math500": items}))
    c = run.counts["math500"]
    assert list(c.problem_ids) == ["q0", "q1"]
    assert c.n.tolist() == [3, 3] and c.correct.tolist() == [0, 2]
    assert c.truncated.tolist() == [0, 1] and c.tokens.tolist() == [3, 18]
    assert run.notes == [] and run.metrics["math500"].n_samples == 6


def test_torn_last_line_is_skipped_and_noted(make_run):
    path = make_run("r", {"gsm8k": binary_items([1, 0, 1])})
    with (path / "samples.jsonl").open("a") as f:
        f.write('{"benchmark": "gsm8k", "problem_id": "p003", "sample_ind')
    run = load_run(path)
    assert run.counts["gsm8k"].n_samples == 3
    assert any("torn last line" in n for n in run.notes)


def test_damaged_middle_line_is_a_usage_error(make_run):
    path = make_run("r", {"gsm8k": binary_items([1, 0, 1])})
    lines = (path / "samples.jsonl").read_text().splitlines(keepends=True)
    lines[1] = "{not json\n"
    (path / "samples.jsonl").write_text("".join(lines))
    with pytest.raises(UsageError, match="not valid JSON"):
        load_run(path)


def test_pyarrow_and_dataclass_readers_agree(make_run, monkeypatch):
    subs = [{"base": True, "plus": False}, {"base": True, "plus": True}]
    items = {"a": Item([True, False], subscores=subs), "b": Item([False, True], truncated=[True, False])}
    path = make_run("r", {"math500": items, "gsm8k": binary_items([1, 0, 0])})
    fast = problem_counts(read_samples_frame(path / "samples.jsonl"))

    def no_pyarrow(body):
        raise ImportError("pyarrow")

    monkeypatch.setattr(load, "_read_with_pyarrow", no_pyarrow)
    slow = problem_counts(read_samples_frame(path / "samples.jsonl"))
    assert fast.keys() == slow.keys() == {"math500", "gsm8k"}
    for bench in fast:
        f, s = fast[bench], slow[bench]
        for name in ("problem_ids", "n", "correct", "truncated", "tokens"):
            assert np.array_equal(getattr(f, name), getattr(s, name)), name
        assert f.subscores.keys() == s.subscores.keys()
        for name in f.subscores:
            assert np.array_equal(f.subscores[name], s.subscores[name])
    assert fast["math500"].subscores["plus"].tolist() == [1, 0]  # a: one plus pass; b: none (missing = False)


def test_duplicate_samples_keep_the_last(make_run):
    path = make_run("r", {"gsm8k": binary_items([0])})
    row = json.loads((path / "samples.jsonl").read_text())
    row["correct"] = True
    with (path / "samples.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    run = load_run(path)
    assert run.counts["gsm8k"].correct.tolist() == [1]
    assert any("duplicate" in n for n in run.notes)


def test_stale_or_missing_metrics_json_is_left_out(make_run):
    stale = make_run("stale", {"gsm8k": binary_items([1, 0])})
    metrics = json.loads((stale / "metrics.json").read_text())
    metrics["gsm8k"]["n_samples"] = 5
    (stale / "metrics.json").write_text(json.dumps(metrics))
    run = load_run(stale)
    assert run.metrics == {} and any("does not match" in n for n in run.notes)
    unfinished = load_run(make_run("unfinished", {"gsm8k": binary_items([1])}, with_metrics=False))
    assert unfinished.metrics == {} and any("did not finish" in n for n in unfinished.notes)


def test_run_whose_only_line_is_torn_has_no_samples(make_run):
    path = make_run("r", {"gsm8k": binary_items([1])}, with_metrics=False)
    (path / "samples.jsonl").write_text('{"benchmark": "gsm8k", "probl')
    run = load_run(path)
    assert run.counts == {}
    assert any("torn last line" in n for n in run.notes) and any("no samples for gsm8k" in n for n in run.notes)
