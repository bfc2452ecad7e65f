"""The grader protocol: what every grader object offers, math and code alike, and the grader registry.

A grader is an object with

- `grade_batch(completions, references) -> list[Verdict]`: one verdict per (completion, reference)
  pair, completions first for every grader. A reference is what the completion is judged against:
  a `Reference` (gold answer and the problem's question) for answer graders, a `graders.code.CodeTask`
  for the code grader;
- `same_answer(a, b) -> bool`: whether two extracted answers are one answer (maj@k clusters votes);
- `version`: `"<grader>@<version>"`, recorded in a run's config.json so that regraded runs are
  comparable and a changed grader is never mistaken for the same one.

Benchmarks hold their grader (`Benchmark.grader`), `evalkit run` and `evalkit grade` call it on
stored completions, and the trainer's reward is the same call (`Verdict.reward`). Graders are found
by name in `GRADERS` (lazy targets; third parties add theirs through the entry-point group
`evalkit.graders`). Nothing here imports the core: rewards load alone in TRL / verl workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from graders.registry import Registry
from graders.verdict import Verdict

R_contra = TypeVar("R_contra", contravariant=True)


@dataclass(frozen=True)
class Reference:
    """What an answer grader compares a completion with: the gold, and the problem's question.

    `gold` is a bare answer, a solution with a `\\boxed{}` answer, or a GSM8K solution ending in
    `#### N`. `question` lets a grader recognise a final answer that only restates the question.
    """

    gold: str
    question: str | None = None


@runtime_checkable
class Grader(Protocol[R_contra]):
    """See the module docstring."""

    @property
    def version(self) -> str: ...

    def grade_batch(self, completions: Sequence[str], references: Sequence[R_contra]) -> list[Verdict]: ...

    def same_answer(self, a: str, b: str) -> bool: ...


def as_references(references: Sequence[Reference | str]) -> list[Reference]:
    """References for an answer grader; a plain string is a gold without a question."""
    return [r if isinstance(r, Reference) else Reference(str(r)) for r in references]


#: Grader classes by name; `GRADERS.get("math")()` is the MATH grader with its default settings.
GRADERS: Registry[type] = Registry("grader", entry_point_group="evalkit.graders")
GRADERS.register("math", "graders.answer_graders:MathGrader")
GRADERS.register("gsm8k", "graders.answer_graders:GSM8KGrader")
GRADERS.register("code", "graders.code_grader:CodeGrader")
