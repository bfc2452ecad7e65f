"""Is an answer a restatement of the question rather than an answer to it?

"Compute $123 \\times 456$." answered `\\boxed{123 \\times 456}` equals the gold 56088, yet it is no
answer: it copies the question. An exact closed form that is *not* copied from the question
(`10^3`, `\\binom{5}{2}`, `5!`, `\\sqrt[3]{8}` for 1000, 10, 120, 2) is a correct answer, as every
mathematician and peer grader agrees. So the rule needs the question: an answer that evaluates to
a plain-number gold is a restatement when it is not itself a plain number and its spelling
(canonical tokens: `\\times`, `\\cdot`, `*` and `×` alike, spacing and `\\left`/`\\right` ignored)
appears in the question. `GradingPolicy.reject_unevaluated` chooses this rule ("restatement",
the default), the earlier rule that refused every non-plain-number form ("any"), or neither.
"""

from __future__ import annotations

import re
from functools import lru_cache

from graders.latex import normalize, undouble_backslashes
from graders.nodes import Apply, Node, Num

_LENIENT_TOKEN = re.compile(r"\d+(?:\.\d+)?|\\[A-Za-z]+|[A-Za-z]+|[-+*/^_=<>!(){}\[\],|]")
_SAME_TOKEN = {"\\times": "*", "\\cdot": "*", "\\ast": "*", "\\div": "/", "\\dfrac": "\\frac", "\\tfrac": "\\frac",
               "[": "(", "]": ")", "\\{": "{", "\\}": "}"}
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
    """Tokens of math text with spelling variants merged; unknown characters separate tokens."""
    for char, alias in _UNICODE.items():
        text = text.replace(char, f" {alias} ")
    text = _DROP.sub(" ", undouble_backslashes(text))
    return tuple(_SAME_TOKEN.get(t, t) for t in _LENIENT_TOKEN.findall(text))


@lru_cache(maxsize=4096)
def _question_tokens(question: str) -> tuple[str, ...]:
    return canonical_tokens(question)


def restated(answer: str, question: str) -> bool:
    """Whether the answer's spelling (an expression, not a plain number) occurs in the question."""
    try:
        text = normalize(answer)
    except ValueError:
        text = answer
    tokens = canonical_tokens(text)
    if len(tokens) < 2:
        return False
    haystack = _question_tokens(question)
    n = len(tokens)
    first = tokens[0]
    return any(haystack[i] == first and haystack[i:i + n] == tokens for i in range(len(haystack) - n + 1))
