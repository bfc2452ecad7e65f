"""Metrics over graded samples: accuracy with a 95% interval, unbiased pass@k, maj@k, breakdowns.

Pure functions over plain data (samples, problem ids and metadata, an answer-equivalence function),
so `evalkit run`, `evalkit grade` and `evalkit report` compute the same numbers from the same
samples. It knows no benchmark: the caller passes what a benchmark decides (`same_answer`,
`breakdown_keys`). The result is a `schema.BenchmarkMetrics`.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from evalkit.schema import BenchmarkMetrics, GroupMetrics, SampleRecord, SubscoreMetrics, natural_key

Z_95 = 1.959963984540054
MAJ_EXACT_LIMIT = 2000  # enumerate all k-subsets up to this many, else sample this many
MAJ_SEED = 0


class ProblemLike(Protocol):
    """What metrics need of a problem: its id, and its metadata for breakdowns."""

    @property
    def id(self) -> str: ...

    @property
    def metadata(self) -> Mapping[str, Any]: ...


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, "Evaluating LLMs Trained on Code").

    1 - C(n-c, k) / C(n, k), computed as a product to stay exact for large n.
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def wilson_interval(successes: float, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (better than the normal one near 0 and 1)."""
    if total <= 0:
        return (0.0, 1.0)
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def accuracy_ci95(per_problem_accuracy: Sequence[float], samples_per_problem: int) -> tuple[float, float]:
    """95% interval of the mean accuracy, treating problems (not samples) as the unit of sampling.

    One sample per problem: the Wilson interval. Several: a normal interval from the standard error
    of per-problem mean accuracies, so n correlated samples of one problem do not shrink the interval
    as if they were independent problems.
    """
    m = len(per_problem_accuracy)
    if m == 0:
        return (0.0, 1.0)
    mean = sum(per_problem_accuracy) / m
    if samples_per_problem <= 1 or m == 1:
        return wilson_interval(mean * m, m)
    var = sum((a - mean) ** 2 for a in per_problem_accuracy) / (m - 1)
    half = Z_95 * math.sqrt(var / m)
    return (max(0.0, mean - half), min(1.0, mean + half))


def maj_ks(n: int) -> list[int]:
    """The k reported for maj@k: powers of two below n, and n itself."""
    ks = [k for k in (2**i for i in range(0, 20)) if k < n]
    return ks + [n] if n >= 1 else []


def cluster_answers(answers: Sequence[str | None], same: Callable[[str, str], bool]) -> list[int | None]:
    """A cluster id per answer (equivalent answers share one); None for samples with no answer."""
    reps: list[str] = []
    ids: list[int | None] = []
    cache: dict[str, int] = {}
    for a in answers:
        if a is None or not a.strip():
            ids.append(None)
            continue
        if a not in cache:
            cache[a] = next((i for i, r in enumerate(reps) if same(a, r)), len(reps))
            if cache[a] == len(reps):
                reps.append(a)
        ids.append(cache[a])
    return ids


def maj_at_k(clusters: Sequence[int | None], correct: Sequence[bool], k: int) -> float:
    """Expected majority-vote accuracy over k-subsets of the n samples (ties split evenly).

    Exact over all C(n, k) subsets when there are at most MAJ_EXACT_LIMIT, else a fixed-seed sample
    of that many subsets. A cluster counts as correct when most of its samples were graded correct.
    """
    n = len(clusters)
    members: dict[int, list[bool]] = defaultdict(list)
    for c, ok in zip(clusters, correct, strict=True):
        if c is not None:
            members[c].append(ok)
    cluster_ok = {c: sum(v) * 2 > len(v) for c, v in members.items()}
    if math.comb(n, k) <= MAJ_EXACT_LIMIT:
        subsets: Any = itertools.combinations(range(n), k)
        count = math.comb(n, k)
    else:
        rng = random.Random(MAJ_SEED)
        subsets = (rng.sample(range(n), k) for _ in range(MAJ_EXACT_LIMIT))
        count = MAJ_EXACT_LIMIT
    total = 0.0
    for subset in subsets:
        votes: dict[int, int] = defaultdict(int)
        for i in subset:
            if clusters[i] is not None:
                votes[clusters[i]] += 1
        if not votes:
            continue
        top = max(votes.values())
        winners = [c for c, v in votes.items() if v == top]
        total += sum(cluster_ok[c] for c in winners) / len(winners)
    return total / count


def _pass_metrics(counts: Sequence[tuple[int, int]]) -> dict[int, float]:
    """pass@k for every k up to the smallest per-problem sample count."""
    if not counts:
        return {}
    n_min = min(n for n, _ in counts)
    return {k: sum(pass_at_k(n, c, k) for n, c in counts) / len(counts) for k in range(1, n_min + 1)}


def sampling_standard_error(counts: Sequence[tuple[int, int]]) -> float | None:
    """The standard error of avg@n that comes from sampling alone, the problems held fixed.

    avg@n is the mean over m problems of c_i / n_i; its variance given the problems is
    (1/m^2) sum p_i (1 - p_i) / n_i, and n_i / (n_i - 1) * phat_i (1 - phat_i) is an unbiased
    estimate of p_i (1 - p_i). None unless every problem has at least two samples.
    """
    if not counts or any(n < 2 for n, _ in counts):
        return None
    var = sum((c / n) * (1 - c / n) / (n - 1) for n, c in counts) / len(counts) ** 2
    return math.sqrt(var)


def compute_metrics(samples: Sequence[SampleRecord], problems: Sequence[ProblemLike], *,
                    same_answer: Callable[[str, str], bool] | None = None,
                    breakdown_keys: Sequence[str] = (),
                    thinking_prompts: Collection[str] = ()) -> BenchmarkMetrics:
    """The metrics.json entry of one benchmark from its graded samples.

    Only problems with at least one sample count; `n_problems` says how many that was. maj@k is
    computed when `same_answer` (the benchmark grader's answer equivalence) is given.
    `thinking_prompts` are the hashes of prompts that open a `<think>` block for the model (its chat
    template did): their samples count as a reasoning model's even without a `<think>` of their own.
    """
    by_problem: dict[str, list[SampleRecord]] = defaultdict(list)
    for s in samples:
        by_problem[s.problem_id].append(s)
    graded = [p for p in problems if by_problem.get(p.id)]
    groups = [sorted(by_problem[p.id], key=lambda s: s.sample_index) for p in graded]
    all_samples = [s for g in groups for s in g]
    if not all_samples:
        return BenchmarkMetrics(n_problems=0, n_samples=0)
    n_per = min(len(g) for g in groups)
    per_problem_acc = [sum(s.correct for s in g) / len(g) for g in groups]
    subscores = {}
    for name in sorted({k for s in all_samples for k in s.subscores}):
        counts = [(len(g), sum(bool(s.subscores.get(name)) for s in g)) for g in groups]
        subscores[name] = SubscoreMetrics(sum(c for _, c in counts) / len(all_samples), _pass_metrics(counts))
    counts = [(len(g), sum(s.correct for s in g)) for g in groups]
    thinking, after = _truncation_split(all_samples, thinking_prompts)
    return BenchmarkMetrics(
        n_problems=len(graded),
        n_samples=len(all_samples),
        samples_per_problem=n_per,
        accuracy=sum(s.correct for s in all_samples) / len(all_samples),
        accuracy_ci95=accuracy_ci95(per_problem_acc, n_per),
        accuracy_sampling_se=sampling_standard_error(counts),
        truncated_thinking_rate=thinking,
        truncated_after_thinking_rate=after,
        pass_at_k=_pass_metrics(counts),
        subscores=subscores,
        maj_at_k=_maj_metrics(groups, same_answer, n_per) if same_answer is not None else {},
        truncation_rate=sum(s.finish_reason == "length" for s in all_samples) / len(all_samples),
        mean_tokens=sum(s.tokens for s in all_samples) / len(all_samples),
        breakdowns=_breakdown(graded, groups, breakdown_keys),
    )


def _truncation_split(samples: Sequence[SampleRecord], thinking_prompts: Collection[str]
                      ) -> tuple[float | None, float | None]:
    """Shares of samples cut at the token limit before and after `</think>`; (None, None) when no sample
    comes from a reasoning model (no `<think>` / `</think>`, no prompt that opens a think block)."""
    def thinks(s: SampleRecord) -> bool:
        return "</think>" in s.completion or "<think>" in s.completion or s.prompt_hash in thinking_prompts

    if not any(thinks(s) for s in samples):
        return None, None
    cut = [s for s in samples if s.finish_reason == "length"]
    after = sum("</think>" in s.completion for s in cut)
    return (len(cut) - after) / len(samples), after / len(samples)


def _maj_metrics(groups: Sequence[Sequence[SampleRecord]], same_answer: Callable[[str, str], bool],
                 n_per: int) -> dict[int, float]:
    ks = maj_ks(n_per)
    sums = dict.fromkeys(ks, 0.0)
    for g in groups:
        g = g[:n_per]
        clusters = cluster_answers([s.extracted for s in g], same_answer)
        correct = [s.correct for s in g]
        for k in ks:
            sums[k] += maj_at_k(clusters, correct, k)
    return {k: v / len(groups) for k, v in sums.items()}


def _breakdown(problems: Sequence[ProblemLike], groups: Sequence[Sequence[SampleRecord]],
               keys: Sequence[str]) -> dict[str, dict[str, GroupMetrics]]:
    out: dict[str, dict[str, GroupMetrics]] = {}
    for key in keys:
        buckets: dict[str, list[Sequence[SampleRecord]]] = defaultdict(list)
        for p, g in zip(problems, groups, strict=True):
            if key in p.metadata:
                buckets[str(p.metadata[key])].append(g)
        table: dict[str, GroupMetrics] = {}
        for value in sorted(buckets, key=natural_key):
            gs = buckets[value]
            flat = [s for g in gs for s in g]
            n_per = min(len(g) for g in gs)
            table[value] = GroupMetrics(n_problems=len(gs), accuracy=sum(s.correct for s in flat) / len(flat),
                                        pass_at_k=_pass_metrics([(len(g), sum(s.correct for s in g)) for g in gs]),
                                        accuracy_ci95=accuracy_ci95([sum(s.correct for s in g) / len(g) for g in gs],
                                                                    n_per))
        if table:
            out[key] = table
    return out


def summary_row(metrics: BenchmarkMetrics) -> dict[str, str]:
    """The headline figures of one benchmark, formatted for the end-of-run table."""
    if not metrics.n_samples:
        return {"problems": "0"}
    lo, hi = metrics.accuracy_ci95
    n_per = metrics.samples_per_problem
    row = {
        "problems": str(metrics.n_problems),
        "samples": str(metrics.n_samples),
        "accuracy": f"{metrics.accuracy:.1%} [{lo:.1%}, {hi:.1%}]",
    }
    if n_per > 1:
        row["accuracy"] = f"avg@{n_per} " + row["accuracy"]
        if metrics.accuracy_sampling_se is not None:
            row["sampling se"] = f"±{metrics.accuracy_sampling_se:.1%}"
    if n_per > 1:
        row[f"pass@{n_per}"] = f"{metrics.pass_at_k[n_per]:.1%}"
        if n_per in metrics.maj_at_k:
            row[f"maj@{n_per}"] = f"{metrics.maj_at_k[n_per]:.1%}"
    row["truncated"] = f"{metrics.truncation_rate:.1%}"
    if metrics.truncated_thinking_rate is not None:
        row["truncated"] += f" ({metrics.truncated_thinking_rate:.1%} thinking)"
    row["mean tokens"] = f"{metrics.mean_tokens:.0f}"
    return row
