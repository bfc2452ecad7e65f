"""Runs -> a Report: every number the markdown, the CSV and the plots show, computed once.

Owns choosing the baseline, computing per-(run, benchmark) metrics and paired comparisons, and
gathering breakdowns and warnings. Rendering lives in reports/tables.py and reports/plots.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evalkit.metrics import wilson_interval
from evalkit.schema import GroupMetrics
from reports import settings as st
from reports.load import Run
from reports.stats import (
    BOOTSTRAP,
    MIN_BOOTSTRAP_PROBLEMS,
    N_BOOT,
    SEED,
    Estimate,
    PairedResult,
    accuracy,
    paired_comparison,
    pass_at_ks,
)

TRUNCATION_WARNING = 0.05  # share of samples at the token limit above which a score is mostly about length


@dataclass(frozen=True)
class BenchmarkResult:
    """One run on one benchmark."""

    accuracy: Estimate
    pass_at_k: dict[int, Estimate]
    subscore_pass_at_k: dict[str, dict[int, Estimate]]
    maj_at_k: dict[int, float]  # from metrics.json; empty when it is missing or stale
    truncation: Estimate  # share of samples that hit the token limit (Wilson interval over samples)
    mean_tokens: float
    n_samples: int
    samples_per_problem: int  # the smallest count over problems
    # reasoning models (metrics.json): shares cut at the token limit before / after `</think>`; else None
    truncated_thinking: float | None = None
    truncated_after_thinking: float | None = None


@dataclass(frozen=True)
class Comparison:
    run: str
    benchmark: str
    result: PairedResult
    caveats: list[str]  # comparability settings in which the run differs from the baseline


@dataclass
class Report:
    runs: list[Run]
    benchmarks: list[str]
    results: dict[tuple[str, str], BenchmarkResult]  # (run label, benchmark) -> result
    baseline: str | None
    comparisons: list[Comparison]
    common_settings: dict[str, str]
    differing_settings: list[str]
    mismatches: list[st.Mismatch]
    breakdowns: dict[str, dict[str, dict[str, dict[str, GroupMetrics]]]]  # bench -> key -> run label -> value -> group
    warnings: list[str] = field(default_factory=list)
    n_boot: int = N_BOOT
    seed: int = SEED


def benchmark_result(run: Run, bench: str) -> BenchmarkResult:
    counts = run.counts[bench]
    metrics = run.metrics.get(bench)
    truncated = int(counts.truncated.sum())
    lo, hi = wilson_interval(truncated, counts.n_samples)
    return BenchmarkResult(
        accuracy=accuracy(counts),
        pass_at_k=pass_at_ks(counts),
        subscore_pass_at_k={name: pass_at_ks(counts, c) for name, c in sorted(counts.subscores.items())},
        maj_at_k=dict(metrics.maj_at_k) if metrics is not None else {},
        truncation=Estimate(truncated / counts.n_samples, lo, hi, counts.n_samples),
        mean_tokens=float(counts.tokens.sum() / counts.n_samples),
        n_samples=counts.n_samples,
        samples_per_problem=int(counts.n.min()),
        truncated_thinking=metrics.truncated_thinking_rate if metrics is not None else None,
        truncated_after_thinking=metrics.truncated_after_thinking_rate if metrics is not None else None,
    )


def build_report(runs: list[Run], baseline: Run | None = None, n_boot: int = N_BOOT, seed: int = SEED) -> Report:
    """Everything the report shows; `baseline` must be one of `runs`."""
    benchmarks = list(dict.fromkeys(b for r in runs for b in r.config.benchmarks if b in r.counts))
    results = {(r.label, b): benchmark_result(r, b) for r in runs for b in benchmarks if b in r.counts}
    comparisons = _comparisons(runs, baseline, benchmarks, n_boot, seed) if baseline else []
    common, differing = st.common_and_differing(runs)
    mismatches = [m for b in benchmarks for m in st.mismatches(runs, b)]
    return Report(
        runs=runs, benchmarks=benchmarks, results=results, baseline=baseline.label if baseline else None,
        comparisons=comparisons, common_settings=common, differing_settings=differing, mismatches=mismatches,
        breakdowns=_breakdowns(runs, benchmarks), warnings=_warnings(runs, results, comparisons, mismatches),
        n_boot=n_boot, seed=seed,
    )


def _warnings(runs: list[Run], results: dict[tuple[str, str], BenchmarkResult], comparisons: list[Comparison],
              mismatches: list[st.Mismatch]) -> list[str]:
    """Everything a reader must know before trusting a number: damaged runs, truncation, thin tests, unfair pairs."""
    out = [f"{r.label}: {note}" for r in runs for note in r.notes]
    max_tokens = {r.label: r.config.sampling.max_tokens for r in runs}
    for (label, bench), r in results.items():
        if r.truncation.value > TRUNCATION_WARNING:
            out.append(f"{label}: {r.truncation.value:.1%} of {bench} samples hit the token limit (max_tokens "
                       f"{max_tokens[label]}); its score measures length as much as skill")
    few = [c for c in comparisons if c.result.test == BOOTSTRAP and c.result.n_shared < MIN_BOOTSTRAP_PROBLEMS]
    if few:
        named = ", ".join(f"{c.run} on {c.benchmark}" for c in few[:5]) + (", ..." if len(few) > 5 else "")
        out.append(f"{len(few)} bootstrap comparisons rest on fewer than {MIN_BOOTSTRAP_PROBLEMS} shared problems "
                   f"({named}); their p-values and intervals are optimistic")
    out += [f"{m.benchmark}: runs differ in {m.what}; their numbers are not directly comparable (see the table "
            "under Warnings)" for m in mismatches]
    return out


def _comparisons(runs: list[Run], baseline: Run, benchmarks: list[str], n_boot: int, seed: int) -> list[Comparison]:
    out = []
    for run in runs:
        if run is baseline:
            continue
        for bench in benchmarks:
            if bench not in run.counts or bench not in baseline.counts:
                continue
            result = paired_comparison(run.counts[bench], baseline.counts[bench], n_boot, seed)
            if result is not None:
                out.append(Comparison(run.label, bench, result, st.pair_caveats(run, baseline, bench)))
    return out


def _breakdowns(runs: list[Run], benchmarks: list[str]) -> dict[str, dict[str, dict[str, dict[str, GroupMetrics]]]]:
    out: dict[str, dict[str, dict[str, dict[str, GroupMetrics]]]] = {}
    for bench in benchmarks:
        for run in runs:
            metrics = run.metrics.get(bench)
            for key, table in (metrics.breakdowns if metrics is not None else {}).items():
                out.setdefault(bench, {}).setdefault(key, {})[run.label] = table
    return out
