"""The answer graders as objects of the grader protocol: MATH-style LaTeX answers and GSM8K numbers.

Thin wrappers over `graders.math` and `graders.gsm8k` (whose functions the TRL / verl rewards
call directly): they fix the settings (timeout, policy) once, take `Reference`s, and pass each
problem's question on to a grading function that accepts one (`questions=`), so that a final answer
which merely restates the question can be recognised.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from graders import gsm8k as _gsm8k
from graders import math as _math
from graders.policy import DEFAULT_POLICY, GradingPolicy
from graders.protocol import Reference, as_references
from graders.verdict import Verdict


@cache
def _accepts_questions(fn: Callable[..., Any]) -> bool:
    return "questions" in inspect.signature(fn).parameters


def _grade(fn: Callable[..., list[Verdict]], completions: Sequence[str], references: Sequence[Reference | str],
           **settings: Any) -> list[Verdict]:
    refs = as_references(references)
    if len(refs) != len(completions):
        raise ValueError(f"grade_batch got {len(completions)} completions but {len(refs)} references")
    if _accepts_questions(fn) and any(r.question is not None for r in refs):
        settings["questions"] = [r.question for r in refs]
    return fn(list(completions), [r.gold for r in refs], **settings)


@dataclass(frozen=True)
class MathGrader:
    """MATH / MATH-500 / competition answers: `graders.math` (equivalence of LaTeX answers)."""

    timeout_s: float = 1.0
    policy: GradingPolicy = DEFAULT_POLICY

    @property
    def version(self) -> str:
        """`graders.math@N`, with the policy options that differ from the defaults (`[rel_tol=0.0001]`), so
        that runs graded under different policies are never taken for the same grading."""
        changes = self.policy.changes()
        options = "[" + ",".join(f"{k}={v}" for k, v in sorted(changes.items())) + "]" if changes else ""
        return f"graders.math@{_math.GRADER_VERSION}{options}"

    def grade_batch(self, completions: Sequence[str], references: Sequence[Reference | str]) -> list[Verdict]:
        return _grade(_math.grade_batch, completions, references, timeout_s=self.timeout_s, policy=self.policy)

    def same_answer(self, a: str, b: str) -> bool:
        return a == b or _math.is_equiv(a, b)


@dataclass(frozen=True)
class GSM8KGrader:
    """GSM8K-style numeric answers: `graders.gsm8k` (exact rational comparison)."""

    timeout_s: float = 1.0

    @property
    def version(self) -> str:
        return f"graders.gsm8k@{_gsm8k.GRADER_VERSION}"

    def grade_batch(self, completions: Sequence[str], references: Sequence[Reference | str]) -> list[Verdict]:
        return _grade(_gsm8k.grade_batch, completions, references, timeout_s=self.timeout_s)

    def same_answer(self, a: str, b: str) -> bool:
        return a == b or _gsm8k.is_equiv(a, b)
