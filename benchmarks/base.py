"""The benchmark interface: what a benchmark must provide to the runner and the trainer.

A benchmark owns three things: its problems (loaded from the hub or a local directory), how a
problem is phrased for the model (a chat instruction, or a completion prompt with exemplars),
and how a completion is graded: it holds a grader (`graders.protocol.Grader`) and turns each
problem into that grader's reference. It owns nothing about engines, sampling, storage or metrics.
Public bases to subclass: `benchmarks.math_bench.MathBenchmark` and `benchmarks.code.CodeBenchmark`.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from graders.protocol import Grader
from graders.verdict import Verdict


class DataError(ValueError):
    """Benchmark data is missing or malformed; the message says how to fix it."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One benchmark item. `gold` is the reference answer as the grader expects it."""

    id: str
    question: str
    gold: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataSource:
    """Where benchmark files come from: a local directory laid out like `shared/data`, or the hub."""

    data_dir: Path | None = None

    def local(self, *parts: str) -> Path | None:
        """The local file for `parts`, or None when reading from the hub."""
        return None if self.data_dir is None else self.data_dir.joinpath(*parts)


class Benchmark(ABC):
    """Base class of every benchmark. Subclasses set `name`, `task` and `grader` and implement the hooks.

    `unsafe_code_exec` is the user's opt-in (`--unsafe-code-exec`) to let the grading of this
    benchmark run model code where the sandbox cannot isolate it; benchmarks that run no code ignore it.
    """

    name: ClassVar[str]
    task: ClassVar[Literal["math", "code"]]
    description: ClassVar[str] = ""
    #: The Hugging Face hub dataset the problems load from without --data-dir (shown by `evalkit list`).
    hub_dataset: ClassVar[str] = ""
    #: Stop sequences for plain-completion (few-shot, base model) prompts.
    completion_stop: ClassVar[tuple[str, ...]] = ()
    grader: Grader[Any]

    def __init__(self, *, unsafe_code_exec: bool = False) -> None:
        self.unsafe_code_exec = unsafe_code_exec

    @abstractmethod
    def load(self, source: DataSource) -> list[Problem]:
        """All evaluation problems, in a stable order."""

    def fewshot_pool(self, source: DataSource) -> list[Problem]:
        """Problems that may serve as k-shot exemplars (never evaluation problems); also the training prompts."""
        return []

    @abstractmethod
    def chat_instruction(self, problem: Problem) -> str:
        """The user message for chat models."""

    @abstractmethod
    def completion_prompt(self, problem: Problem, shots: Sequence[Problem]) -> str:
        """The raw text prompt for base models, with `shots` as worked exemplars."""

    @abstractmethod
    def references(self, problems: Sequence[Problem]) -> list[Any]:
        """What `self.grader` judges a completion of each problem against, in order."""

    def grade_many(self, problems: Sequence[Problem], completions: Sequence[str]) -> list[Verdict]:
        """Grade many (problem, completion) pairs in one grader batch."""
        return self.grader.grade_batch(list(completions), self.references(problems))

    def grade(self, problem: Problem, completion: str) -> Verdict:
        """Grade one completion of `problem`."""
        return self.grade_many([problem], [completion])[0]

    def worked_solution(self, problem: Problem) -> str:
        """The exemplar answer shown for `problem` when it serves as a chat few-shot turn."""
        return str(problem.metadata.get("solution", problem.gold))

    def breakdown_keys(self) -> tuple[str, ...]:
        """Metadata keys to report accuracy by (e.g. level and subject for MATH)."""
        return ()


def content_hash(problems: Sequence[Problem]) -> str:
    """A short hash of the problems' content, recorded in config.json to pin the data version."""
    h = hashlib.sha256()
    for p in problems:
        h.update(json.dumps([p.id, p.question, p.gold], ensure_ascii=False).encode())
    return h.hexdigest()[:16]
