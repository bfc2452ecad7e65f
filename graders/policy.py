"""The grading policy: every judgement call of the math grader, as a named, documented option.

A grader is also an RL reward, so each leniency is a hole a policy model can learn to exploit,
and each strictness is a correct answer it is punished for. The defaults below are the choices
evalkit makes; `graders.math` documents why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal

Unevaluated = Literal["restatement", "any", "never"]
Units = Literal["known", "any"]


@dataclass(frozen=True)
class GradingPolicy:
    #: An answer offering alternatives ("1 or 2", `\\boxed{1} or \\boxed{2}`) is wrong when the
    #: gold is one value. Against a gold list ("find all x") "or" reads as a list separator.
    reject_hedges: bool = True
    #: Against a gold that is a plain number, when is an expression that evaluates to it wrong?
    #: "restatement" (default): when it restates the question (`\\boxed{123 \\times 456}` for
    #: "Compute $123 \\times 456$."; see `graders.restatement`); an exact closed form that is not
    #: copied from the question (`10^3`, `\\binom{5}{2}`, `5!` for 1000, 10, 120) is correct, and so
    #: is every closed form when no question is given. "any": every form that is not a plain
    #: number (the rule before grader version 3). "never": no form is refused.
    #: `True` / `False` are read as "any" / "never".
    reject_unevaluated: Unevaluated = "restatement"
    #: "strip": `25\\%` is the number 25 (MATH golds write the sign, models often drop it);
    #: "fraction": `25\\%` is 1/4. Never both (Qwen's grader accepts 300 and 0.03 for 3).
    percent: Literal["strip", "fraction"] = "strip"
    #: Relative tolerance for a decimal answer against a gold that is not an integer (e.g. 0.333
    #: for 1/3 needs rel_tol >= 1e-3). 0 means exact. Integers are always compared exactly, unless
    #: `approximate_golds`.
    rel_tol: float = 0.0
    #: A bare list `a, b, c` (and a set) is compared as a set; tuples and intervals in order.
    unordered_lists: bool = True
    #: Labelled answers are compared by value: `x = 3` for gold 3 and 3 for gold `x = 3`, also
    #: `(p, q) = (3, 2)`, `AB = 4, CD = 5`, `f(x) = 1`, `2 = x` (see `graders.compare`).
    accept_assignment: bool = True
    #: With `rel_tol` set, a gold *written* as a decimal or in scientific notation (`1.6`, `4.5e33`,
    #: `3.83 \\times 10^{35}`) is a rounded measurement: any answer within `rel_tol` of it is right,
    #: whatever its form and even when the gold's value is an integer (Minerva Math's physics and
    #: chemistry answers). Golds written as integers or fractions stay exact.
    approximate_golds: bool = False
    #: Absolute tolerance between two numbers (no variables): OlympiadBench's per-problem `error`
    #: (4.2 with error 0.1 accepts 4.25). 0 means exact.
    abs_tol: float = 0.0
    #: Against a gold that is a plain number, which unit written after the answer's number is dropped?
    #: "known" (default): units in `\\text{}` and the known unit words (`12 \\text{ cm}^2`, `5 apples`).
    #: "any": any trailing run of letters, `\\mathrm{}` / `\\text{}` groups, `\\AA`, `/`, `\\cdot` and
    #: powers (`4.5 \\times 10^{33} \\mathrm{ergs} \\mathrm{s}^{-1}`, `300 \\mathrm{~km} / \\mathrm{s}`),
    #: single letters included (`m`, `K`): for science answers whose unit the question fixes.
    units: Units = "known"

    def __post_init__(self) -> None:
        if isinstance(self.reject_unevaluated, bool):
            object.__setattr__(self, "reject_unevaluated", "any" if self.reject_unevaluated else "never")
        if self.reject_unevaluated not in ("restatement", "any", "never"):
            raise ValueError(f"reject_unevaluated must be 'restatement', 'any' or 'never', "
                             f"got {self.reject_unevaluated!r}")
        if self.percent not in ("strip", "fraction"):
            raise ValueError(f"percent must be 'strip' or 'fraction', got {self.percent!r}")
        if not 0 <= self.rel_tol < 1:
            raise ValueError(f"rel_tol must be in [0, 1), got {self.rel_tol!r}")
        if not 0 <= self.abs_tol < float("inf"):
            raise ValueError(f"abs_tol must be a finite number >= 0, got {self.abs_tol!r}")
        if self.units not in ("known", "any"):
            raise ValueError(f"units must be 'known' or 'any', got {self.units!r}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def changes(self) -> dict[str, object]:
        """The options that differ from the defaults (what a grader's version string records)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}

    @classmethod
    def from_options(cls, options: dict[str, object]) -> GradingPolicy:
        """A policy from named options (a benchmark file's `[grader.policy]`); an unknown name or a
        value of the wrong type raises ValueError naming it."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for name, value in options.items():
            if name not in known:
                raise ValueError(f"unknown policy option {name!r}; known: {', '.join(known)}")
            default = known[name].default
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if type(value) is not type(default) and not (name == "reject_unevaluated" and isinstance(value, bool)):
                raise ValueError(f"policy option {name!r} must be a {type(default).__name__}, got {value!r}")
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]


DEFAULT_POLICY = GradingPolicy()
