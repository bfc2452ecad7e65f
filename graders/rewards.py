"""Reward functions over the graders: one verdict for evaluation, evalkit's trainer, TRL and verl.

A reward is the grader's verdict as a number, nothing more: `evalkit run` grades with
`graders.math.grade_batch` / `graders.gsm8k.grade_batch`, and every function here calls the very
same functions, so a model is trained on exactly what it is evaluated on.

- `correctness_reward(completion, gold, task=...)`: 1.0 or 0.0 (evalkit's trainer).
- `format_reward(completion)`: 1.0 when the completion ends its reasoning and states a final
  answer in a box, for recipes that add a small format bonus.
- `trl_reward(task)` / `math_reward` / `gsm8k_reward`: TRL `GRPOTrainer(reward_funcs=...)` adapters,
  called as `f(prompts=..., completions=..., completion_ids=..., **dataset_columns)`; completions
  may be strings or chat messages.
- `compute_score(data_source, solution_str, ground_truth, extra_info=None)`: verl's custom reward
  function (`custom_reward_function.path=graders/rewards.py`, `name=compute_score`).
All are safe to call from threads and Ray workers: no signals, every item bounded by `timeout_s`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from graders import gsm8k as _gsm8k
from graders import math as _math
from graders.extract import answer_region, boxes

TASKS = ("gsm8k", "math")
#: Dataset columns the TRL adapter reads the gold from, first present wins: evalkit's `gold`,
#: MATH-500 `answer`, MATH `solution`, GSM8K `answer` (with `#### N`), verl-style `ground_truth`.
GOLD_COLUMNS = ("gold", "answer", "solution", "ground_truth")


def _grader(task: str) -> ModuleType:
    if task == "math":
        return _math
    if task == "gsm8k":
        return _gsm8k
    raise ValueError(f"unknown reward task {task!r}; use one of {', '.join(TASKS)}")


def correctness_reward(completion: str, gold: str, *, task: str, question: str | None = None,
                       timeout_s: float = 1.0) -> float:
    """1.0 when the completion's final answer is the gold answer, else 0.0 (`question`: the problem
    text, so that restating it earns nothing; see `graders.math`)."""
    verdict = _grader(task).grade(completion, gold, question=question, timeout_s=timeout_s)
    return 1.0 if verdict.correct else 0.0


def correctness_rewards(completions: Sequence[str], golds: Sequence[str], *, task: str,
                        questions: Sequence[str | None] | None = None, timeout_s: float = 1.0) -> list[float]:
    """Batch form (one GRPO group or a whole step): golds and repeated answers are parsed once."""
    verdicts = _grader(task).grade_batch(list(completions), list(golds), questions=questions, timeout_s=timeout_s)
    return [1.0 if v.correct else 0.0 for v in verdicts]


def format_reward(completion: str) -> float:
    """1.0 when any `<think>` block is closed and a `\\boxed{}` answer follows it, else 0.0."""
    region = answer_region(completion)
    return 1.0 if region is not None and boxes(region) else 0.0


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or chat messages whose last assistant turn counts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                return _content_text(message.get("content", ""))
        return ""
    raise TypeError(f"completion must be a string or chat messages, got {type(completion).__name__}")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # multimodal parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    return str(content)


def trl_reward(task: str = "math", *, gold_column: str | None = None,
               timeout_s: float = 1.0) -> Callable[..., list[float]]:
    """A TRL reward function: `(prompts, completions, **dataset_columns) -> list[float]`.

    The gold comes from `gold_column`, else the first of `GOLD_COLUMNS` the dataset has. Extra
    keyword arguments TRL adds (`completion_ids`, `trainer_state`, `log_extra`...) are ignored.
    """
    grader = _grader(task)

    def reward(prompts: Sequence[Any] | None = None, completions: Sequence[Any] = (), **columns: Any) -> list[float]:
        column = gold_column or next((c for c in GOLD_COLUMNS if c in columns), None)
        if column is None or column not in columns:
            wanted = gold_column or " / ".join(GOLD_COLUMNS)
            raise ValueError(f"{task} reward needs the gold answer in a dataset column ({wanted}); "
                             f"got columns: {', '.join(sorted(columns)) or 'none'}")
        golds = [str(g) for g in columns[column]]
        if len(golds) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(golds)} values in column {column!r}")
        texts = [completion_text(c) for c in completions]
        verdicts = grader.grade_batch(texts, golds, timeout_s=timeout_s)
        return [1.0 if v.correct else 0.0 for v in verdicts]

    reward.__name__ = f"{task}_correctness"
    reward.__qualname__ = reward.__name__
    return reward


math_reward = trl_reward("math")
gsm8k_reward = trl_reward("gsm8k")


def task_for_data_source(data_source: str) -> str:
    """verl `data_source` names to our tasks: GSM8K sources grade as gsm8k, every other as math."""
    return "gsm8k" if "gsm8k" in data_source.lower() else "math"


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **kwargs: Any) -> float:
    """verl's reward-function signature; `ground_truth` is the gold answer (or a list of golds).

    Extra keyword arguments newer verl versions pass (sandbox settings...) are ignored.
    """
    golds = ground_truth if isinstance(ground_truth, (list, tuple)) else [ground_truth]
    task = task_for_data_source(str(data_source))
    return max((correctness_reward(solution_str, str(g), task=task) for g in golds), default=0.0)
