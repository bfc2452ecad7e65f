"""The code grader as an object of the grader protocol: `graders.code` verdicts over the sandbox.

References are `graders.code.CodeTask`s (the benchmark builds them); a batch is one sandbox batch.
`unsafe=True` is the caller's explicit opt-in to run model code where the sandbox cannot isolate it
(`evalkit run/grade/train --unsafe-code-exec`); it is passed down as an argument, never through the
environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graders import code as _code
from graders.code import CodeTask
from graders.verdict import Verdict


@dataclass(frozen=True)
class CodeGrader:
    """HumanEval / MBPP (and evalplus) verdicts; `workers` sandbox workers (None: one per core)."""

    unsafe: bool | None = None
    workers: int | None = None

    @property
    def version(self) -> str:
        return f"graders.code@{_code.GRADER_VERSION}"

    def grade_batch(self, completions: Sequence[str], references: Sequence[CodeTask]) -> list[Verdict]:
        if len(references) != len(completions):
            raise ValueError(f"grade_batch got {len(completions)} completions but {len(references)} references")
        return _code.grade_many(list(references), list(completions), workers=self.workers, unsafe=self.unsafe)

    def same_answer(self, a: str, b: str) -> bool:
        return a == b
