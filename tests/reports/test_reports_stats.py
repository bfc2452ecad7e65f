"""The report's statistics against hand computations and brute-force enumeration (no scipy)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from evalkit.metrics import Z_95, accuracy_ci95, wilson_interval
from reports.load import ProblemCounts
from reports.stats import (
    BOOTSTRAP,
    MCNEMAR,
    accuracy,
    exact_bootstrap,
    mcnemar_exact,
    mean_interval,
    paired_comparison,
    pass_at_ks,
    sampled_bootstrap,
)


def counts(ids, n, c) -> ProblemCounts:
    n, c = np.array(n), np.array(c)
    return ProblemCounts(problem_ids=np.array(ids), n=n, correct=c, truncated=np.zeros_like(n),
                         tokens=np.zeros_like(n))


def brute_force_bootstrap(d: list[int], scale: int) -> tuple[float, float, float]:
    """Every one of the m^m equally likely resamples, the percentile interval and the centred p-value."""
    m = len(d)
    means = sorted(sum(d[i] for i in idx) / (m * scale) for idx in itertools.product(range(m), repeat=m))
    total = len(means)
    observed = sum(d) / (m * scale)

    def quantile(q: float) -> float:  # inf{x : F(x) >= q}
        return means[math.ceil(q * total - 1e-9) - 1]

    p = sum(abs(x - observed) >= abs(observed) - 1e-12 for x in means) / total
    return quantile(0.025), quantile(0.975), p if observed != 0 else 1.0


def test_mcnemar_matches_binomial_tail_by_hand():
    # 10 problems only the run solved, 2 only the baseline: 2 * P(X <= 2), X ~ Bin(12, 1/2)
    assert mcnemar_exact(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    assert mcnemar_exact(3, 0) == pytest.approx(2 / 8)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0


def test_mcnemar_stays_exact_for_thousands_of_discordant_pairs():
    p = mcnemar_exact(2600, 2400)
    assert 0 < p < 0.01  # z = 200 / sqrt(5000) = 2.83, two-sided normal p = 0.0047
    assert p == pytest.approx(math.erfc(199.5 / math.sqrt(5000) / math.sqrt(2)), rel=0.05)


@pytest.mark.parametrize(("d", "scale"), [([1, 0, -1, 1], 1), ([3, -2, 5, 0, 1], 4), ([1, 1, 0, 0, 0, 1], 1),
                                          ([2, -1, -1, 0, -2], 2)])
def test_exact_bootstrap_equals_enumerating_every_resample(d, scale):
    lo, hi, p = exact_bootstrap(np.array(d), scale)
    blo, bhi, bp = brute_force_bootstrap(d, scale)
    assert lo == pytest.approx(blo) and hi == pytest.approx(bhi)
    assert p == pytest.approx(bp, abs=1e-9)


def test_exact_bootstrap_of_identical_differences():
    assert exact_bootstrap(np.array([0, 0, 0]), 1) == (0.0, 0.0, 1.0)
    assert exact_bootstrap(np.array([2, 2]), 4) == (0.5, 0.5, 0.0)


def test_sampled_bootstrap_agrees_with_exact_one():
    rng = np.random.default_rng(3)
    d_int = rng.integers(-4, 7, size=80)
    lo, hi, p = exact_bootstrap(d_int, 4)
    slo, shi, sp = sampled_bootstrap(d_int / 4, n_boot=20_000, seed=1)
    assert slo == pytest.approx(lo, abs=0.02) and shi == pytest.approx(hi, abs=0.02)
    assert sp == pytest.approx(p, abs=0.01)
    assert sampled_bootstrap(d_int / 4, n_boot=500, seed=7) == sampled_bootstrap(d_int / 4, n_boot=500, seed=7)


def test_exact_bootstrap_is_close_to_the_normal_interval_for_many_problems():
    d = np.array([1] * 300 + [0] * 500 + [-1] * 200)
    lo, hi, p = exact_bootstrap(d, 1)
    se = d.std() / math.sqrt(len(d))
    assert lo == pytest.approx(0.1 - Z_95 * se, abs=0.002) and hi == pytest.approx(0.1 + Z_95 * se, abs=0.002)
    assert p < 1e-4


def test_paired_comparison_with_one_sample_uses_mcnemar_on_shared_problems():
    # run: p0..p5 = 1 1 1 0 0 1; baseline: 0 1 0 0 1 0 plus p9 that the run lacks
    run = counts(["p0", "p1", "p2", "p3", "p4", "p5"], [1] * 6, [1, 1, 1, 0, 0, 1])
    base = counts(["p0", "p1", "p2", "p3", "p4", "p5", "p9"], [1] * 7, [0, 1, 0, 0, 1, 0, 1])
    r = paired_comparison(run, base)
    assert r is not None and r.test == MCNEMAR
    assert r.n_shared == 6 and (r.better, r.worse) == (3, 1)
    assert r.run_mean == pytest.approx(4 / 6) and r.base_mean == pytest.approx(2 / 6)
    assert r.diff == pytest.approx(2 / 6)
    assert r.p_value == pytest.approx(2 * (1 + 4) / 16)  # 2 * P(Bin(4, 1/2) <= 1)
    blo, bhi, _ = brute_force_bootstrap([1, 0, 1, 0, -1, 1], 1)
    assert (r.ci_low, r.ci_high) == pytest.approx((blo, bhi))
    assert not r.significant


def test_paired_comparison_with_several_samples_uses_the_bootstrap_on_mean_correctness():
    # 4 samples per problem in the run, 2 in the baseline: d_i = c_run/4 - c_base/2 on the lattice of 1/4
    run = counts(["a", "b", "c", "d", "e"], [4] * 5, [4, 3, 0, 2, 1])
    base = counts(["a", "b", "c", "d", "e"], [2] * 5, [1, 1, 0, 2, 0])
    r = paired_comparison(run, base)
    assert r is not None and r.test == BOOTSTRAP
    d = [2, 1, 0, -2, 1]  # in quarters: 4-2, 3-2, 0-0, 2-4, 1-0
    assert r.diff == pytest.approx(sum(d) / 20)
    assert (r.better, r.worse) == (3, 1)
    blo, bhi, bp = brute_force_bootstrap(d, 4)
    assert (r.ci_low, r.ci_high, r.p_value) == pytest.approx((blo, bhi, bp))


def test_paired_comparison_without_shared_problems_is_none():
    assert paired_comparison(counts(["a"], [1], [1]), counts(["b"], [1], [0])) is None


def test_accuracy_with_one_sample_is_wilson():
    e = accuracy(counts([f"p{i}" for i in range(10)], [1] * 10, [1] * 7 + [0] * 3))
    z = Z_95
    centre = (0.7 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.7 * 0.3 / 10 + z * z / 400) / (1 + z * z / 10)
    assert e.value == 0.7 and e.n == 10
    assert (e.ci_low, e.ci_high) == pytest.approx((centre - half, centre + half))
    assert (e.ci_low, e.ci_high) == pytest.approx(wilson_interval(7, 10))


def test_pass_at_k_and_its_interval_by_hand():
    c = counts(["a", "b", "c"], [4, 4, 4], [1, 2, 0])
    by_k = pass_at_ks(c)
    assert sorted(by_k) == [1, 2, 3, 4]
    # pass@2 per problem: 1 - C(3,2)/C(4,2) = 1/2, 1 - C(2,2)/C(4,2) = 5/6, 0
    values = [0.5, 5 / 6, 0.0]
    mean = sum(values) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
    assert by_k[2].value == pytest.approx(mean)
    assert by_k[2].ci_low == pytest.approx(max(0.0, mean - Z_95 * sd / math.sqrt(3)))
    assert by_k[2].ci_high == pytest.approx(mean + Z_95 * sd / math.sqrt(3))
    assert by_k[1].value == pytest.approx(3 / 12)
    assert by_k[4].value == pytest.approx(2 / 3)  # solved at least once: a and b


def test_pass_at_k_stops_at_the_smallest_sample_count():
    assert sorted(pass_at_ks(counts(["a", "b"], [3, 5], [1, 5]))) == [1, 2, 3]


@pytest.mark.parametrize("samples_per_problem", [1, 4])
@pytest.mark.parametrize("m", [1, 2, 7, 300])
def test_vectorised_interval_is_evalkit_metrics_accuracy_ci95(samples_per_problem, m):
    rng = np.random.default_rng(m)
    values = rng.integers(0, samples_per_problem + 1, size=m) / samples_per_problem
    assert mean_interval(values, samples_per_problem) == pytest.approx(
        accuracy_ci95(values.tolist(), samples_per_problem), abs=1e-12)


def test_sample_counts_with_a_huge_lcm_fall_back_to_seeded_draws():
    rng = np.random.default_rng(0)
    n_run = rng.choice([7, 9, 11, 13], size=300)  # lcm 9009: 300 * 2 * 9009 points is past the exact limit
    run = counts([f"p{i:03d}" for i in range(300)], n_run, rng.binomial(n_run, 0.6))
    base = counts([f"p{i:03d}" for i in range(300)], [4] * 300, rng.binomial(4, 0.5, size=300))
    first, second = paired_comparison(run, base), paired_comparison(run, base)
    assert first == second and first.test == BOOTSTRAP
    se = np.std(run.correct / run.n - base.correct / base.n) / math.sqrt(300)
    assert first.ci_low == pytest.approx(first.diff - Z_95 * se, abs=0.01)
    assert first.ci_high == pytest.approx(first.diff + Z_95 * se, abs=0.01)
