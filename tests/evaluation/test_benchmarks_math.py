"""The math benchmarks on the real files: sizes, ids, metadata, gold extraction and self-consistency."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import benchmarks
from benchmarks.base import DataError, DataSource


def test_registry_names_and_unknown():
    assert {"gsm8k", "math", "math500"} <= set(benchmarks.names())
    with pytest.raises(KeyError, match="unknown benchmark 'nope'; known:"):
        benchmarks.get("nope")


def test_gsm8k_real_test_split(shared_data: Path):
    bench = benchmarks.get("gsm8k")
    problems = bench.load(DataSource(shared_data))
    assert len(problems) == 1319 and len({p.id for p in problems}) == 1319
    assert len(bench.fewshot_pool(DataSource(shared_data))) == 7473
    # Gold is the text after ####, commas kept for the grader to normalise.
    assert problems[0].gold == "18"
    assert any("," in p.gold for p in problems) or all(p.gold.lstrip("-").isdigit() for p in problems)
    # Every reference solution, with its own final line, grades correct against its gold.
    verdicts = bench.grade_many(problems, [p.metadata["solution"] for p in problems])
    wrong = [(p.id, v.extracted, p.gold) for p, v in zip(problems, verdicts, strict=True) if not v.correct]
    assert not wrong, wrong[:5]
    # ... and the solution of another problem does not (the grader is not trivially true).
    shifted = bench.grade_many(problems[:200], [p.metadata["solution"] for p in problems[1:201]])
    assert sum(v.correct for v in shifted) < 20


def test_math_real_test_split(shared_data: Path):
    bench = benchmarks.get("math")
    problems = bench.load(DataSource(shared_data))
    assert len(problems) == 5000
    assert Counter(p.metadata["level"] for p in problems) == {1: 437, 2: 894, 3: 1131, 4: 1214, 5: 1324}
    assert Counter(p.metadata["subject"] for p in problems)["Number Theory"] == 540
    assert all(p.gold for p in problems)
    sample = problems[::25]
    verdicts = bench.grade_many(sample, [p.metadata["solution"] for p in sample])
    assert [p.id for p, v in zip(sample, verdicts, strict=True) if not v.correct] == []


def test_math500_answers_agree_with_solutions(shared_data: Path):
    bench = benchmarks.get("math500")
    problems = bench.load(DataSource(shared_data))
    assert len(problems) == 500 and problems[0].id.startswith("test/")
    assert {p.metadata["level"] for p in problems} == {1, 2, 3, 4, 5}
    verdicts = bench.grade_many(problems, [p.metadata["solution"] for p in problems])
    disagreeing = [p.id for p, v in zip(problems, verdicts, strict=True) if not v.correct]
    # MATH-500's `answer` field is the boxed answer of its solution; allow a couple of known odd forms.
    assert len(disagreeing) <= 3, disagreeing


def test_malformed_gsm8k_row_is_a_data_error(tmp_path: Path):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"question": "q", "answer": "no final line"}\n')
    with pytest.raises(DataError, match="has no '#### <final answer>' line"):
        benchmarks.get("gsm8k").load(DataSource(tmp_path))


def test_missing_field_names_file_and_line(tmp_path: Path):
    (tmp_path / "math500").mkdir()
    (tmp_path / "math500" / "test.jsonl").write_text('{"problem": "p"}\n')
    with pytest.raises(DataError, match=r"test.jsonl line 1: missing field\(s\) answer"):
        benchmarks.get("math500").load(DataSource(tmp_path))
