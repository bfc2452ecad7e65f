"""Statistics of the report: per-problem pass@k with intervals, and paired tests between two runs.

The unit of sampling is the problem, never the sample: n samples of one problem are correlated, so
intervals and tests resample or pair problems. Point estimates reuse evalkit.metrics, so a report
and metrics.json agree to the last digit.

Paired test against a baseline, on the problems both runs graded, with d_i = (mean correctness of
problem i in the run) - (the same in the baseline):

- p-value: the exact McNemar test (two-sided binomial on the discordant problems) when both runs
  have one sample per shared problem; otherwise the paired bootstrap test (problems resampled with
  replacement, resampled means shifted to the null of mean 0).
- 95% interval of the mean difference: the paired bootstrap percentile interval in both cases.

The bootstrap is computed exactly, not by drawing resamples: every d_i is a multiple of 1/L with L
the lcm of the sample counts, so the resampled sum is an m-fold convolution of the empirical pmf on
that lattice, one FFT. No seed, no Monte Carlo error, and a few milliseconds per comparison. Only when
the lattice would be huge (sample counts with a large lcm) it falls back to `N_BOOT` seeded draws.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from evalkit.metrics import Z_95, pass_at_k, wilson_interval
from reports.load import ProblemCounts

N_BOOT = 10_000  # draws of the Monte Carlo fallback
SEED = 0
MAX_LATTICE = 1 << 22  # largest support of the resampled sum that is convolved exactly
ALPHA = 0.05
MIN_BOOTSTRAP_PROBLEMS = 20  # below this the bootstrap p-value is optimistic
MCNEMAR = "exact McNemar"
BOOTSTRAP = "paired bootstrap"


@dataclass(frozen=True)
class Estimate:
    """A metric with its 95% interval; `n` is the number of units the interval is over."""

    value: float
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True)
class PairedResult:
    """A run against the baseline on their shared problems."""

    n_shared: int
    run_mean: float  # mean per-problem correctness of the run on the shared problems
    base_mean: float
    diff: float  # run_mean - base_mean
    ci_low: float
    ci_high: float
    p_value: float
    test: str  # MCNEMAR or BOOTSTRAP
    better: int  # shared problems where the run scores higher
    worse: int  # ... lower

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


@functools.lru_cache(maxsize=65536)
def _pass_at_k_cached(n: int, c: int, k: int) -> float:
    return pass_at_k(n, c, k)


def pass_at_k_per_problem(n: np.ndarray, c: np.ndarray, ks: list[int]) -> dict[int, np.ndarray]:
    """The unbiased pass@k of every problem for each k; pass_at_k runs once per distinct (n, c) pair."""
    keys = n.astype(np.int64) * (int(n.max()) + 1) + c
    pairs, inverse = np.unique(keys, return_inverse=True)
    ns, cs = np.divmod(pairs, int(n.max()) + 1)
    return {k: np.array([_pass_at_k_cached(int(a), int(b), k) for a, b in zip(ns, cs, strict=True)])[inverse]
            for k in ks}


def mean_interval(per_problem: np.ndarray, samples_per_problem: int) -> tuple[float, float]:
    """evalkit.metrics.accuracy_ci95, vectorised (a test pins the two equal): problems are the units.

    One sample per problem: the Wilson interval; several: a normal interval from the standard error of
    the per-problem values.
    """
    m = len(per_problem)
    if samples_per_problem <= 1 or m == 1:
        return wilson_interval(float(per_problem.sum()), m)
    mean = float(per_problem.mean())
    half = Z_95 * math.sqrt(float(per_problem.var(ddof=1)) / m)
    return (max(0.0, mean - half), min(1.0, mean + half))


def accuracy(counts: ProblemCounts) -> Estimate:
    """Share of correct samples, with the interval over per-problem accuracies."""
    lo, hi = mean_interval(counts.correct / counts.n, int(counts.n.min()))
    return Estimate(float(counts.correct.sum() / counts.n.sum()), lo, hi, counts.n_problems)


def pass_at_ks(counts: ProblemCounts, correct: np.ndarray | None = None) -> dict[int, Estimate]:
    """pass@k for every k up to the smallest per-problem sample count, each with its interval.

    `correct` replaces the correct counts (for a subscore such as HumanEval+'s `plus`).
    """
    c = counts.correct if correct is None else correct
    n_min = int(counts.n.min())
    out = {}
    for k, values in pass_at_k_per_problem(counts.n, c, list(range(1, n_min + 1))).items():
        lo, hi = mean_interval(values, n_min)
        out[k] = Estimate(float(values.mean()), lo, hi, counts.n_problems)
    return out


def mcnemar_exact(better: int, worse: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (binomial(b + c, 1/2) tail, doubled)."""
    total = better + worse
    if total == 0:
        return 1.0
    tail = sum(math.comb(total, i) for i in range(min(better, worse) + 1))
    return min(1.0, 2 * tail / 2**total)


def exact_bootstrap(d: np.ndarray, scale: int) -> tuple[float, float, float]:
    """Percentile 95% interval of mean(d) and the two-sided bootstrap p-value for mean(d) = 0, exactly.

    `d` holds integer numerators of the per-problem differences (difference = d / scale). The sum of
    m draws with replacement from the m values is an m-fold convolution of their empirical pmf, taken
    with one FFT. p = P(|mean* - mean(d)| >= |mean(d)|): the resampled means shifted to the null.
    """
    m = len(d)
    low = int(d.min())
    width = int(d.max()) - low
    total = int(d.sum())
    if width == 0:
        return total / (m * scale), total / (m * scale), 1.0 if total == 0 else 0.0
    size = m * width + 1
    nfft = 1 << (size - 1).bit_length()
    pmf = np.bincount(d - low, minlength=width + 1) / m
    dist = np.clip(np.fft.irfft(np.fft.rfft(pmf, nfft) ** m, nfft)[:size], 0.0, None)
    dist /= dist.sum()
    sums = m * low + np.arange(size)  # the resampled sum behind each entry of dist
    cdf = np.cumsum(dist)
    lo = sums[min(int(np.searchsorted(cdf, 0.025 - 1e-12)), size - 1)] / (m * scale)
    hi = sums[min(int(np.searchsorted(cdf, 0.975 - 1e-12)), size - 1)] / (m * scale)
    if total == 0:
        return float(lo), float(hi), 1.0
    inner, outer = sorted((0, 2 * total))
    p = dist[sums <= inner].sum() + dist[sums >= outer].sum()
    return float(lo), float(hi), float(min(1.0, p))


def sampled_bootstrap(d: np.ndarray, n_boot: int = N_BOOT, seed: int = SEED) -> tuple[float, float, float]:
    """Monte Carlo version of `exact_bootstrap` for float differences (used when no small lattice exists).

    Resamples the multiset of d through a multinomial over its distinct values (the same distribution
    as resampling indices); p carries the +1 that keeps a Monte Carlo p-value from reading 0.
    """
    m = len(d)
    values, freq = np.unique(d, return_counts=True)
    means = np.random.default_rng(seed).multinomial(m, freq / m, size=n_boot) @ values / m
    observed = float(d.mean())
    lo, hi = np.quantile(means, [0.025, 0.975])
    extreme = np.abs(means - observed) >= abs(observed) - 1e-12
    return float(lo), float(hi), min(1.0, (1 + int(extreme.sum())) / (n_boot + 1))


def paired_comparison(run: ProblemCounts, base: ProblemCounts, n_boot: int = N_BOOT,
                      seed: int = SEED) -> PairedResult | None:
    """Compare per-problem mean correctness on the shared problems; None when they share none."""
    _, ir, ib = np.intersect1d(run.problem_ids, base.problem_ids, assume_unique=True, return_indices=True)
    if len(ir) == 0:
        return None
    na, ca, nb, cb = run.n[ir], run.correct[ir], base.n[ib], base.correct[ib]
    a, b = ca / na, cb / nb
    scale = math.lcm(*(int(x) for x in np.union1d(na, nb)))
    if len(ir) * 2 * scale <= MAX_LATTICE:
        d_int = ca * (scale // na) - cb * (scale // nb)
        lo, hi, p_boot = exact_bootstrap(d_int.astype(np.int64), scale)
    else:
        lo, hi, p_boot = sampled_bootstrap(a - b, n_boot, seed)
    d = a - b
    better, worse = int((d > 0).sum()), int((d < 0).sum())
    binary = bool((na == 1).all() and (nb == 1).all())
    p, test = (mcnemar_exact(better, worse), MCNEMAR) if binary else (p_boot, BOOTSTRAP)
    return PairedResult(
        n_shared=len(ir), run_mean=float(a.mean()), base_mean=float(b.mean()), diff=float(d.mean()),
        ci_low=lo, ci_high=hi, p_value=p, test=test, better=better, worse=worse,
    )
