"""`evalkit report` end to end on constructed runs: every number against a hand computation.

The markdown is parsed with markdown-it-py (GFM tables), so a table that does not parse as a table
fails; plots must be real, non-empty PNGs linked from the markdown.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pandas as pd
import pytest
from markdown_it import MarkdownIt
from report_runs import Item, cell, tables, wilson_pct
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.metrics import Z_95
from graders.math import GRADER_VERSION

runner = CliRunner()

LEVELS = {f"p{i:03d}": {"level": "1" if i < 5 else "2", "subject": "Algebra"} for i in range(10)}


def math_items(outcomes: list[int], truncated_last: bool = False) -> dict[str, Item]:
    return {pid: Item([bool(o)], metadata=LEVELS[pid], tokens=[110 if truncated_last and i == 9 else 10],
                      truncated=[truncated_last and i == 9])
            for i, (pid, o) in enumerate(zip(LEVELS, outcomes, strict=True))}


def gsm_items(correct_counts: list[int]) -> dict[str, Item]:
    return {f"g{i}": Item([j < c for j in range(4)]) for i, c in enumerate(correct_counts)}


@pytest.fixture
def three_runs(make_run):
    """base: MATH-500 3/10 (one sample), GSM8K 4 samples; new: 9/10 and more GSM8K; odd: another grader."""
    base = make_run("runs/base", {"math500": math_items([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], truncated_last=True),
                                  "gsm8k": gsm_items([2, 0, 0])}, name="ckpt/step-100", path="/ck/step-100",
                    step=100, temperature=0.6)
    new = make_run("runs/new", {"math500": math_items([1, 1, 1, 1, 1, 1, 1, 1, 1, 0]),
                                "gsm8k": gsm_items([4, 2, 0])}, name="ckpt/step-200", path="/ck/step-200",
                   step=200, temperature=0.6)
    odd = make_run("runs/odd", {"math500": math_items([0, 1, 0, 0, 0, 0, 0, 0, 0, 0])}, name="other",
                   graders={"math500": "graders.math@1"})
    return base, new, odd


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_report_numbers_match_hand_computations(three_runs, tmp_path):
    base, new, odd = three_runs
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", str(tmp_path / "runs" / "*"), "--baseline", str(base),
                                 "--output", str(out / "report.md"), "--csv", str(out / "report.csv"),
                                 "--plots", str(out / "plots")])
    assert result.exit_code == 0, result.output
    markdown = (out / "report.md").read_text()
    t = tables(markdown)

    results = t["Results"]
    assert results[0][:3] == ["run", "step", "sampling.n"]  # labels are the model names; n and T differ
    assert [r[0] for r in results[1]] == ["ckpt/step-100", "ckpt/step-200", "other"]  # baseline first
    assert cell(results, "ckpt/step-100", "math500 accuracy [95% CI]") == wilson_pct(3, 10)
    assert cell(results, "ckpt/step-200", "math500 accuracy [95% CI]") == wilson_pct(9, 10)
    assert cell(results, "other", "gsm8k accuracy [95% CI]") == "—"
    # GSM8K, 4 samples: new has c = 4, 2, 0 -> accuracy 6/12, pass@4 = 2/3, maj@4 = (1 + 1/2 + 0) / 3
    per_problem = [1, 0.5, 0]
    sd = math.sqrt(sum((a - 0.5) ** 2 for a in per_problem) / 2)
    lo, hi = max(0, 0.5 - Z_95 * sd / math.sqrt(3)), min(1, 0.5 + Z_95 * sd / math.sqrt(3))
    assert cell(results, "ckpt/step-200", "gsm8k accuracy [95% CI]") == f"50.0% [{100 * lo:.1f}, {100 * hi:.1f}]"
    assert cell(results, "ckpt/step-200", "gsm8k pass@4") == "66.7%"
    assert cell(results, "ckpt/step-200", "gsm8k maj@4") == "50.0%"
    assert cell(results, "ckpt/step-100", "gsm8k maj@4") == "16.7%"  # c = 2, 0, 0: a tie in the first
    assert cell(results, "ckpt/step-100", "step") == "100" and cell(results, "other", "step") == ""

    paired = t["Against the baseline (ckpt/step-100)"]
    header, rows = paired
    math_row = dict(zip(header, next(r for r in rows if r[:2] == ["ckpt/step-200", "math500"]), strict=True))
    # one sample each: McNemar; new solves p003..p008 that base missed, loses none -> p = 2 / 2^6
    assert math_row["shared problems"] == "10" and math_row["better / worse"] == "6 / 0"
    assert math_row["Δ (pp)"] == "+60.0" and math_row["test"] == "exact McNemar"
    assert math_row["p-value"] == f"{2 / 64:.4f}" and math_row["significant"] == "**yes**"
    gsm_row = dict(zip(header, next(r for r in rows if r[:2] == ["ckpt/step-200", "gsm8k"]), strict=True))
    # 4 samples: bootstrap on d = (4-2, 2-0, 0-0) / 4; resamples of 3 problems: all 27 enumerated by hand below
    means = sorted((a + b + c) / 12 for a in (2, 2, 0) for b in (2, 2, 0) for c in (2, 2, 0))
    p_boot = sum(abs(m - 1 / 3) >= 1 / 3 - 1e-12 for m in means) / 27  # only the all-zero resample: 1/27
    assert gsm_row["Δ (pp)"] == "+33.3" and gsm_row["test"] == "paired bootstrap"
    assert gsm_row["p-value"] == f"{p_boot:.4f}" and gsm_row["significant"] == "**yes**"
    assert gsm_row["95% CI (pp)"] == f"[{100 * means[0]:+.1f}, {100 * means[-1]:+.1f}]"
    odd_row = dict(zip(header, next(r for r in rows if r[0] == "other"), strict=True))
    # other: 0 1 0 0 ... against 1 1 1 0 ...: worse on p000 and p002 -> p = 2 * P(Bin(2, 1/2) <= 0)
    assert odd_row["caveat"] == "differs in grader" and odd_row["better / worse"] == "0 / 2"
    assert odd_row["p-value"] == f"{2 / 4:.4f}" and odd_row["significant"] == "no"

    assert "1 bootstrap comparisons rest on fewer than 20 shared problems (ckpt/step-200 on gsm8k)" in markdown

    generation = t["Generation"]
    assert cell(generation, "ckpt/step-100", "math500 truncated") == "10.0%"
    assert cell(generation, "ckpt/step-100", "math500 mean tokens") == "20"  # (9 * 10 + 110) / 10
    assert cell(generation, "ckpt/step-200", "gsm8k samples") == "12"

    by_level = t["math500 by level"]
    assert by_level[0] == ["run", "level 1 (n=5)", "level 2 (n=5)"]
    # each group with its interval over the group's problems (one sample per problem: Wilson)
    assert by_level[1] == [["ckpt/step-100", wilson_pct(3, 5), wilson_pct(0, 5)],
                           ["ckpt/step-200", wilson_pct(5, 5), wilson_pct(4, 5)],
                           ["other", wilson_pct(1, 5), wilson_pct(0, 5)]]

    mismatch = t["math500: grader differs"]
    current = f"graders.math@{GRADER_VERSION}"
    assert mismatch[1] == [["ckpt/step-100", current], ["ckpt/step-200", current], ["other", "graders.math@1"]]
    assert "math500: runs differ in grader" in markdown

    csv = pd.read_csv(out / "report.csv")
    acc = csv[(csv.subset == "all") & (csv.metric == "accuracy")].pivot(index="run", columns="benchmark",
                                                                        values="value")
    assert acc.loc["ckpt/step-200", "math500"] == pytest.approx(0.9)
    assert acc.loc["ckpt/step-100", "gsm8k"] == pytest.approx(2 / 12)
    row = csv[(csv.run == "ckpt/step-200") & (csv.benchmark == "gsm8k") & (csv.metric == "pass@2")].iloc[0]
    assert row.value == pytest.approx((1 + 5 / 6 + 0) / 3) and row.n == 3  # 1 - C(2,2)/C(4,2) = 5/6
    diff = csv[(csv.run == "ckpt/step-200") & (csv.metric == "diff_vs_baseline") & (csv.benchmark == "math500")]
    assert diff.iloc[0].value == pytest.approx(0.6) and diff.iloc[0].p_value == pytest.approx(2 / 64)
    level = csv[(csv.run == "ckpt/step-100") & (csv.subset == "level=1") & (csv.metric == "accuracy")]
    assert level.iloc[0].value == pytest.approx(0.6) and level.iloc[0].n == 5

    images = [tok for block in MarkdownIt("commonmark").parse(markdown) if block.children
              for tok in block.children if tok.type == "image"]
    links = sorted(tok.attrs["src"] for tok in images)
    assert links == sorted(f"plots/{p.name}" for p in (out / "plots").iterdir())
    assert {"plots/passk-gsm8k.png", "plots/steps-math500.png", "plots/breakdown-math500-level.png"} <= set(links)
    for link in links:
        width, height = png_size(out / link)
        assert width > 100 and height > 100 and (out / link).stat().st_size > 5000


def test_markdown_goes_to_stdout_without_output(three_runs):
    base, new, _ = three_runs
    result = runner.invoke(app, ["report", str(base), str(new)])
    assert result.exit_code == 0, result.output
    t = tables(result.stdout)
    assert "Results" in t and "Against the baseline (ckpt/step-100)" not in t
    warnings = result.stdout.split("## Warnings", 1)[1].split("\n## ", 1)[0].strip().splitlines()
    # same data, grader and prompts: the only warning is the baseline's truncation (1 of 10 samples)
    assert warnings == ["- ckpt/step-100: 10.0% of math500 samples hit the token limit (max_tokens 1024); its score "
                        "measures length as much as skill"]


def test_baseline_outside_the_run_list_is_added_first(three_runs):
    base, new, _ = three_runs
    result = runner.invoke(app, ["report", str(new), "--baseline", str(base)])
    assert result.exit_code == 0, result.output
    results = tables(result.stdout)["Results"]
    assert [r[0] for r in results[1]] == ["ckpt/step-100", "ckpt/step-200"]


def test_differing_data_and_prompts_are_warned_about(make_run):
    a = make_run("a", {"gsm8k": gsm_items([1, 2])}, name="m1")
    b = make_run("b", {"gsm8k": gsm_items([1, 2, 3])}, name="m2", content_hash="data-v2", num_fewshot=4)
    result = runner.invoke(app, ["report", str(a), str(b), "--baseline", str(a)])
    assert result.exit_code == 0, result.output
    t = tables(result.stdout)
    assert t["gsm8k: data version differs"][1] == [["m1", "data-v1"], ["m2", "data-v2"]]
    assert t["gsm8k: few-shot examples differs"][1] == [["m1", "0"], ["m2", "4"]]
    assert t["gsm8k: problems differs"][1] == [["m1", "2 problems"], ["m2", "3 problems"]]
    caveat = cell(t["Against the baseline (m1)"], "m2", "caveat")
    assert caveat == "differs in data version, few-shot examples"
    assert cell(t["Against the baseline (m1)"], "m2", "shared problems") == "2"


@pytest.mark.parametrize("args", [["missing-dir"], ["runs-that-do-not-exist-*"]])
def test_bad_input_exits_2_with_one_line(tmp_path, args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2
    assert "error:" in result.output and len(result.output.strip().splitlines()) <= 3


def test_pipes_and_newlines_in_settings_cannot_break_tables(make_run):
    a = make_run("a", {"gsm8k": gsm_items([1])}, name="m|1")
    b = make_run("b", {"gsm8k": gsm_items([2])}, name="m\n2")
    result = runner.invoke(app, ["report", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert [r[0] for r in tables(result.stdout)["Results"][1]] == ["m|1", "m 2"]  # the parser unescapes \\|


def test_settings_section_gives_a_command_that_regenerates_each_run(make_run):
    import shlex

    a = make_run("a", {"gsm8k": gsm_items([1])}, name="m1", temperature=0.7, num_fewshot=2)
    result = runner.invoke(app, ["report", str(a)])
    assert result.exit_code == 0, result.output
    fenced = [tok for tok in MarkdownIt("commonmark").parse(result.stdout) if tok.type == "fence"]
    assert len(fenced) == 1 and fenced[0].info == "sh"
    lines = fenced[0].content.splitlines()
    assert lines[0] == "# m1"
    args = shlex.split(lines[1])
    assert args[:4] == ["evalkit", "run", "--model", "m1"]
    flags = {a: (b if not b.startswith("--") else "") for a, b in zip(args, [*args[1:], "--"], strict=True)
             if a.startswith("--")}
    assert flags["--temperature"] == "0.7" and flags["--n"] == "4" and flags["--num-fewshot"] == "2"
    assert flags["--benchmarks"] == "gsm8k" and flags["--engine"] == "hf" and flags["--data-dir"] == "/data"
    assert "--chat-template" in flags and flags["--output"] == str(a)


def test_a_run_without_samples_still_gets_a_row(make_run):
    a = make_run("a", {"gsm8k": gsm_items([1, 2])}, name="m1")
    b = make_run("b", {"gsm8k": gsm_items([3])}, name="m2", with_metrics=False)
    (b / "samples.jsonl").write_text("")
    result = runner.invoke(app, ["report", str(a), str(b), "--baseline", str(b)])
    assert result.exit_code == 0, result.output
    t = tables(result.stdout)
    assert cell(t["Results"], "m2", "gsm8k accuracy [95% CI]") == "—"
    assert "- m2: no samples for gsm8k" in result.stdout
    assert "No run shares problems with the baseline." in result.stdout
