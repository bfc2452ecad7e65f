"""Problem -> prompt: a chat conversation for instruction models, or k-shot plain text for base models.

Chat prompts are rendered by the engine through the model's own chat template; few-shot exemplars
in chat mode become earlier user/assistant turns. Plain prompts are the benchmark's completion
format with exemplars drawn from its train split (never from the evaluation problems).
The exact rendered text of every prompt is stored in the run directory (prompts.jsonl).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from benchmarks.base import Benchmark, Problem
from evalkit.engines.base import Prompt
from evalkit.errors import UsageError
from evalkit.schema import PromptConfig

FEWSHOT_SEED = 1234


def choose_shots(pool: Sequence[Problem], k: int, benchmark: str) -> list[Problem]:
    """The same k exemplars for every problem of a run (a fixed seed), so prompts share a prefix."""
    if k <= 0:
        return []
    if len(pool) < k:
        raise UsageError(
            f"--num-fewshot {k}: benchmark {benchmark} has only {len(pool)} exemplars available; lower it"
        )
    return random.Random(FEWSHOT_SEED).sample(list(pool), k)


def build_prompt(benchmark: Benchmark, problem: Problem, config: PromptConfig, shots: Sequence[Problem]) -> Prompt:
    """The prompt for `problem` under `config` (chat or plain), with `shots` as exemplars."""
    if not config.chat:
        text = benchmark.completion_prompt(problem, shots)
        if config.system_prompt:
            text = f"{config.system_prompt}\n\n{text}"
        return Prompt(text=text)
    messages: list[tuple[str, str]] = []
    if config.system_prompt:
        messages.append(("system", config.system_prompt))
    for shot in shots:
        messages.append(("user", benchmark.chat_instruction(shot)))
        messages.append(("assistant", benchmark.worked_solution(shot)))
    messages.append(("user", benchmark.chat_instruction(problem)))
    return Prompt(messages=tuple(messages))


def prompt_hash(rendered: str) -> str:
    """A short content hash of the exact text sent to the model."""
    return hashlib.sha256(rendered.encode("utf-8")).hexdigest()[:16]


def opens_thinking(rendered: str) -> bool:
    """Whether a rendered prompt leaves a `<think>` block open for the model to continue (reasoning-model
    chat templates such as DeepSeek-R1's end the prompt with `<think>`)."""
    return rendered.rfind("<think>") > rendered.rfind("</think>")


def graded_text(completion: str, prompt_opens_thinking: bool) -> str:
    """The text a grader reads: a completion of a prompt that opened `<think>` is read as if the model had
    written the `<think>` itself, so thinking that never closed holds no answer (`graders.extract`)."""
    return "<think>" + completion if prompt_opens_thinking and "<think>" not in completion else completion
