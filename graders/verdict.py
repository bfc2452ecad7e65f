"""The one result type every grader returns, math and code alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Trust = Literal["strong", "weak"]


@dataclass(frozen=True)
class Verdict:
    """A grader's decision on one completion.

    `extracted` is the answer the grader read out of the completion (a math answer string,
    or the code that was executed); None when nothing could be extracted. `reason` is a short
    machine-friendly word or phrase saying why (e.g. "equal", "no_answer", "hedged", "timeout").
    `subscores` holds named partial verdicts reported alongside the main one, e.g. HumanEval+
    `{"base": True, "plus": False}`; metrics reports pass@k for each name too. `trust` is "weak"
    when the sample could have forged its pass (a code test that had to run inside the candidate's
    own process), else "strong".
    """

    correct: bool
    extracted: str | None
    reason: str
    subscores: Mapping[str, bool] = field(default_factory=dict)
    trust: Trust = "strong"

    @property
    def reward(self) -> float:
        """The verdict as an RL reward: 1.0 for a correct verdict the sample could not have forged, else 0.0.

        Weak passes earn nothing: a policy under RL optimises against exactly such holes.
        """
        return 1.0 if self.correct and self.trust == "strong" else 0.0
