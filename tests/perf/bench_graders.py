"""Grader speed: evalkit's math grader and math-verify on the same realistic pairs, in one process.

Run:  nice python tests/perf/bench_graders.py [--data ../shared/data] [--limit N]

Pairs (all real text, from the shared data): the 800 Qwen2.5-Math chain-of-thought responses to
100 MATH problems, the 268 + 273 RealCritic MATH and GSM8K responses, and MATH-500's 500
reference solutions graded against their own answer and against the next problem's answer
(every answer type MATH has: integers, fractions, radicals, intervals, tuples, matrices,
expressions, words). Golds repeat across a problem's samples, as in a GRPO group.

math-verify is called as verl calls it: `verify(parse("\\boxed{gold}"), parse(completion))` with
its default 5 s timeouts on the main thread. Per-pair cost for math-verify is process CPU time;
for evalkit it is process CPU time plus the wall time of any call into the worker pool (the
slow path), so the worker's work is counted. Throughput is pairs per second of that cost.
evalkit caches parsed golds and answers (a GRPO group repeats them); the second evalkit row
clears those caches before every pair to show the cost without any reuse.

The edge-heavy mix is every case of tests/graders/equivalence_cases.py (closed forms,
restatements, completions without a box, hedges and code, labelled answers, inequalities and
intervals, the smaller gaps, peer conventions) plus its adversarial inputs (power towers, huge
factorials and sums, 30k unclosed delimiters, 200k-character texts), each against its gold (the
adversarial ones against "3"). For each mix the script prints the share of pairs evalkit sends to
its slow path (the worker pool), how many of those hit the timeout, and the worst item.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "graders"))

from equivalence_cases import ADVERSARIAL, CASES  # noqa: E402

from graders import math as gm  # noqa: E402

SHARED_DATA = Path(os.environ.get("EVALKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_pairs(data: Path) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for row in _jsonl(data / "labeled_outputs/math_qwen25math_rm_maj/math_cot_100.jsonl"):
        pairs += [(code, row["answer"]) for code in row["code"]]
    for name in ("math", "gsm8k"):
        rows = _jsonl(data / f"labeled_outputs/realcritic/{name}_test.jsonl")
        pairs += [(row["reasoning"], row["answer" if name == "math" else "gt"]) for row in rows]
    math500 = _jsonl(data / "math500/test.jsonl")
    pairs += [(row["solution"], row["answer"]) for row in math500]
    pairs += [(row["solution"], math500[i - 1]["answer"]) for i, row in enumerate(math500)]
    return pairs


def edge_pairs() -> list[tuple[str, str]]:
    """The edge-heavy mix: every equivalence case and every adversarial input."""
    return [(c.completion, c.gold) for c in CASES] + [(text, "3") for text in ADVERSARIAL]


@dataclass
class SlowPath:
    calls: int = 0
    timeouts: int = 0
    wall: float = 0.0


def run_ours(pairs: list[tuple[str, str]], cold: bool = False) -> tuple[list[float], list[float], SlowPath]:
    """Per-pair cost and wall time; the slow path's wall time is added to the cost.

    `cold` clears the parse caches before every pair, so no pair profits from an earlier one.
    """
    slow = SlowPath()
    real_slow = gm._slow

    def timed_slow(*args, **kwargs):
        start = time.perf_counter()
        try:
            outcome = real_slow(*args, **kwargs)
            slow.timeouts += outcome.reason == "timeout"
            return outcome
        finally:
            slow.wall += time.perf_counter() - start
            slow.calls += 1

    gm._slow = timed_slow
    gm._parse.cache_clear()
    gm.gold_answer.cache_clear()
    costs, walls = [], []
    try:
        for completion, gold in pairs:
            if cold:
                gm._parse.cache_clear()
                gm.gold_answer.cache_clear()
            before_slow = slow.wall
            cpu, wall = time.process_time(), time.perf_counter()
            gm.grade(completion, gold)
            walls.append(time.perf_counter() - wall)
            costs.append(time.process_time() - cpu + slow.wall - before_slow)
    finally:
        gm._slow = real_slow
    return costs, walls, slow


def run_math_verify(pairs: list[tuple[str, str]]) -> tuple[list[float], list[float]]:
    import logging

    from math_verify import parse, verify

    for name in ("math_verify", "latex2sympy2_extended"):  # it logs each timeout with the whole input
        logging.getLogger(name).setLevel(logging.CRITICAL)

    costs, walls = [], []
    for completion, gold in pairs:
        cpu, wall = time.process_time(), time.perf_counter()
        with contextlib.suppress(Exception):  # a crash counts as a verdict, as in verl
            verify(parse("\\boxed{" + gold + "}"), parse(completion))
        walls.append(time.perf_counter() - wall)
        costs.append(time.process_time() - cpu)
    return costs, walls


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _row(name: str, cost: list[float], wall: list[float]) -> str:
    rate = len(cost) / sum(cost)
    return (f"| {name} | {len(cost)} | {rate:,.0f} | {statistics.median(cost) * 1e3:.3f} "
            f"| {_p(cost, 0.99) * 1e3:.2f} | {max(wall) * 1e3:.1f} | {sum(cost):.2f} |")


def _worst(pairs: list[tuple[str, str]], wall: list[float]) -> str:
    i = max(range(len(wall)), key=wall.__getitem__)
    completion, gold = pairs[i]
    shown = completion[:70] + ("..." if len(completion) > 70 else "")
    return f"{wall[i] * 1e3:.1f} ms: completion {shown!r} ({len(completion)} chars), gold {gold[:30]!r}"


def bench(name: str, pairs: list[tuple[str, str]]) -> tuple[float, float]:
    """Both graders on `pairs`; prints the table, the slow-path share and the worst items."""
    ours_cost, ours_wall, slow = run_ours(pairs)
    cold_cost, cold_wall, _ = run_ours(pairs, cold=True)
    mv_cost, mv_wall = run_math_verify(pairs)
    print(f"\n## {name}: {len(pairs)} pairs")
    print(f"evalkit slow path: {slow.calls} of {len(pairs)} pairs ({slow.calls / len(pairs):.2%}), "
          f"{slow.timeouts} timed out, {slow.wall:.2f} s wall in the worker")
    print("| grader | pairs | pairs/CPU-s | median ms | p99 ms | worst item wall ms | total CPU s |")
    print("|---|---|---|---|---|---|---|")
    print(_row("evalkit graders.math", ours_cost, ours_wall))
    print(_row("evalkit, caches cleared per pair", cold_cost, cold_wall))
    print(_row("math-verify 0.9.0", mv_cost, mv_wall))
    ratio = (len(ours_cost) / sum(ours_cost)) / (len(mv_cost) / sum(mv_cost))
    cold_ratio = (len(cold_cost) / sum(cold_cost)) / (len(mv_cost) / sum(mv_cost))
    print(f"throughput ratio evalkit / math-verify: {ratio:.1f}x with caches, {cold_ratio:.1f}x without "
          f"(median {statistics.median(mv_cost) / statistics.median(ours_cost):.0f}x lower, "
          f"p99 {_p(mv_cost, 0.99) / _p(ours_cost, 0.99):.1f}x lower)")
    print(f"worst evalkit item: {_worst(pairs, ours_wall)}")
    print(f"worst math-verify item: {_worst(pairs, mv_wall)}")
    return ratio, cold_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N pairs of each mix (0: all)")
    parser.add_argument("--mix", choices=("realistic", "edge", "both"), default="both")
    args = parser.parse_args()
    mixes = []
    if args.mix in ("realistic", "both"):
        mixes.append(("realistic mix (real completions of the shared data)", load_pairs(args.data)))
    if args.mix in ("edge", "both"):
        mixes.append(("edge-heavy mix (equivalence cases + adversarial inputs)", edge_pairs()))

    # Warm-up outside the measurement: imports, the worker pool, ANTLR's first-call setup.
    gm.warm_up()
    gm.grade("\\boxed{\\mathfrak{x}}", "\\frac{1}{2}")
    run_math_verify(mixes[0][1][:3])

    ratios = [bench(name, pairs[:args.limit] if args.limit else pairs) for name, pairs in mixes]
    print("\nratios (with caches / without):", ", ".join(f"{a:.1f}x / {b:.1f}x" for a, b in ratios))


if __name__ == "__main__":
    main()
