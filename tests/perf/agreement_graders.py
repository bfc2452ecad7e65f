"""Agreement of evalkit's math graders and of math-verify with the labels of real model outputs,
and with the verdicts of the equivalence cases (tests/graders/equivalence_cases.py).

Run:  python tests/perf/agreement_graders.py [--data ../shared/data] [--max-list 60]

Sets (see the data README for their schemas): Qwen2.5-Math 800 MATH responses (labels from
Qwen's grader), RealCritic MATH and GSM8K (labels from a Qwen-style grader), and the OpenAI
GSM8K verifier solutions (4 x 1319, labels from the GSM8K authors). Both graders see the same
completion and gold; math-verify is called the way verl calls it (gold wrapped in `\\boxed{}`,
default configs, on the main thread). Every pair where evalkit disagrees with the label is
listed with the extracted answer, the gold, the reason evalkit gives, math-verify's verdict and
why (each reviewed by hand; `LABEL_ERRORS` records the labels found wrong, and the table shows
agreement with the raw labels and with those corrected).

The equivalence cases are graded by both graders the same way (math-verify with the gold wrapped in
`\\boxed{}` unless it already has math delimiters); the table gives, per kind, how many verdicts
each grader gets right. Cases with a question or a policy override are graded by evalkit with them
(math-verify has neither); cases marked `peer` are conventions evalkit deliberately does not share.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "graders"))

from equivalence_cases import CASES  # noqa: E402

from graders import gsm8k as ours_gsm8k  # noqa: E402
from graders import math as ours_math  # noqa: E402
from graders.policy import GradingPolicy  # noqa: E402

SHARED_DATA = Path(os.environ.get("EVALKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))

# Labels found wrong on review, each checked by reading the response: id -> why. The labels of
# the Qwen2.5-Math and RealCritic sets come from Qwen's grader, whose normaliser fails these.
LABEL_ERRORS = {
    **{f"qwen25math_math_800/3.{j}": "the response answers 4:30 p.m. as asked; Qwen's normaliser turned the gold "
       "into `4:30p..` (it strips the unit word `m`), so its grader rejected every correct answer"
       for j in range(8)},
    "qwen25math_math_800/72.7": "10000 is the gold 10{,}000; Qwen's grader does not read the `{,}` digit group",
    "realcritic_math_268/245": "`\\left( 10, \\  2\\right)` is the gold (10,2); Qwen's grader trips on the `\\ ` space",
}


@dataclass(frozen=True)
class Item:
    id: str
    completion: str
    gold: str
    label: bool


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def qwen_math(data: Path) -> list[Item]:
    items = []
    for row in _jsonl(data / "labeled_outputs/math_qwen25math_rm_maj/math_cot_100.jsonl"):
        for j, (code, score) in enumerate(zip(row["code"], row["score"], strict=True)):
            items.append(Item(f"{row['idx']}.{j}", code, row["answer"], bool(score)))
    return items


def realcritic(data: Path, name: str) -> list[Item]:
    gold = "answer" if name == "math" else "gt"  # MATH `answer` as written; `gt` is a normalised copy
    return [Item(str(row["idx"]), row["reasoning"], row[gold], bool(row["previous_score"][0]))
            for row in _jsonl(data / f"labeled_outputs/realcritic/{name}_test.jsonl")]


def gsm8k_verifiers(data: Path) -> list[Item]:
    golds = [row["answer"] for row in _jsonl(data / "gsm8k/test.jsonl")]
    items = []
    for i, row in enumerate(_jsonl(data / "labeled_outputs/gsm8k_openai_verifiers/example_model_solutions.jsonl")):
        for system in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            sol = row[system]
            items.append(Item(f"{i}.{system}", sol["solution"], golds[i], bool(sol["is_correct"])))
    return items


def _quiet_math_verify() -> None:
    """math-verify logs every timeout with the whole input (30k-character lines); keep the report readable."""
    import logging

    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def math_verify_verdicts(items: list[Item], gsm8k: bool) -> list[bool]:
    from math_verify import parse, verify

    _quiet_math_verify()

    out = []
    for item in items:
        gold = item.gold.rsplit("####", 1)[-1].strip() if gsm8k else "\\boxed{" + item.gold + "}"
        try:
            out.append(bool(verify(parse(gold), parse(item.completion))))
        except Exception:
            out.append(False)
    return out


def math_verify_case(completion: str, gold: str) -> bool:
    from math_verify import parse, verify

    wrapped = gold if ("$" in gold or "\\boxed" in gold) else "\\boxed{" + gold + "}"
    try:
        return bool(verify(parse(wrapped), parse(completion)))
    except Exception:
        return False


def case_agreement(max_list: int) -> None:
    """Both graders on the equivalence cases, per kind."""
    _quiet_math_verify()
    by_kind: dict[str, list[int]] = {}
    ours_wrong, mv_wrong = [], []
    for case in CASES:
        ours = ours_math.grade(case.completion, case.gold, question=case.question,
                               policy=GradingPolicy(**case.policy)).correct
        mv = math_verify_case(case.completion, case.gold)
        counts = by_kind.setdefault(case.kind, [0, 0, 0])
        counts[0] += 1
        counts[1] += ours == case.correct
        counts[2] += mv == case.correct
        if ours != case.correct:
            ours_wrong.append(case)
        if mv != case.correct:
            mv_wrong.append(case)
    n, ours_ok, mv_ok = (sum(c[i] for c in by_kind.values()) for i in range(3))
    print(f"\n## equivalence cases: evalkit {ours_ok}/{n}, math-verify {mv_ok}/{n}")
    print("| kind | cases | evalkit agrees | math-verify agrees |")
    print("|---|---|---|---|")
    for kind, (count, a, b) in by_kind.items():
        print(f"| {kind} | {count} | {a} | {b} |")
    print(f"| all | {n} | {ours_ok} ({ours_ok / n:.1%}) | {mv_ok} ({mv_ok / n:.1%}) |")
    for case in ours_wrong[:max_list]:
        print(f"- evalkit disagrees: {case.kind} {case.completion[:80]!r} gold {case.gold[:40]!r}")
    print(f"- math-verify disagrees on {len(mv_wrong)} cases, e.g.: "
          + "; ".join(f"{c.completion[-50:]!r} vs {c.gold[:30]!r}" for c in mv_wrong[:12]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--max-list", type=int, default=200, help="most disagreements listed per set")
    parser.add_argument("--cases-only", action="store_true", help="only the equivalence cases (no shared data)")
    args = parser.parse_args()
    case_agreement(args.max_list)
    if args.cases_only:
        return
    sets = [
        ("qwen25math_math_800", qwen_math(args.data), ours_math, False),
        ("realcritic_math_268", realcritic(args.data, "math"), ours_math, False),
        ("realcritic_gsm8k_273", realcritic(args.data, "gsm8k"), ours_gsm8k, True),
        ("gsm8k_verifiers_5276", gsm8k_verifiers(args.data), ours_gsm8k, True),
    ]
    rows = []
    for name, items, grader, is_gsm8k in sets:
        start = time.process_time()
        verdicts = grader.grade_batch([i.completion for i in items], [i.gold for i in items])
        ours_cpu = time.process_time() - start
        start = time.process_time()
        mv = math_verify_verdicts(items, is_gsm8k)
        mv_cpu = time.process_time() - start
        fixed = [not i.label if f"{name}/{i.id}" in LABEL_ERRORS else i.label for i in items]
        ours_ok = sum(v.correct == i.label for v, i in zip(verdicts, items, strict=True))
        mv_ok = sum(m == i.label for m, i in zip(mv, items, strict=True))
        ours_fixed = sum(v.correct == f for v, f in zip(verdicts, fixed, strict=True))
        mv_fixed = sum(m == f for m, f in zip(mv, fixed, strict=True))
        rows.append((name, len(items), ours_ok, mv_ok, ours_fixed, mv_fixed, ours_cpu, mv_cpu))
        print(f"\n## {name}: evalkit {ours_ok}/{len(items)}, math-verify {mv_ok}/{len(items)} "
              f"(after label corrections: {ours_fixed} vs {mv_fixed})")
        listed = 0
        for item, verdict, m in zip(items, verdicts, mv, strict=True):
            if verdict.correct != item.label and listed < args.max_list:
                listed += 1
                why = LABEL_ERRORS.get(f"{name}/{item.id}", "NOT REVIEWED")
                print(f"- {item.id}: label={item.label} evalkit={verdict.correct} ({verdict.reason}) "
                      f"math-verify={m} extracted={verdict.extracted!r:.60} gold={item.gold[-60:]!r}\n  why: {why}")
        mv_only = [i.id for v, m, i in zip(verdicts, mv, items, strict=True) if m != i.label and v.correct == i.label]
        if mv_only:
            print(f"- math-verify alone disagrees with the label on: {', '.join(mv_only[:40])}")
    print("\n| set | n | evalkit agrees | math-verify agrees | evalkit, labels corrected "
          "| math-verify, labels corrected | evalkit CPU s | math-verify CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n, ours_ok, mv_ok, ours_fixed, mv_fixed, ours_cpu, mv_cpu in rows:
        print(f"| {name} | {n} | {ours_ok} ({ours_ok / n:.1%}) | {mv_ok} ({mv_ok / n:.1%}) "
              f"| {ours_fixed} ({ours_fixed / n:.1%}) | {mv_fixed} ({mv_fixed / n:.1%}) "
              f"| {ours_cpu:.1f} | {mv_cpu:.1f} |")


if __name__ == "__main__":
    main()
