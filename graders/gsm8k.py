"""GSM8K grader: the final number of a completion against the gold number, compared exactly.

GSM8K answers are numbers, so they are compared as exact rationals, not strings: `72`, `72.00`,
`$72`, `72.`, `1,072`, `−72` (unicode minus) and `\\boxed{72}` all read as what they say. String
comparison (lm-eval, verl) rejects most of these; float tolerance would accept near misses.

Extraction order (the first that is present wins): the last `\\boxed{}`; then, inside the last
`<answer>...</answer>` tag when there is one, the last `#### N` line,
the last "the answer is N" / "Answer: N" phrase, then the last number in the text that is not part
of a word (`AZYUK2A` holds no answer). Text inside an unclosed `<think>` block yields no answer.
Policy (fixed, see `graders.math` for the math one):
- a final answer that states several different numbers ("18 or 20", "18-20", "3, 4") is hedged
  and wrong;
- in a final answer written as a calculation ("5 + 3 = 8") the value after the last `=` counts;
- units and currency words around the number are ignored, percent signs too (GSM8K golds are
  the number the question asks for, and "25%" for gold 25 is the same answer).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from fractions import Fraction

from graders.extract import (
    Extraction,
    anchored_statement,
    answer_region,
    answer_tag,
    boxed_answer,
    hash_answer,
    last_number,
)
from graders.verdict import Verdict

GRADER_VERSION = "3"

#: Longest digit string read as a number; longer ones are refused (GSM8K answers are small).
MAX_DIGITS = 200

_SPACES = re.compile(r"(?<=\d)(?:\\,|\\;|\\!|\\ |~|\{,\}|[\u2009\u202f\u00a0 ])(?=\d{3}(?!\d))")
_NUM = re.compile(r"-?(?:\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)(?:\s*/\s*\d+)?")
_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")


def _clean(answer: str) -> str:
    text = answer.replace("\u2212", "-").replace("\u2013", "-").replace("\\!", "")
    text = re.sub(r"\\text(?:bf|rm)?\{([^{}]*)\}|\\mathrm\{([^{}]*)\}", lambda m: m.group(1) or m.group(2) or "", text)
    text = _FRAC.sub(lambda m: f"{m.group(1)}/{m.group(2)}", text)
    text = _SPACES.sub("", text)
    text = text.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    return text.replace("{,}", ",").strip()


def _to_fraction(token: str) -> Fraction | None:
    token = token.replace(",", "").replace(" ", "")
    if len(token) > MAX_DIGITS:
        return None
    if "/" in token:
        num, den = token.split("/", 1)
        if int(den) == 0:
            return None
        return Fraction(num) / Fraction(den)
    return Fraction(token.rstrip("."))


def parse_number(answer: str) -> tuple[Fraction | None, bool]:
    """The number an extracted answer states, and whether it is hedged between several numbers."""
    text = _clean(answer)
    if "=" in text:
        text = text.rsplit("=", 1)[1]
    numbers = [m.group() for m in _NUM.finditer(text)]
    if not numbers:
        return None, False
    values = [_to_fraction(n) for n in numbers]
    if any(v is None for v in values):
        return None, False
    return values[0], len(set(values)) > 1


def _extract(text: str) -> Extraction:
    region = answer_region(text)
    if region is None:
        return Extraction(None, "none")
    boxed = boxed_answer(region)
    if boxed is not None:
        return boxed
    region = answer_tag(region) or region
    for finder in (hash_answer, anchored_statement, last_number):
        found = finder(region)
        if found is not None:
            return found
    return Extraction(None, "none")


def extract_answer(text: str) -> str | None:
    """The final answer of a completion or gold solution, normalised to a plain number string.

    Falls back to the raw extracted text when it holds no readable number.
    """
    found = _extract(text)
    if found.answer is None:
        return None
    value, _ = parse_number(found.answer)
    return _format(value) if value is not None else found.answer


def _format(value: Fraction) -> str:
    """`72`, `1234.5`, or `1/3` when the value has no finite decimal expansion."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    for prime in (2, 5):
        while den % prime == 0:
            den //= prime
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    text = f"{abs(value.numerator) * 10**places // value.denominator:0{places + 1}d}"
    sign = "-" if value < 0 else ""
    return f"{sign}{text[:-places]}.{text[-places:]}"


def _gold_value(gold: str) -> Fraction | None:
    found = _extract(gold) if ("####" in gold or "\\boxed" in gold or "\\fbox" in gold) else Extraction(gold, "raw")
    if found.answer is None:
        return None
    return parse_number(found.answer)[0]


def grade(completion: str, gold: str, *, question: str | None = None, timeout_s: float = 1.0) -> Verdict:
    """Grade one completion against a gold number (bare, or a solution ending in `#### N`).

    `question` and `timeout_s` are accepted for interface parity with `graders.math`: a GSM8K
    answer is read as the number it states (a calculation counts by its result), so the question
    changes nothing, and grading is a few linear scans over the text, bounded by construction.
    """
    return grade_batch([completion], [gold], questions=[question], timeout_s=timeout_s)[0]


def grade_batch(completions: Sequence[str], golds: Sequence[str], *,
                questions: Sequence[str | None] | None = None, timeout_s: float = 1.0) -> list[Verdict]:
    """Grade pairs; each distinct gold is parsed once. `questions`: see `grade`."""
    if len(completions) != len(golds):
        raise ValueError(f"grade_batch got {len(completions)} completions but {len(golds)} golds")
    if questions is not None and len(questions) != len(golds):
        raise ValueError(f"grade_batch got {len(questions)} questions for {len(golds)} golds")
    gold_values: dict[str, Fraction | None] = {}
    verdicts = []
    for completion, gold in zip(completions, golds, strict=True):
        if gold not in gold_values:
            gold_values[gold] = _gold_value(gold)
        verdicts.append(_grade_one(completion, gold_values[gold]))
    return verdicts


def _grade_one(completion: str, gold: Fraction | None) -> Verdict:
    found = _extract(completion)
    if found.answer is None:
        return Verdict(False, None, "no_answer")
    value, hedged = parse_number(found.answer)
    extracted = _format(value) if value is not None else found.answer
    if gold is None:
        return Verdict(False, extracted, "bad_gold")
    if hedged:
        return Verdict(False, found.answer, "hedged")
    if value is None:
        return Verdict(False, extracted, "not_a_number")
    return Verdict(value == gold, extracted, "equal" if value == gold else "different")


def is_equiv(a: str, b: str) -> bool:
    """Whether two extracted answers state the same number (used to cluster maj@k votes)."""
    va, ha = parse_number(a)
    vb, hb = parse_number(b)
    if va is None or vb is None or ha or hb:
        return a.strip() == b.strip()
    return va == vb


async def grade_async(completion: str, gold: str, *, question: str | None = None,
                      timeout_s: float = 1.0) -> Verdict:
    """`grade` for asyncio code: runs in a thread so the event loop is never blocked."""
    return await asyncio.to_thread(grade, completion, gold, question=question, timeout_s=timeout_s)
