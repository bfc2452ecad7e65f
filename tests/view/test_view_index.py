"""The viewer's index of a run directory: the report's counts, robust reading, following the file on disk."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from view_runs import HOSTILE_ID

from reports.load import load_run
from reports.view import index as index_module
from reports.view.discover import RunEntry, discover
from reports.view.index import RunData, build_index, reason_kind

COLUMNS = ("problem", "sample_index", "correct", "truncated", "tokens", "has_answer", "kind", "offset", "length")


def data(path: Path) -> RunData:
    return RunData(RunEntry(path.name, path.resolve(), "eval"))


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "samples.jsonl").read_text().splitlines()]


def test_counts_are_the_reports_counts(view_root):
    for entry in discover([str(view_root / "runs")]):
        if entry.kind != "eval":
            continue
        ours, theirs = RunData(entry).summary_run(), load_run(entry.path)
        assert sorted(ours.counts) == sorted(theirs.counts)
        for bench, c in theirs.counts.items():
            mine = ours.counts[bench]
            for field in ("problem_ids", "n", "correct", "truncated", "tokens"):
                assert np.array_equal(getattr(mine, field), getattr(c, field)), (entry.id, field)
            assert mine.subscores.keys() == c.subscores.keys()
        assert ours.metrics.keys() == theirs.metrics.keys()


def test_python_fallback_reads_exactly_what_pyarrow_reads(view_root, monkeypatch):
    path = view_root / "runs" / "qwen-n8" / "samples.jsonl"
    fast = build_index(path)

    def refuse(*args, **kwargs):
        raise ValueError("forced")

    monkeypatch.setattr(index_module, "_columns_pyarrow", refuse)
    slow = build_index(path)
    assert fast.benches.keys() == slow.benches.keys() and not slow.notes
    for name, a in fast.benches.items():
        b = slow.benches[name]
        assert a.kinds == b.kinds and np.array_equal(a.problem_ids, b.problem_ids)
        for column in COLUMNS:
            assert np.array_equal(getattr(a, column), getattr(b, column)), column


def test_each_row_points_at_its_own_line(view_root):
    run = data(view_root / "runs" / "qwen-n8")
    b = run.bench("math")
    records = run.read_rows(b, list(range(len(b.problem))))
    on_disk = lines(view_root / "runs" / "qwen-n8")
    assert len(records) == len(on_disk) == 808
    for row, record in enumerate(records):
        assert record["problem_id"] == b.problem_ids[b.problem[row]]
        assert record["sample_index"] == b.sample_index[row] and record["correct"] == b.correct[row]
        assert (record["finish_reason"] == "length") == b.truncated[row]
    hostile = b.row_of(HOSTILE_ID, 3)
    assert len(run.read_line(b, hostile)["completion"]) == 1_000_029


def test_torn_duplicate_blank_damaged_and_invalid_utf8_lines(view_root, tmp_path):
    run_dir = copy_run(view_root / "runs" / "ckpt" / "step-100", tmp_path / "run")
    original = lines(run_dir)
    first = dict(original[0], correct=not original[0]["correct"], reason="regraded")
    bad_utf8 = json.dumps(dict(original[1], completion="caf\u00e9 X"), ensure_ascii=False).encode()
    bad_utf8 = bad_utf8.replace("\u00e9".encode(), b"\xff")
    with (run_dir / "samples.jsonl").open("ab") as f:
        f.write(b"\n   \n")
        f.write(b'{"benchmark": "math", "problem_id": "broken", "sample_index": 0, "correct": tru\n')
        f.write(b'{"benchmark": "math", "problem_id": "typeless", "sample_index": "0", "correct": true, '
                b'"finish_reason": "stop", "tokens": 1}\n')
        f.write(json.dumps(first).encode() + b"\n")
        f.write(bad_utf8 + b"\n")
        f.write(b'{"benchmark": "math", "problem_id": "torn"')
    run = data(run_dir)
    index = run.index()
    b = index.benches["math"]
    notes = " | ".join(index.notes)
    assert "torn" in notes and "2 unreadable line(s)" in notes and "2 duplicate samples" in notes
    assert len(b.problem) == len(original) and "broken" not in b.problem_ids and "torn" not in b.problem_ids
    row = b.row_of(first["problem_id"], 0)
    assert b.correct[row] == first["correct"] and b.kinds[b.kind[row]] == "regraded"
    assert run.read_line(b, b.row_of(original[1]["problem_id"], 0))["completion"] == "caf\ufffd X"
    # the report reads the same file to the same counts, except that it refuses damaged lines outright
    assert run.summary_run().counts["math"].n_samples == len(original)


def test_the_index_follows_the_file_on_disk(view_root, tmp_path):
    run_dir = copy_run(view_root / "runs" / "ckpt" / "step-200", tmp_path / "run")
    run = data(run_dir)
    before = run.bench("math")
    record = dict(lines(run_dir)[0], sample_index=1, correct=False)
    with (run_dir / "samples.jsonl").open("a") as f:  # a run still writing
        f.write(json.dumps(record) + "\n")
    grown = run.bench("math")
    assert len(grown.problem) == len(before.problem) + 1
    kept = lines(run_dir)[:10]  # `evalkit grade` and friends replace the file by a rename
    tmp = run_dir / ".samples.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
    os.replace(tmp, run_dir / "samples.jsonl")
    assert len(run.bench("math").problem) == 10


def test_files_linked_out_of_the_run_directory_are_not_read(view_root, tmp_path):
    outside = tmp_path / "secret.jsonl"
    shutil.copy(view_root / "runs" / "ckpt" / "step-100" / "samples.jsonl", outside)
    run_dir = copy_run(view_root / "runs" / "ckpt" / "step-100", tmp_path / "run")
    (run_dir / "samples.jsonl").unlink()
    (run_dir / "samples.jsonl").symlink_to(outside)
    (run_dir / "problems.jsonl").unlink()
    (run_dir / "problems.jsonl").symlink_to(tmp_path / "secret.jsonl")
    run = data(run_dir)
    assert run.index().benches == {} and "leads out of the run directory" in run.index().notes[0]
    assert run.problems("math") == {}
    inside = run_dir / "copy.jsonl"  # a link that stays inside is fine
    shutil.copy(outside, inside)
    (run_dir / "samples.jsonl").unlink()
    (run_dir / "samples.jsonl").symlink_to(inside.name)
    assert len(run.bench("math").problem) == 101


@pytest.mark.parametrize("reason,kind", [
    ("equal", "equal"), ("no_answer", "no_answer"), ("timeout", "timeout"),
    ("failed: input 3: wrong output", "failed"), ("plus: failed: input 3: raised ValueError: x", "plus: failed"),
    ("base: timeout: input 0: time limit", "base: timeout"), ("passed", "passed"),
    ("passed (weak: test ran inside the candidate process)", "passed (weak: test ran inside the candidate process)"),
    ("Some Other Reason", "Some Other Reason"), ("", "(none)"),
])
def test_reason_kinds(reason, kind):
    assert reason_kind(reason) == kind


def test_runs_record_their_problems_once(view_root, tmp_path):
    path = view_root / "runs" / "qwen-n8" / "problems.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 101 == len({r["problem_id"] for r in rows})
    hostile = next(r for r in rows if r["problem_id"] == HOSTILE_ID)
    assert hostile["gold"] == "<b>1</b>" and hostile["labels"] == {"level": 1, "subject": "Prealgebra"}
    # `evalkit grade` records the problems of a run made before problems.jsonl existed, and only once
    from evalkit.runner import regrade

    run_dir = copy_run(view_root / "runs" / "ckpt" / "step-100", tmp_path / "old")
    (run_dir / "problems.jsonl").unlink()
    regrade(run_dir)
    regrade(run_dir)
    again = [json.loads(line) for line in (run_dir / "problems.jsonl").read_text().splitlines()]
    assert len(again) == 101 and {r["problem_id"] for r in again} == {r["problem_id"] for r in rows}
