"""The engine interface: n completions for each of many prompts, with given sampling settings.

Engines yield results as they finish, so the runner can append them to samples.jsonl at once
and a crash loses at most the work in flight. An engine class builds itself from the user's
settings (`Engine.create`), so adding one is a class and one line in `evalkit.engines.ENGINES`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evalkit.errors import EvalkitError
from evalkit.schema import SamplingParams

if TYPE_CHECKING:
    from evalkit.models import ResolvedModel


class EngineError(EvalkitError, RuntimeError):
    """The engine cannot be created or used; the message says what to install or change."""


@dataclass(frozen=True)
class Prompt:
    """Either chat `messages` (rendered through the model's chat template) or raw `text`."""

    text: str | None = None
    messages: tuple[tuple[str, str], ...] | None = None  # ((role, content), ...)

    def __post_init__(self) -> None:
        if (self.text is None) == (self.messages is None):
            raise ValueError("a Prompt has exactly one of text or messages")

    @property
    def is_chat(self) -> bool:
        return self.messages is not None

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in (self.messages or ())]

    def as_json(self) -> str:
        """A stable text form for chat prompts sent to a server that applies its own template."""
        return json.dumps(self.message_dicts(), ensure_ascii=False)


@dataclass(frozen=True)
class EngineOptions:
    """Engine-specific settings; each engine reads the ones that apply to it."""

    base_url: str | None = None
    concurrency: int = 8
    batch_size: int = 8
    device: str | None = None
    dtype: str | None = None
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    seed: int = 0
    threads: int | None = None  # llamacpp: CPU threads (None: all cores)


@dataclass(frozen=True)
class Request:
    """Generate `n` completions of `prompt`; `seed_offset` keeps resumed samples on fresh seeds."""

    prompt: Prompt
    n: int
    seed_offset: int = 0


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int
    finish_reason: str  # "stop" (EOS or a stop sequence) | "length" (hit max_tokens)


class Engine(ABC):
    """A loaded model. `render` gives the exact prompt text; `generate` yields (request index, completions).

    `loads_model` is False for engines that talk to a served model (`--model` is then the served
    name, not a path to resolve).
    """

    name: str
    loads_model: bool = True

    @classmethod
    def create(cls, model: ResolvedModel | None, spec: str, options: EngineOptions) -> Engine:
        """Build the engine for `model` (None when `loads_model` is False; `spec` is what --model said).

        Every engine registered in `ENGINES` implements it; engines built directly (tests, notebooks) need not.
        """
        raise EngineError(f"engine {cls.__name__} cannot be created from command-line settings "
                          "(it does not implement Engine.create)")

    @abstractmethod
    def render(self, prompt: Prompt) -> str:
        """The exact text the model sees (chat template applied), or JSON messages for a chat API."""

    @abstractmethod
    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        """Yield `(index into requests, completions)` as each request finishes, in any order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model's memory and threads."""


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """`text` up to the earliest stop sequence, and whether one was found."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
