"""The JSON API against answers computed independently from the run files (json.loads, plain Python), and the
comparison against what `evalkit report` prints for the same two runs."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner
from view_runs import HOSTILE_COMPLETIONS, HOSTILE_ID, MILLION

from evalkit.metrics import pass_at_k
from reports.view.api import ApiError, Catalog, answer
from reports.view.discover import discover, natural_key


@pytest.fixture(scope="module")
def catalog(view_root) -> Catalog:
    return Catalog.from_entries(discover([str(view_root / "runs")]))


def samples_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def problems_of(run_dir: Path) -> dict[str, dict]:
    return {r["problem_id"]: r for r in map(json.loads, (run_dir / "problems.jsonl").read_text().splitlines())}


def every_page(catalog: Catalog, **params) -> list[dict]:
    """All rows of a table, fetched page by page (7 rows a page, to cross many page boundaries)."""
    rows, page = [], 1
    while True:
        got = answer(catalog, "samples", {**params, "per_page": "7", "page": str(page)})
        rows += got["rows"]
        if page >= got["pages"]:
            return rows
        page += 1


def normalised(answer: str) -> str:
    """The documented grouping of wrong answers: spaces, \\left, \\right, thin spaces, $ ignored; \\dfrac = \\frac."""
    for token in ("\\left", "\\right", "\\!", "\\,", "\\;", "\\ ", "$"):
        answer = answer.replace(token, "")
    return re.sub(r"\s+", "", answer).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").rstrip(".")


def natural(s: dict) -> tuple:
    return (natural_key(s["problem_id"]), s["sample_index"])


@pytest.mark.parametrize("filters,keep", [
    ({}, lambda s, p: True),
    ({"verdict": "wrong"}, lambda s, p: not s["correct"]),
    ({"verdict": "correct"}, lambda s, p: s["correct"]),
    ({"verdict": "truncated"}, lambda s, p: s["finish_reason"] == "length"),
    ({"verdict": "no_answer"}, lambda s, p: not (s["extracted"] or "").strip()),
    ({"reason": "hedged"}, lambda s, p: s["reason"] == "hedged"),
    ({"label.level": "5"}, lambda s, p: p["labels"]["level"] == 5),
    ({"sample": "3", "verdict": "wrong"}, lambda s, p: s["sample_index"] == 3 and not s["correct"]),
    ({"problem": "test/prealgebra/1055.json"}, lambda s, p: s["problem_id"] == "test/prealgebra/1055.json"),
    ({"q": "COMPOSITE"}, lambda s, p: "composite" in (
        s["completion"] + (s["extracted"] or "") + p["question"]).lower()),
    ({"q": "javascript:", "sample": "1"}, lambda s, p: s["sample_index"] == 1 and "javascript:" in (
        s["completion"] + (s["extracted"] or "") + p["question"]).lower()),
    ({"q": '"slackrope'}, lambda s, p: '"slackrope' in (s["completion"] + p["question"]).lower()),
    ({"q": "\\frac{1}{2}", "verdict": "wrong"}, lambda s, p: not s["correct"] and "\\frac{1}{2}" in (
        s["completion"] + (s["extracted"] or "") + p["question"]).lower()),
])
def test_sample_filters_match_a_plain_reading_of_the_files(catalog, view_root, filters, keep):
    run_dir = view_root / "runs" / "qwen-n8"
    problems = problems_of(run_dir)
    expected = sorted((s for s in samples_of(run_dir) if keep(s, problems[s["problem_id"]])), key=natural)
    got = every_page(catalog, run="qwen-n8", bench="math", **filters)
    assert [(r["problem_id"], r["sample_index"]) for r in got] == [
        (s["problem_id"], s["sample_index"]) for s in expected]
    assert all(r["correct"] == s["correct"] and r["tokens"] == s["tokens"] for r, s in zip(got, expected, strict=True))


def test_sorting_is_stable_by_problem_then_sample(catalog):
    rows = every_page(catalog, run="qwen-n8", bench="math", sort="tokens", order="desc")
    keys = [(-r["tokens"], natural_key(r["problem_id"]), r["sample_index"]) for r in rows]
    assert keys == sorted(keys) and len(rows) == 808
    by_index = every_page(catalog, run="qwen-n8", bench="math", sort="sample")
    assert [r["sample_index"] for r in by_index] == sorted(r["sample_index"] for r in by_index)


def test_problem_table_counts_pass_at_k_and_majority(catalog, view_root):
    run_dir = view_root / "runs" / "qwen-n8"
    by_problem: dict[str, list[dict]] = {}
    for s in samples_of(run_dir):
        by_problem.setdefault(s["problem_id"], []).append(s)
    rows = every_page(catalog, run="qwen-n8", bench="math", view="problems", k="4")
    assert [r["problem_id"] for r in rows] == sorted(by_problem, key=natural_key)
    shares = []
    for r in rows:
        group = sorted(by_problem[r["problem_id"]], key=lambda s: s["sample_index"])
        c = sum(s["correct"] for s in group)
        assert (r["n"], r["correct"]) == (len(group), c)
        assert r["pass_at_k"] == pytest.approx(pass_at_k(len(group), c, 4))
        assert r["verdicts"] == [int(s["correct"]) for s in group]
        votes = Counter("=gold" if s["correct"] else normalised(s["extracted"]) for s in group
                        if (s["extracted"] or "").strip())
        top = max(votes.values())
        assert r["majority"]["votes"] == top and r["majority"]["tie"] == (list(votes.values()).count(top) > 1)
        winners = [k for k, v in votes.items() if v == top]
        shares.append(winners.count("=gold") / len(winners))
        assert r["majority"]["share_correct"] == pytest.approx(shares[-1])
    # with k = n, maj@n is the majority over all samples: our grouping gives metrics.json's number (which
    # groups answers by the grader's equivalence) on these 101 problems
    maj = json.loads((run_dir / "metrics.json").read_text())["math"]["maj@8"]
    assert sum(shares) / len(shares) == pytest.approx(maj)


def test_problem_filters_keep_problems_with_a_matching_sample(catalog, view_root):
    run_dir = view_root / "runs" / "qwen-n8"
    wrong = {s["problem_id"] for s in samples_of(run_dir) if not s["correct"]}
    rows = every_page(catalog, run="qwen-n8", bench="math", view="problems", verdict="wrong", sort="accuracy")
    assert {r["problem_id"] for r in rows} == wrong
    accuracy = [r["correct"] / r["n"] for r in rows]
    assert accuracy == sorted(accuracy) and rows[0]["problem_id"] == HOSTILE_ID


def test_one_sample_with_prompt_turns_and_long_fields(catalog, view_root):
    s = answer(catalog, "sample", {"run": "qwen-n8", "bench": "math", "problem": HOSTILE_ID, "index": "3"})
    assert s["completion"]["cut"] and s["completion"]["length"] == len(HOSTILE_COMPLETIONS[3]) > MILLION - 1
    assert len(s["completion"]["text"]) == 20_000 and s["gold"]["text"] == "<b>1</b>" and s["labels"]["level"] == "1"
    assert [t["role"] for t in s["prompt"]["turns"]] == ["system", "user"] and s["prompt"]["format"] == "chatml"
    assert s["prompt"]["turns"][1]["content"]["text"].startswith("<script>")
    assert [x["sample_index"] for x in s["siblings"]] == list(range(8))
    rest = answer(catalog, "field", {"run": "qwen-n8", "bench": "math", "problem": HOSTILE_ID, "index": "3",
                                     "name": "completion", "start": "20000"})
    full = next(x for x in samples_of(view_root / "runs" / "qwen-n8")
                if x["problem_id"] == HOSTILE_ID and x["sample_index"] == 3)["completion"]
    assert s["completion"]["text"] + rest["text"] == full and rest["next"] is None
    think = answer(catalog, "sample", {"run": "qwen-n8", "bench": "math", "problem": HOSTILE_ID, "index": "2"})
    assert think["thinking"]["thinking"]["text"].startswith("let me think") and think["thinking"]["answer"]["text"]


def test_code_sample_reports_tests_per_set(catalog, code_run):
    code_catalog = Catalog.from_entries(discover([str(code_run)]))
    recorded = {s["problem_id"]: s for s in samples_of(code_run)}
    for pid, record in recorded.items():
        s = answer(code_catalog, "sample", {"run": "code", "bench": "humanevalplus", "problem": pid, "index": "0"})
        assert s["code"] and s["extracted"]["text"] == record["extracted"]
        tests = {t["name"]: t for t in s["tests"]}
        assert {k: t["passed"] for k, t in tests.items()} == record["subscores"]
        failing = re.match(r"(base|plus): \w+: input (\d+)", record["reason"])
        if failing:
            assert tests[failing.group(1)]["failed_input"] == int(failing.group(2))
    # evalplus's own labels for these solutions (PR 247 results) are what the page shows
    s = answer(code_catalog, "sample", {"run": "code", "bench": "humanevalplus", "problem": "HumanEval/9",
                                        "index": "0"})
    assert [(t["name"], t["passed"]) for t in s["tests"]] == [("base", False), ("plus", True)]


def test_compare_cells_and_the_report_paired_test(catalog, view_root, tmp_path):
    a_dir, b_dir = view_root / "runs" / "ckpt" / "step-100", view_root / "runs" / "ckpt" / "step-200"
    a = {s["problem_id"]: s["correct"] for s in samples_of(a_dir)}
    b = {s["problem_id"]: s["correct"] for s in samples_of(b_dir)}
    expected = Counter("both_right" if a[p] and b[p] else "only_a" if a[p] else "only_b" if b[p] else "both_wrong"
                       for p in a)
    got = answer(catalog, "compare", {"a": "ckpt/step-100", "b": "ckpt/step-200", "bench": "math", "cell": "only_b"})
    assert got["cells"] == {k: expected[k] for k in ("both_right", "only_a", "only_b", "both_wrong")}
    assert [r["problem_id"] for r in got["rows"]] == sorted((p for p in a if b[p] and not a[p]), key=natural_key)
    from evalkit.cli import app

    report_csv = tmp_path / "report.csv"
    result = CliRunner().invoke(app, ["report", str(a_dir), str(b_dir), "--baseline", str(a_dir), "--csv",
                                      str(report_csv), "--output", str(tmp_path / "report.md")])
    assert result.exit_code == 0, result.output
    diff = next(r for r in csv.DictReader(report_csv.open()) if r["metric"] == "diff_vs_baseline")
    t = got["test"]
    assert t["test"] == "exact McNemar" and t["n_shared"] == int(diff["n"])
    assert t["diff"] == pytest.approx(float(diff["value"])) and t["p_value"] == pytest.approx(float(diff["p_value"]))
    assert t["ci"] == pytest.approx([float(diff["ci_low"]), float(diff["ci_high"])])


def test_compare_with_several_samples_uses_the_bootstrap(catalog):
    got = answer(catalog, "compare", {"a": "ckpt/step-100", "b": "qwen-n8", "bench": "math", "cell": "both_wrong"})
    assert got["test"]["test"] == "paired bootstrap" and got["n_shared"] == 101
    assert sum(got["cells"].values()) == 101


@pytest.mark.parametrize("endpoint,params,status", [
    ("samples", {"run": "nope", "bench": "math"}, 404),
    ("samples", {"run": "qwen-n8", "bench": "gsm8k"}, 404),
    ("samples", {"run": "train-grpo", "bench": "math"}, 404),
    ("samples", {"run": "qwen-n8", "bench": "math", "verdict": "<script>"}, 400),
    ("samples", {"run": "qwen-n8", "bench": "math", "page": "x"}, 400),
    ("samples", {"run": "qwen-n8", "bench": "math", "per_page": "100000"}, 400),
    ("sample", {"run": "qwen-n8", "bench": "math", "problem": "../../etc/passwd", "index": "0"}, 404),
    ("field", {"run": "qwen-n8", "bench": "math", "problem": HOSTILE_ID, "index": "0", "name": "__class__"}, 404),
    ("nothing", {}, 404),
])
def test_bad_requests_are_answered_with_a_status_and_one_line(catalog, endpoint, params, status):
    with pytest.raises(ApiError) as err:
        answer(catalog, endpoint, params)
    assert err.value.status == status and "\n" not in str(err.value)


def test_runs_list_has_the_report_numbers_and_the_training_curves(catalog, view_root):
    runs = answer(catalog, "runs", {})
    by_id = {r["id"]: r for r in runs["runs"]}
    assert set(by_id) == {"ckpt/step-100", "ckpt/step-200", "qwen-n8"}
    metrics = json.loads((view_root / "runs" / "qwen-n8" / "metrics.json").read_text())["math"]
    row = by_id["qwen-n8"]["results"]["math"]
    assert row["accuracy"] == pytest.approx(metrics["accuracy"])
    assert row["ci"] == pytest.approx(metrics["accuracy_ci95"])
    assert row["pass"]["8"] == pytest.approx(metrics["pass@8"]) and row["maj"]["8"] == pytest.approx(metrics["maj@8"])
    assert row["truncation"] == pytest.approx(metrics["truncation_rate"])
    assert by_id["qwen-n8"]["status"] == "complete" and "sampling.n" in runs["differing"]
    train = runs["training"][0]
    assert train["id"] == "train-grpo" and train["steps_done"] == 4 and train["status"] == "complete"
    records = [json.loads(x) for x in (view_root / "runs" / "train-grpo" / "metrics.jsonl").read_text().splitlines()]
    entropy = next(c for c in runs["curves"] if c["key"] == "entropy")["series"][0]
    assert entropy["steps"] == [r["step"] for r in records if "entropy" in r]
    assert entropy["values"] == pytest.approx([r["entropy"] for r in records if "entropy" in r])


def test_timeouts_and_an_unfinished_run(view_root, tmp_path):
    run_dir = tmp_path / "runs" / "partial"
    shutil.copytree(view_root / "runs" / "ckpt" / "step-100", run_dir)
    records = samples_of(run_dir)[:30]
    records[3]["reason"], records[4]["reason"] = "timeout", "base: timeout: input 2: time limit exceeded"
    (run_dir / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run_dir / "metrics.json").unlink()
    cat = Catalog.from_entries(discover([str(tmp_path / "runs")]))
    got = answer(cat, "samples", {"run": "partial", "bench": "math", "verdict": "timeout"})
    assert [r["problem_id"] for r in got["rows"]] == sorted([records[3]["problem_id"], records[4]["problem_id"]],
                                                             key=natural_key)
    row = answer(cat, "runs", {})["runs"][0]
    assert row["status"] in ("incomplete", "running") and any("metrics.json" in n for n in row["notes"])
