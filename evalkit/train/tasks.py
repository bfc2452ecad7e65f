"""Training tasks: prompts with gold answers, and the reward that grades a completion against its gold.

A task is what `--benchmark` names for `evalkit train`. Rewards always come from the shared graders
(`graders.rewards.correctness_rewards`), the very functions `evalkit run` grades with, so a policy is
trained on exactly what it is evaluated on. Benchmark tasks render prompts the way `evalkit run`
does (same chat instruction, same chat template), so a checkpoint is evaluated on its training format.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError


@dataclass(frozen=True)
class Example:
    """One training or held-out prompt: the exact text the model sees, and the gold answer."""

    id: str
    prompt: str
    gold: str


class Task:
    """Base class: train examples to sample from, held-out examples to evaluate on, and the reward."""

    name: str
    #: the graders.rewards task that grades completions ("gsm8k": a numeric answer; "math": boxed LaTeX)
    reward_task: str
    #: whether the tokenizer adds its special tokens (BOS) to prompts: not for rendered chat templates
    add_special_tokens: bool = False

    def train_examples(self) -> Sequence[Example]:
        raise NotImplementedError

    def heldout_examples(self) -> Sequence[Example]:
        raise NotImplementedError

    def train_solutions(self) -> Sequence[tuple[str, str]]:
        """(prompt, reference solution) pairs of the train split: the text MPO's MTP warm-up learns from."""
        raise NotImplementedError

    def heldout_solutions(self) -> Sequence[tuple[str, str]]:
        """(prompt, reference solution) pairs of the held-out split (to measure the MTP warm-up)."""
        raise NotImplementedError

    def sample(self, rng: random.Random, n: int) -> list[Example]:
        """`n` distinct training prompts."""
        pool = self.train_examples()
        if len(pool) < n:
            raise UsageError(f"task {self.name} has {len(pool)} training prompts, fewer than the {n} per step; "
                             "lower --prompts-per-step")
        return rng.sample(list(pool), n)

    def rewards(self, completions: Sequence[str], golds: Sequence[str]) -> list[float]:
        """1.0 / 0.0 per completion from the shared graders."""
        from graders.rewards import correctness_rewards

        return correctness_rewards(list(completions), list(golds), task=self.reward_task)


class AdditionTask(Task):
    """`a+b=` with `digits`-digit operands; the answer is the decimal sum (graded as a GSM8K number).

    Held-out pairs are fixed by `seed` and never drawn for training; by default 256 of them, or a
    fifth of all pairs when there are fewer than 1280.
    """

    name = "addition"
    reward_task = "gsm8k"

    def __init__(self, digits: int = 3, n_heldout: int | None = None, n_train: int = 20000, seed: int = 1234) -> None:
        if digits < 1:
            raise UsageError(f"addition digits must be >= 1; got {digits}")
        rng = random.Random(seed)
        top = 10 ** digits
        n_pairs = top * top
        n_heldout = min(256, n_pairs // 5) if n_heldout is None else n_heldout
        if n_heldout >= n_pairs:
            raise UsageError(f"addition with {digits} digits has {n_pairs} problems; hold out fewer than that")
        n_train = min(n_train, n_pairs - n_heldout)
        picked = rng.sample(range(n_pairs), n_heldout + n_train)
        self.digits = digits
        self._heldout = [self._example(divmod(i, top), "heldout") for i in picked[:n_heldout]]
        self._train = [self._example(divmod(i, top), "train") for i in picked[n_heldout:]]

    def _example(self, pair: tuple[int, int], split: str) -> Example:
        a, b = pair
        width = self.digits
        return Example(id=f"{split}/{a}+{b}", prompt=f"{a:0{width}d}+{b:0{width}d}=", gold=str(a + b))

    def train_examples(self) -> Sequence[Example]:
        return self._train

    def heldout_examples(self) -> Sequence[Example]:
        return self._heldout

    def train_solutions(self) -> Sequence[tuple[str, str]]:
        return [(e.prompt, e.gold) for e in self._train]

    def heldout_solutions(self) -> Sequence[tuple[str, str]]:
        return [(e.prompt, e.gold) for e in self._heldout]


class BenchmarkTask(Task):
    """An evalkit benchmark: train prompts from its train split (the few-shot pool), held-out from its test split."""

    def __init__(self, benchmark: str, tokenizer: Any, *, data_dir: Path | None = None, chat: bool = True,
                 system_prompt: str | None = None) -> None:
        import benchmarks
        from benchmarks.base import DataSource
        from evalkit.schema import PromptConfig

        try:
            self.benchmark = benchmarks.get(benchmark)
        except KeyError:
            raise UsageError(f"unknown benchmark {benchmark!r} for training; use addition or one of: "
                             f"{', '.join(sorted(benchmarks.names()))}") from None
        if self.benchmark.task != "math":
            raise UsageError(f"benchmark {benchmark} is a {self.benchmark.task} benchmark; training supports "
                             "math benchmarks (graded by graders.rewards): gsm8k, math")
        self.name = benchmark
        self.reward_task = "gsm8k" if benchmark == "gsm8k" else "math"
        self.tokenizer = tokenizer
        self.prompt_config = PromptConfig(chat=chat, system_prompt=system_prompt, num_fewshot=0)
        self.add_special_tokens = not chat
        if chat and not getattr(tokenizer, "chat_template", None):
            raise UsageError("this model has no chat template; pass --no-chat-template for plain prompts")
        source = DataSource(Path(data_dir) if data_dir else None)
        self._source = source
        self._train: list[Example] | None = None
        self._heldout: list[Example] | None = None

    def _render(self, problem: Any) -> Example:
        from evalkit.prompts import build_prompt

        prompt = build_prompt(self.benchmark, problem, self.prompt_config, shots=[])
        if prompt.is_chat:
            text = self.tokenizer.apply_chat_template(prompt.message_dicts(), tokenize=False,
                                                      add_generation_prompt=True)
        else:
            text = prompt.text or ""
        return Example(id=problem.id, prompt=text, gold=problem.gold)

    def _train_problems(self) -> list[Any]:
        problems = self.benchmark.fewshot_pool(self._source)
        if not problems:
            raise UsageError(f"benchmark {self.name} has no train split to train on")
        return problems

    def train_examples(self) -> Sequence[Example]:
        if self._train is None:
            self._train = [self._render(p) for p in self._train_problems()]
        return self._train

    def heldout_examples(self) -> Sequence[Example]:
        if self._heldout is None:
            self._heldout = [self._render(p) for p in self.benchmark.load(self._source)]
        return self._heldout

    def train_solutions(self) -> Sequence[tuple[str, str]]:
        problems = self._train_problems()
        return [(e.prompt, self.benchmark.worked_solution(p)) for e, p in zip(self.train_examples(), problems,
                                                                              strict=True)]

    def heldout_solutions(self) -> Sequence[tuple[str, str]]:
        problems = self.benchmark.load(self._source)
        return [(e.prompt, self.benchmark.worked_solution(p)) for e, p in zip(self.heldout_examples(), problems,
                                                                              strict=True)]


TASKS = ("addition", "gsm8k", "math")


def make_task(benchmark: str, tokenizer: Any, *, data_dir: Path | None = None, chat: bool = True,
              system_prompt: str | None = None, addition_digits: int = 3) -> Task:
    """The task `--benchmark` names: `addition` (the toy task) or an evalkit math benchmark."""
    if benchmark == "addition":
        return AdditionTask(digits=addition_digits)
    return BenchmarkTask(benchmark, tokenizer, data_dir=data_dir, chat=chat, system_prompt=system_prompt)
