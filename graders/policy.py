"""The grading policy: every judgement call of the math grader, as a named, documented option.

A grader is also an RL reward, so each leniency is a hole a policy model can learn to exploit,
and each strictness is a correct answer it is punished for. The defaults below are the choices
evalkit makes; `graders.math` documents why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True)
class GradingPolicy:
    #: An answer offering alternatives ("1 or 2", `\\boxed{1} or \\boxed{2}`) is wrong when the
    #: gold is one value. Against a gold list ("find all x") "or" reads as a list separator.
    reject_hedges: bool = True
    #: Against a gold that is a plain number, an expression that merely evaluates to it
    #: (`123 \\times 456`, `\\sqrt{25}`, `2^{10}`, `5!`) is a restatement, not an answer: wrong.
    #: Fractions of integers, decimals and mixed numbers count as plain numbers.
    reject_unevaluated: bool = True
    #: "strip": `25\\%` is the number 25 (MATH golds write the sign, models often drop it);
    #: "fraction": `25\\%` is 1/4. Never both (Qwen's grader accepts 300 and 0.03 for 3).
    percent: Literal["strip", "fraction"] = "strip"
    #: Relative tolerance for a decimal answer against a gold that is not an integer (e.g. 0.333
    #: for 1/3 needs rel_tol >= 1e-3). 0 means exact. Integers are always compared exactly.
    rel_tol: float = 0.0
    #: A bare list `a, b, c` (and a set) is compared as a multiset; tuples and intervals in order.
    unordered_lists: bool = True
    #: `x = 3` is accepted for gold 3, and 3 for gold `x = 3` (an assignment to one variable).
    accept_assignment: bool = True

    def __post_init__(self) -> None:
        if self.percent not in ("strip", "fraction"):
            raise ValueError(f"percent must be 'strip' or 'fraction', got {self.percent!r}")
        if not 0 <= self.rel_tol < 1:
            raise ValueError(f"rel_tol must be in [0, 1), got {self.rel_tol!r}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


DEFAULT_POLICY = GradingPolicy()
