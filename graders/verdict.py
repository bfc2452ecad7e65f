"""The one result type every grader returns, math and code alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """A grader's decision on one completion.

    `extracted` is the answer the grader read out of the completion (a math answer string,
    or the code that was executed); None when nothing could be extracted. `reason` is a short
    machine-friendly word or phrase saying why (e.g. "equal", "no_answer", "hedged", "timeout").
    `subscores` holds named partial verdicts reported alongside the main one, e.g. HumanEval+
    `{"base": True, "plus": False}`; metrics reports pass@k for each name too.
    """

    correct: bool
    extracted: str | None
    reason: str
    subscores: Mapping[str, bool] = field(default_factory=dict)
