"""The sandbox's plain data: what a job asks for and what came back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "timeout", "error"]
#: "strong": decided by the trusted judge against a proxy; "weak": the test had to run inside the
#: candidate process (it passes callables or custom objects), so the candidate could have forged it.
Trust = Literal["strong", "weak"]


#: The comparison kinds the judge implements (see `OutputCheck`).
CheckKind = Literal["equal", "set_equal", "not_none", "any", "polynomial_root"]
CHECK_KINDS: tuple[str, ...] = ("equal", "set_equal", "not_none", "any", "polynomial_root")


@dataclass(frozen=True)
class OutputCheck:
    """How the judge compares each output of an `IOTest` with the expected one: plain data, so the rules
    of a benchmark (evalplus's, in `benchmarks.evalplus_rules`) reach the judge without it knowing them.

    `kind`:
    - "equal": `out == expected`; where the input's tolerance is not 0, also numerically close
      (same type, same length, elementwise |out - exp| <= tolerance + rtol * |exp|, as numpy.allclose);
    - "set_equal": `set(out) == set(expected)`, then closeness as for "equal";
    - "not_none": the candidate reports only whether its output is not None (a bool stays a bool),
      compared with the expected bool: for outputs that are not data, such as `re.Match`;
    - "any": every output that arrives in time and is plain data passes;
    - "polynomial_root": |sum(c * out**i for i, c in enumerate(args[0]))| <= the input's tolerance.
    `tolerances` is one absolute tolerance for every input, or one per input. `alternatives` are
    per-input values also accepted: compared with ==, or as |out - alternative| <= `alternative_atol`.
    """

    kind: CheckKind = "equal"
    tolerances: float | list[float] = 0.0
    rtol: float = 0.0
    alternatives: list[Any] | None = None
    alternative_atol: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in CHECK_KINDS:
            raise ValueError(f"OutputCheck.kind must be one of {', '.join(CHECK_KINDS)} (got {self.kind!r})")


@dataclass(frozen=True)
class IOTest:
    """Differential test: call the entry point on each input, compare with `expected` under `check`.

    `expected` are the reference solution's outputs (see `run_reference`); `time_limits` are per-input
    limits in seconds (evalplus: max(1 s, 4 x the reference's time)).
    """

    inputs: list[list[Any]]
    expected: list[Any]
    check: OutputCheck = field(default_factory=OutputCheck)
    time_limits: list[float] | None = None

    def __post_init__(self) -> None:
        n = len(self.inputs)
        if len(self.expected) != n:
            raise ValueError(f"IOTest has {n} inputs but {len(self.expected)} expected outputs")
        if self.time_limits is not None and len(self.time_limits) != n:
            raise ValueError("IOTest.time_limits must have one limit per input")
        if isinstance(self.check.tolerances, list) and len(self.check.tolerances) != n:
            raise ValueError("OutputCheck.tolerances must be one number or one per input")
        if self.check.alternatives is not None and len(self.check.alternatives) != n:
            raise ValueError("OutputCheck.alternatives must have one value per input")


@dataclass(frozen=True)
class ExecResult:
    """The verdict on one program. `detail` says why it failed (or why the verdict is weak)."""

    passed: bool
    status: Status
    detail: str
    duration: float
    trust: Trust = "strong"
    isolated: bool = True


@dataclass(frozen=True)
class ReferenceRun:
    """Outputs and per-call seconds of a (trusted) reference solution, from `run_reference`."""

    status: Status
    detail: str
    outputs: list[Any] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "passed"
