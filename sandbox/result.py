"""The sandbox's plain data: what a job asks for and what came back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "timeout", "error"]
#: "strong": decided by the trusted judge against a proxy; "weak": the test had to run inside the
#: candidate process (it passes callables or custom objects), so the candidate could have forged it.
Trust = Literal["strong", "weak"]


@dataclass(frozen=True)
class IOTest:
    """evalplus-style differential test: call the entry point on each input, compare with `expected`.

    `expected` are the reference solution's outputs (see `run_reference`); `atol` and `dataset`
    ("humaneval" | "mbpp") select evalplus's comparison rules and special oracles; `time_limits`
    are per-input limits in seconds (evalplus: max(1 s, 4 x the reference's time)).
    """

    inputs: list[list[Any]]
    expected: list[Any]
    atol: float = 0.0
    dataset: str = ""
    time_limits: list[float] | None = None

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.expected):
            raise ValueError(f"IOTest has {len(self.inputs)} inputs but {len(self.expected)} expected outputs")
        if self.time_limits is not None and len(self.time_limits) != len(self.inputs):
            raise ValueError("IOTest.time_limits must have one limit per input")


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
