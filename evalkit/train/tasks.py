"""Training tasks: prompts with their grader's references, and the reward that grades a completion.

A task is what `--benchmarks` names for `evalkit train`. The reward is the task's grader verdict
(`Verdict.reward`): for a benchmark, the benchmark's own grader, the very call `evalkit run` grades
with, so a policy is trained on exactly what it is evaluated on, on any math or code benchmark.
Benchmark tasks render prompts the way `evalkit run` does (same chat instruction, same chat
template), so a checkpoint is evaluated on its training format.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from graders.answer_graders import GSM8KGrader
from graders.protocol import Grader


@dataclass(frozen=True)
class Example:
    """One training or held-out prompt: the exact text the model sees, and what its grader judges against.

    `gold` is the task grader's reference: the answer text for the toy task, the benchmark grader's
    reference (a `graders.protocol.Reference` with the question, or a code task) for benchmarks.
    """

    id: str
    prompt: str
    gold: Any


class Task:
    """Base class: train examples to sample from, held-out examples to evaluate on, and the grader of rewards."""

    name: str
    grader: Grader[Any]
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

    def rewards(self, completions: Sequence[str], golds: Sequence[Any]) -> list[float]:
        """1.0 / 0.0 per completion: the grader's verdicts as rewards (a weak code pass earns 0.0)."""
        return [v.reward for v in self.grader.grade_batch(list(completions), list(golds))]


class AdditionTask(Task):
    """`a+b=` with `digits`-digit operands; the answer is the decimal sum (graded as a GSM8K number).

    Held-out pairs are fixed by `seed` and never drawn for training; by default 256 of them, or a
    fifth of all pairs when there are fewer than 1280.
    """

    name = "addition"
    grader = GSM8KGrader()

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
    """An evalkit benchmark: train prompts from its train split (the few-shot pool), held-out from its test split.

    Rewards are the benchmark's own grading, math or code alike; code benchmarks need the sandbox
    (or the explicit `unsafe_code_exec` opt-in), checked when the task is made, unless `code_grader`
    grades them elsewhere (the Ray cluster's pool, `evalkit.distributed.code_pool.CodePool`).
    """

    def __init__(self, benchmark: str, tokenizer: Any, *, data_dir: Path | None = None, chat: bool = True,
                 system_prompt: str | None = None, unsafe_code_exec: bool = False,
                 code_grader: Grader[Any] | None = None) -> None:
        import benchmarks
        from benchmarks.base import DataSource
        from evalkit.schema import PromptConfig

        if benchmarks.is_file_spec(benchmark):  # a benchmark file: train on its few-shot source, reward by its grader
            benchmark = benchmarks.load_file(benchmark)
        if not benchmarks.known(benchmark):
            raise UsageError(f"--benchmarks: {benchmarks.BENCHMARKS.unknown_message(benchmark)} "
                             "(or addition, the toy task)")
        options = {"unsafe_code_exec": True} if unsafe_code_exec else {}
        self.benchmark = benchmarks.get(benchmark, **options)
        if self.benchmark.task == "code" and code_grader is None:
            import sandbox

            sandbox.require_isolation(True if unsafe_code_exec else None)
        self.name = benchmark
        self.grader = code_grader if self.benchmark.task == "code" and code_grader is not None else \
            self.benchmark.grader
        self.tokenizer = tokenizer
        self.prompt_config = PromptConfig(chat=chat, system_prompt=system_prompt, num_fewshot=0)
        self.add_special_tokens = not chat
        if chat and not getattr(tokenizer, "chat_template", None):
            raise UsageError("this model has no chat template; pass --no-chat-template for plain prompts")
        source = DataSource(Path(data_dir) if data_dir else None)
        self._source = source
        self._train: list[Example] | None = None
        self._heldout: list[Example] | None = None

    def _examples(self, problems: Sequence[Any]) -> list[Example]:
        from evalkit.prompts import build_prompt

        examples = []
        for problem, reference in zip(problems, self.benchmark.references(problems), strict=True):
            prompt = build_prompt(self.benchmark, problem, self.prompt_config, shots=[])
            if prompt.is_chat:
                text = self.tokenizer.apply_chat_template(prompt.message_dicts(), tokenize=False,
                                                          add_generation_prompt=True)
            else:
                text = prompt.text or ""
            examples.append(Example(id=problem.id, prompt=text, gold=reference))
        return examples

    def _train_problems(self) -> list[Any]:
        problems = self.benchmark.fewshot_pool(self._source)
        if not problems:
            raise UsageError(f"benchmark {self.name} has no train split to train on")
        return problems

    def train_examples(self) -> Sequence[Example]:
        if self._train is None:
            self._train = self._examples(self._train_problems())
        return self._train

    def heldout_examples(self) -> Sequence[Example]:
        if self._heldout is None:
            self._heldout = self._examples(self.benchmark.load(self._source))
        return self._heldout

    def train_solutions(self) -> Sequence[tuple[str, str]]:
        problems = self._train_problems()
        return [(e.prompt, self.benchmark.worked_solution(p)) for e, p in zip(self.train_examples(), problems,
                                                                              strict=True)]

    def heldout_solutions(self) -> Sequence[tuple[str, str]]:
        problems = self.benchmark.load(self._source)
        return [(e.prompt, self.benchmark.worked_solution(p)) for e, p in zip(self.heldout_examples(), problems,
                                                                              strict=True)]


def make_task(benchmark: str, tokenizer: Any, *, data_dir: Path | None = None, chat: bool = True,
              system_prompt: str | None = None, addition_digits: int = 3, unsafe_code_exec: bool = False,
              code_grader: Grader[Any] | None = None) -> Task:
    """The task `--benchmarks` names: `addition` (the toy task) or any evalkit benchmark (`code_grader`: who
    grades a code benchmark's rewards instead of the local sandbox)."""
    if benchmark == "addition":
        return AdditionTask(digits=addition_digits)
    return BenchmarkTask(benchmark, tokenizer, data_dir=data_dir, chat=chat, system_prompt=system_prompt,
                         unsafe_code_exec=unsafe_code_exec, code_grader=code_grader)
