"""A Report -> markdown (GitHub tables) and a tidy CSV (one row per run, benchmark, subset and metric).

Owns formatting only; every number comes from reports/build.py. Cells are escaped so a pipe or a
newline in a setting (a system prompt, say) cannot break a table.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from reports.build import BenchmarkResult, Report
from reports.settings import reproduce_command
from reports.stats import ALPHA, BOOTSTRAP, MCNEMAR, Estimate

CSV_COLUMNS = ("run", "model", "checkpoint_step", "benchmark", "subset", "metric", "value", "ci_low", "ci_high",
               "n", "p_value")


@dataclass(frozen=True)
class Column:
    """A benchmark metric column of the results table."""

    benchmark: str
    title: str
    kind: str  # "accuracy" | "pass" | "subscore" | "maj"
    k: int = 1
    subscore: str = ""


@dataclass(frozen=True)
class PlotRef:
    """A written plot, as the markdown links it."""

    title: str
    link: str  # relative to the markdown file


def escape(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    right = right or [False] * len(header)
    lines = ["| " + " | ".join(escape(h) for h in header) + " |",
             "|" + "|".join("---:" if r else "---" for r in right) + "|"]
    lines += ["| " + " | ".join(escape(c) or " " for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def with_ci(e: Estimate) -> str:
    if e.ci_low is None or e.ci_high is None:
        return pct(e.value)
    return f"{pct(e.value)} [{100 * e.ci_low:.1f}, {100 * e.ci_high:.1f}]"


def pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def p_value(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def pass_ks(report: Report, bench: str) -> list[int]:
    """The k columns for a benchmark: each run's largest k (n samples per problem), when above 1."""
    ks = {r.samples_per_problem for (_, b), r in report.results.items() if b == bench}
    return sorted(k for k in ks if k > 1)


def maj_ks(report: Report, bench: str) -> list[int]:
    ks = {max(r.maj_at_k) for (_, b), r in report.results.items() if b == bench and r.maj_at_k}
    return sorted(k for k in ks if k > 1)


def subscore_names(report: Report, bench: str) -> list[str]:
    return sorted({s for (_, b), r in report.results.items() if b == bench for s in r.subscore_pass_at_k})


def render_markdown(report: Report, plots: Sequence[PlotRef] = ()) -> str:
    parts = [f"# evalkit report\n\n{len(report.runs)} runs, {len(report.benchmarks)} benchmarks"
             + (f", baseline **{report.baseline}**." if report.baseline else ".")]
    if report.warnings:
        parts.append(_warnings(report))
    parts.append(_results(report))
    if report.baseline:
        parts.append(_comparisons(report))
    parts.append(_generation(report))
    if report.breakdowns:
        parts.append(_breakdowns(report))
    if plots:
        parts.append("## Plots\n\n" + "\n\n".join(f"### {p.title}\n\n![{p.title}](<{p.link}>)" for p in plots))
    parts.append(_settings(report))
    return "\n\n".join(parts) + "\n"


def _warnings(report: Report) -> str:
    out = ["## Warnings", "\n".join(f"- {escape(w)}" for w in report.warnings)]
    for m in report.mismatches:
        out.append(f"**{m.benchmark}: {m.what} differs**\n\n"
                   + md_table(["run", m.what], [[label, value] for label, value in m.values.items()]))
    return "\n\n".join(out)


def _results(report: Report) -> str:
    has_step = any(r.checkpoint_step is not None for r in report.runs)
    has_model = any(r.label != r.config.model.name for r in report.runs)
    leading = [("run", False)] + [("model", False)] * has_model + [("step", True)] * has_step
    leading += [(key, False) for key in report.differing_settings]
    header = [h for h, _ in leading]
    right = [r for _, r in leading]
    columns: list[Column] = []
    for bench in report.benchmarks:
        columns.append(Column(bench, "accuracy [95% CI]", "accuracy"))
        columns += [Column(bench, f"pass@{k}", "pass", k=k) for k in pass_ks(report, bench)]
        columns += [Column(bench, f"{s} pass@1", "subscore", subscore=s) for s in subscore_names(report, bench)]
        columns += [Column(bench, f"maj@{k}", "maj", k=k) for k in maj_ks(report, bench)]
    header += [f"{c.benchmark} {c.title}" for c in columns]
    right += [True] * len(columns)
    rows = []
    for run in report.runs:
        settings = run.settings
        row = [run.label] + ([run.config.model.name] if has_model else [])
        if has_step:
            row.append("" if run.checkpoint_step is None else str(run.checkpoint_step))
        row += [settings.get(k, "—") for k in report.differing_settings]
        for col in columns:
            result = report.results.get((run.label, col.benchmark))
            row.append("—" if result is None else _cell(result, col))
        rows.append(row)
    notes = ("accuracy: share of correct samples; 95% CI over problems (Wilson with one sample per problem, "
             "else normal over per-problem accuracies). pass@k: unbiased estimator (Chen et al. 2021) over "
             "problems, shown for each run's largest k. maj@k: expected majority vote over k-subsets with answers "
             "clustered by the benchmark's equivalence, from metrics.json. — : not available.")
    return "## Results\n\n" + md_table(header, rows, right) + "\n\n" + notes


def _cell(result: BenchmarkResult, col: Column) -> str:
    if col.kind == "accuracy":
        return with_ci(result.accuracy)
    if col.kind == "pass":
        value = result.pass_at_k[col.k].value if col.k in result.pass_at_k else None
    elif col.kind == "subscore":
        by_k = result.subscore_pass_at_k.get(col.subscore, {})
        value = by_k[1].value if 1 in by_k else None
    else:
        value = result.maj_at_k.get(col.k)
    return "—" if value is None else pct(value)


def _comparisons(report: Report) -> str:
    header = ["run", "benchmark", "shared problems", "run acc", "baseline acc", "Δ (pp)", "95% CI (pp)", "p-value",
              "test", "better / worse", "significant", "caveat"]
    right = [False, False, True, True, True, True, True, True, False, True, False, False]
    rows = []
    for c in report.comparisons:
        r = c.result
        rows.append([c.run, c.benchmark, str(r.n_shared), pct(r.run_mean), pct(r.base_mean), pp(r.diff),
                     f"[{pp(r.ci_low)}, {pp(r.ci_high)}]", p_value(r.p_value), r.test, f"{r.better} / {r.worse}",
                     "**yes**" if r.significant else "no",
                     ("differs in " + ", ".join(c.caveats)) if c.caveats else ""])
    method = (f"Paired on the problems both runs graded, per-problem mean correctness. p-value: {MCNEMAR} "
              f"(two-sided binomial on the problems only one run solved) when both runs have one sample per "
              f"problem, else {BOOTSTRAP} (resampled means centred on the null). 95% CI: {BOOTSTRAP} percentile "
              "interval. The bootstrap distribution is computed exactly (a convolution over resampled problems, no "
              f"random draws; {report.n_boot} draws with seed {report.seed} only when sample counts per problem vary "
              f"too much for that). Significant: p < {ALPHA}, per comparison (no correction for multiple "
              "comparisons). better / worse: shared problems where the run scored higher / lower.")
    body = md_table(header, rows, right) if rows else "No run shares problems with the baseline."
    return f"## Against the baseline ({report.baseline})\n\n{body}\n\n{method}"


def _thinking_benchmarks(report: Report) -> set[str]:
    return {b for (_, b), r in report.results.items() if r.truncated_thinking is not None}


def _generation(report: Report) -> str:
    thinking = _thinking_benchmarks(report)
    header = ["run"]
    for bench in report.benchmarks:
        header.append(f"{bench} truncated")
        if bench in thinking:
            header += [f"{bench} cut while thinking", f"{bench} cut after thinking"]
        header += [f"{bench} mean tokens", f"{bench} samples"]
    rows = []
    for run in report.runs:
        row = [run.label]
        for bench in report.benchmarks:
            r = report.results.get((run.label, bench))
            width = 5 if bench in thinking else 3
            if r is None:
                row += ["—"] * width
                continue
            row.append(pct(r.truncation.value))
            if bench in thinking:
                row += ["—" if r.truncated_thinking is None else pct(r.truncated_thinking),
                        "—" if r.truncated_after_thinking is None else pct(r.truncated_after_thinking)]
            row += [f"{r.mean_tokens:.0f}", str(r.n_samples)]
        rows.append(row)
    note = "truncated: share of samples that stopped at the token limit (finish_reason = length)."
    if thinking:
        note += (" For reasoning models it splits into samples cut while still thinking (no `</think>`: no "
                 "answer at all) and cut after `</think>` (while writing the answer).")
    return "## Generation\n\n" + md_table(header, rows, [False] + [True] * (len(header) - 1)) + "\n\n" + note


def _breakdowns(report: Report) -> str:
    out = ["## Breakdowns"]
    for bench, keys in report.breakdowns.items():
        for key, per_run in keys.items():
            values = list(dict.fromkeys(v for table in per_run.values() for v in table))
            sizes = {v: {t[v].n_problems for t in per_run.values() if v in t} for v in values}
            header = ["run"] + [f"{key} {v}" + (f" (n={next(iter(sizes[v]))})" if len(sizes[v]) == 1 else "")
                                for v in values]
            rows = []
            for run in report.runs:
                table = per_run.get(run.label)
                row = [run.label]
                for v in values:
                    entry = table.get(v) if table else None
                    if entry is None:
                        row.append("—")
                    else:
                        n_note = f" (n={entry.n_problems})" if len(sizes[v]) > 1 else ""
                        ci = entry.accuracy_ci95
                        cell = with_ci(Estimate(entry.accuracy, ci[0], ci[1], entry.n_problems) if ci else
                                       Estimate(entry.accuracy, None, None, entry.n_problems))
                        row.append(cell + n_note)
                rows.append(row)
            out.append(f"### {bench} by {key}\n\n" + md_table(header, rows, [False] + [True] * len(values)))
    out.append("Accuracy per group with its 95% interval over the group's problems (runs written before "
               "intervals were recorded show none), from each run's metrics.json (the samples do not carry "
               "problem metadata).")
    return "\n\n".join(out)


def _settings(report: Report) -> str:
    common = [[k, v] for k, v in report.common_settings.items() if k != "created"]
    runs = [[r.label, str(r.path), r.config.model.path, r.config.created] for r in report.runs]
    text = "## Settings\n\n"
    if report.differing_settings:
        text += "Differing between runs (columns of the results table): " + \
            ", ".join(f"`{k}`" for k in report.differing_settings) + ".\n\n"
    text += "Shared by every run (per-benchmark settings: by every run of that benchmark):\n\n"
    text += md_table(["setting", "value"], common) + "\n\n"
    text += md_table(["run", "directory", "model path", "created"], runs) + "\n\n"
    commands = "\n".join(f"# {escape(r.label)}\n{reproduce_command(r)}" for r in report.runs)
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall("`+", commands)), default=0))
    text += f"To regenerate the runs:\n\n{fence}sh\n{commands}\n{fence}"
    return text


def tidy_rows(report: Report) -> list[dict[str, object]]:
    """One row per (run, benchmark, subset, metric); subset is "all" or "<key>=<value>" for breakdowns."""
    rows: list[dict[str, object]] = []
    for run in report.runs:
        base: dict[str, object] = {"run": run.label, "model": run.config.model.name,
                                   "checkpoint_step": "" if run.checkpoint_step is None else run.checkpoint_step}

        def add(bench: str, metric: str, e: Estimate | float, n: int, subset: str = "all", p: float | None = None,
                base: dict[str, object] = base) -> None:
            est = e if isinstance(e, Estimate) else Estimate(float(e), None, None, n)
            rows.append({**base, "benchmark": bench, "subset": subset, "metric": metric, "value": est.value,
                         "ci_low": "" if est.ci_low is None else est.ci_low,
                         "ci_high": "" if est.ci_high is None else est.ci_high, "n": n,
                         "p_value": "" if p is None else p})

        for bench in report.benchmarks:
            r = report.results.get((run.label, bench))
            if r is None:
                continue
            add(bench, "accuracy", r.accuracy, r.accuracy.n)
            for k, e in r.pass_at_k.items():
                add(bench, f"pass@{k}", e, e.n)
            for sub, by_k in r.subscore_pass_at_k.items():
                for k, e in by_k.items():
                    add(bench, f"{sub}_pass@{k}", e, e.n)
            for k, v in r.maj_at_k.items():
                add(bench, f"maj@{k}", v, r.accuracy.n)
            add(bench, "truncation_rate", r.truncation, r.truncation.n)
            if r.truncated_thinking is not None:
                add(bench, "truncated_thinking_rate", r.truncated_thinking, r.n_samples)
            if r.truncated_after_thinking is not None:
                add(bench, "truncated_after_thinking_rate", r.truncated_after_thinking, r.n_samples)
            add(bench, "mean_tokens", r.mean_tokens, r.n_samples)
            for key, per_run in report.breakdowns.get(bench, {}).items():
                for value, group in per_run.get(run.label, {}).items():
                    subset = f"{key}={value}"
                    ci = group.accuracy_ci95
                    accuracy = Estimate(group.accuracy, ci[0] if ci else None, ci[1] if ci else None,
                                        group.n_problems)
                    add(bench, "accuracy", accuracy, group.n_problems, subset=subset)
                    for k, v in group.pass_at_k.items():
                        add(bench, f"pass@{k}", v, group.n_problems, subset=subset)
        for c in report.comparisons:
            if c.run == run.label:
                paired = c.result
                diff = Estimate(paired.diff, paired.ci_low, paired.ci_high, paired.n_shared)
                add(c.benchmark, "diff_vs_baseline", diff, paired.n_shared, p=paired.p_value)
    return rows


def render_csv(report: Report) -> str:
    return csv_text(tidy_rows(report))


def csv_text(rows: Sequence[dict[str, object]]) -> str:
    """The tidy CSV of `rows` (CSV_COLUMNS), header first."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
