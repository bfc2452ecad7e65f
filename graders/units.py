"""Drop the unit written after a numeric answer (the `units="any"` policy of `graders.policy`).

Science answers put the unit inside the box: `4.5 \\times 10^{33} \\mathrm{ergs} \\mathrm{s}^{-1}`,
`300 \\mathrm{~km} / \\mathrm{s}`, `9.6 \\AA`. When the gold is a plain number, the question fixes the
unit, and only the number is compared. `strip_unit` keeps the leading number (decimal, integer or
scientific notation) when everything after it is unit notation: letters, `\\mathrm{}` / `\\text{}` /
`\\operatorname{}` groups, `\\AA`, `\\mu`, `\\Omega`, degrees, `/`, `\\cdot`, powers and spacing.
Anything else after the number (another number, "or", an operator) leaves the answer unchanged, so a
hedge or a calculation is never turned into a bare number.

The scan is a loop of anchored token matches, each a regex without nested quantifiers: linear in the
answer's length, with no backtracking.
"""

from __future__ import annotations

import re

_HEAD = re.compile(r"\s*[-+\u2212]?\s*(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
                   r"(?:\s*(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*(?:\{\s*[-+\u2212]?\s*\d+\s*\}|[-+]?\d+))?")
_UNIT_TOKEN = re.compile(
    r"\s+|\\[,;:! ]|~|\{\s*\}"
    r"|\\(?:mathrm|text|textrm|textnormal|operatorname|mbox|rm|mathit)\s*\{[^{}$]*\}"
    r"|\\(?:AA|mu|Omega|ohm|circ|degree|prime)(?![A-Za-z])"
    r"|[A-Za-z]+|/|\\cdot|\*|\^\s*\{\s*[-+\u2212]?\s*\d+(?:\s*/\s*\d+)?\s*\}|\^\s*[-+]?\d+|\^\s*\\circ|%|\\%"
)
_CONNECTIVES = re.compile(r"(?<![A-Za-z])(?:or|and|to|plus|minus|times)(?![A-Za-z])", re.IGNORECASE)


def strip_unit(answer: str) -> str:
    """`answer` without the unit after its leading number, or unchanged when what follows is not a unit."""
    head = _HEAD.match(answer)
    if head is None:
        return answer
    tail = answer[head.end():]
    if not tail.strip() or _CONNECTIVES.search(tail):
        return answer
    pos = 0
    while pos < len(tail):
        token = _UNIT_TOKEN.match(tail, pos)
        if token is None:
            return answer
        pos = token.end()
    if not re.search(r"[A-Za-z]", tail):
        return answer  # only spacing or powers after the number: not a unit (`10^{2}` is read as a power)
    return answer[:head.end()].strip()
