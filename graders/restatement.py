"""Is an answer a restatement of the question rather than an answer to it?

"Compute $123 \\times 456$." answered `\\boxed{123 \\times 456}` equals the gold 56088, yet it is no
answer: it copies the question. An exact closed form that is *not* copied from the question
(`10^3`, `\\binom{5}{2}`, `5!`, `\\sqrt[3]{8}` for 1000, 10, 120, 2) is a correct answer, as every
mathematician and peer grader agrees. So the rule needs the question: an answer equal to the gold
is a restatement when it is not a plain number, is not spelled like the gold, and its spelling
(canonical tokens: `\\times`, `\\cdot`, `*` and `×` alike, spacing, braces and `\\left`/`\\right`
ignored) appears in the question ("Simplify $\\sqrt{50} - \\sqrt{18}$." answered with that).
`GradingPolicy.reject_unevaluated` chooses this rule ("restatement", the default), the earlier rule
that refused every non-plain-number form against a plain-number gold ("any"), or neither ("never").
"""

from __future__ import annotations

import re
from functools import lru_cache

from graders.latex import normalize, undouble_backslashes
from graders.nodes import Apply, Node, Num

_LENIENT_TOKEN = re.compile(r"\d+(?:\.\d+)?|\\[A-Za-z]+|[A-Za-z]+|[-+*/^_=<>!(){}\[\],|]")
_SAME_TOKEN = {"\\times": "*", "\\cdot": "*", "\\ast": "*", "\\div": "/", "\\dfrac": "\\frac", "\\tfrac": "\\frac",
               "\\cfrac": "\\frac", "\\dbinom": "\\binom", "\\tbinom": "\\binom", "[": "(", "]": ")"}
_TWO_ARGUMENTS = {"\\frac", "\\binom"}
_DROP = re.compile(r"\\(?:left|right|displaystyle|bigl|bigr|Bigl|Bigr|big|Big|limits)(?![A-Za-z])|\$|\\[,;:! ]")
_UNICODE = {"\u00d7": "*", "\u22c5": "*", "\u00b7": "*", "\u00f7": "/", "\u2212": "-", "\u221a": "\\sqrt"}


def is_plain_number(node: Node) -> bool:
    """A number as written in an answer: 12, -3, 0.5, \\frac{1}{2}, 2\\frac12, -\\frac{3}{4}, 1.5 \\times 10^3."""
    if isinstance(node, Num):
        return True
    if isinstance(node, Apply) and node.op == "neg":
        return is_plain_number(node.args[0])
    if isinstance(node, Apply) and node.op == "div":
        return all(isinstance(a, Num) and a.form == "int" for a in node.args) or (
            isinstance(node.args[0], Apply) and node.args[0].op == "neg" and is_plain_number(node.args[0])
            and isinstance(node.args[1], Num))
    return False


def canonical_tokens(text: str) -> tuple[str, ...]:
    """Tokens of math text with spelling variants merged (`\\cdot` and `\\times`, `\\dfrac` and
    `\\frac`, `\\frac12` and `\\frac{1}{2}`, `x^{3}` and `x^3`); braces and unknown characters only
    separate tokens."""
    for char, alias in _UNICODE.items():
        text = text.replace(char, f" {alias} ")
    text = _DROP.sub(" ", undouble_backslashes(text))
    raw = [_SAME_TOKEN.get(t, t) for t in _LENIENT_TOKEN.findall(text)]
    tokens: list[str] = []
    i = 0
    while i < len(raw):
        token = raw[i]
        i += 1
        if token in _TWO_ARGUMENTS:
            tokens.append(token)
            for _ in range(2):  # TeX reads `\frac12` as \frac{1}{2}: one digit per unbraced argument
                if i < len(raw) and raw[i] != "{" and raw[i].isdigit() and len(raw[i]) > 1:
                    tokens.append(raw[i][0])
                    raw[i] = raw[i][1:]
                elif i < len(raw) and raw[i] != "{":
                    tokens.append(raw[i])
                    i += 1
                else:
                    break
            continue
        if token not in ("{", "}"):
            tokens.append(token)
    return tuple(tokens)


@lru_cache(maxsize=4096)
def _question_tokens(question: str) -> tuple[str, ...]:
    return canonical_tokens(question)


def restated(answer: str, question: str, gold: str | None = None) -> bool:
    """Whether the answer's spelling (an expression, not a plain number) occurs in the question,
    and is not the gold's own spelling."""
    tokens = canonical_tokens(_normalized(answer))
    if gold is not None and tokens == canonical_tokens(_normalized(gold)):
        return False
    if len(tokens) < 2:
        return False
    haystack = _question_tokens(question)
    n = len(tokens)
    first = tokens[0]
    return any(haystack[i] == first and haystack[i:i + n] == tokens for i in range(len(haystack) - n + 1))


def _normalized(text: str) -> str:
    try:
        return normalize(text)
    except ValueError:
        return text
