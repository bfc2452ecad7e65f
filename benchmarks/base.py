"""The benchmark interface: what a benchmark must provide to the runner.

A benchmark owns three things: its problems (loaded from the hub or a local directory), how a
problem is phrased for the model (a chat instruction, or a completion prompt with exemplars),
and how a completion is graded (delegated to `graders/`). It owns nothing about engines,
sampling, storage or metrics.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from graders.verdict import Verdict


class DataError(ValueError):
    """Benchmark data is missing or malformed; the message says how to fix it."""


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
    """Base class of every benchmark. Subclasses set `name`, `task` and implement the hooks."""

    name: str
    task: Literal["math", "code"]
    description: str = ""
    #: Stop sequences for plain-completion (few-shot, base model) prompts.
    completion_stop: tuple[str, ...] = ()

    @abstractmethod
    def load(self, source: DataSource) -> list[Problem]:
        """All evaluation problems, in a stable order."""

    def fewshot_pool(self, source: DataSource) -> list[Problem]:
        """Problems that may serve as k-shot exemplars (never evaluation problems)."""
        return []

    @abstractmethod
    def chat_instruction(self, problem: Problem) -> str:
        """The user message for chat models."""

    @abstractmethod
    def completion_prompt(self, problem: Problem, shots: Sequence[Problem]) -> str:
        """The raw text prompt for base models, with `shots` as worked exemplars."""

    @abstractmethod
    def grade(self, problem: Problem, completion: str) -> Verdict:
        """Grade one completion of `problem`."""

    def grade_many(self, problems: Sequence[Problem], completions: Sequence[str]) -> list[Verdict]:
        """Grade many (problem, completion) pairs; override to batch."""
        return [self.grade(p, c) for p, c in zip(problems, completions, strict=True)]

    def worked_solution(self, problem: Problem) -> str:
        """The exemplar answer shown for `problem` when it serves as a chat few-shot turn."""
        return str(problem.metadata.get("solution", problem.gold))

    def grader_id(self) -> str:
        """Names the grader and its version; recorded in config.json so regraded runs are comparable."""
        return type(self).__module__

    def same_answer(self, a: str, b: str) -> bool:
        """Whether two extracted answers are equivalent (used to cluster votes for maj@k)."""
        return a == b

    def breakdown_keys(self) -> tuple[str, ...]:
        """Metadata keys to report accuracy by (e.g. level and subject for MATH)."""
        return ()


def content_hash(problems: Sequence[Problem]) -> str:
    """A short hash of the problems' content, recorded in config.json to pin the data version."""
    h = hashlib.sha256()
    for p in problems:
        h.update(json.dumps([p.id, p.question, p.gold], ensure_ascii=False).encode())
    return h.hexdigest()[:16]
