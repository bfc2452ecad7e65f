"""The math benchmarks: GSM8K (test 1319), MATH (test 5000) and MATH-500 (500).

Problems come from a local directory laid out like `shared/data` (gsm8k/test.jsonl,
math/test.jsonl, math500/test.jsonl) or from the hub. Few-shot exemplars are drawn from the
train splits (the same exemplars for every problem of a run, `evalkit.prompts.choose_shots`), never
from test. Grading is `graders.answer_graders` (`graders.math`, `graders.gsm8k`), the same graders the
RL rewards use; each problem's reference carries its question. `MathBenchmark` is the public base of
answer-graded benchmarks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from benchmarks.base import Benchmark, DataError, DataSource, Problem
from benchmarks.sources import load_hub, read_jsonl
from graders.answer_graders import GSM8KGrader, MathGrader
from graders.math import extract_answer
from graders.protocol import Grader, Reference

BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
MATH_SUBJECT_CONFIGS = (
    "algebra", "counting_and_probability", "geometry", "intermediate_algebra",
    "number_theory", "prealgebra", "precalculus",
)
_CALCULATOR_ANNOTATION = re.compile(r"<<[^<>]*>>")


class MathBenchmark(Benchmark):
    """Base of answer-graded benchmarks: a chat prompt asking for \\boxed{}, the MATH grader by default.

    Subclasses set `name`, implement `load` and `completion_prompt`, and may set `grader` (e.g.
    `GSM8KGrader()` for numeric answers) and `breakdown_keys`.
    """

    task = "math"
    grader: Grader[Reference] = MathGrader()

    def chat_instruction(self, problem: Problem) -> str:
        return f"{problem.question}\n{BOXED_INSTRUCTION}"

    def references(self, problems: Sequence[Problem]) -> list[Reference]:
        return [Reference(p.gold, question=p.question) for p in problems]


class GSM8K(MathBenchmark):
    name = "gsm8k"
    description = "GSM8K grade-school math, test split (1319); k-shot exemplars from train"
    hub_dataset = "openai/gsm8k"
    grader = GSM8KGrader()
    completion_stop = ("Question:", "\n\n\n")

    def load(self, source: DataSource) -> list[Problem]:
        return [self._problem(row, f"test/{i}") for i, row in enumerate(self._rows(source, "test"))]

    def fewshot_pool(self, source: DataSource) -> list[Problem]:
        return [self._problem(row, f"train/{i}") for i, row in enumerate(self._rows(source, "train"))]

    def completion_prompt(self, problem: Problem, shots: Sequence[Problem]) -> str:
        parts = [f"Question: {s.question}\nAnswer: {s.metadata['solution']}\n\n" for s in shots]
        return "".join(parts) + f"Question: {problem.question}\nAnswer:"

    def worked_solution(self, problem: Problem) -> str:
        body = problem.metadata["solution"].rsplit("####", 1)[0].rstrip()
        return f"{body}\nThe final answer is \\boxed{{{problem.gold}}}."

    def _rows(self, source: DataSource, split: str) -> list[dict[str, Any]]:
        path = source.local("gsm8k", f"{split}.jsonl")
        if path is not None:
            return read_jsonl(path, required=("question", "answer"))
        return list(load_hub("openai/gsm8k", "main", split, benchmark=self.name,
                             local_hint=f"gsm8k/{split}.jsonl"))

    @staticmethod
    def _problem(row: dict[str, Any], pid: str) -> Problem:
        answer = str(row["answer"])
        if "####" not in answer:
            raise DataError(f"gsm8k row {pid}: answer has no '#### <final answer>' line")
        solution = _CALCULATOR_ANNOTATION.sub("", answer)
        gold = answer.rsplit("####", 1)[1].strip()
        return Problem(id=pid, question=str(row["question"]), gold=gold,
                       metadata={"solution": solution})


def _level(value: Any) -> int | str:
    text = str(value).removeprefix("Level ").strip()
    return int(text) if text.isdigit() else text


class _CompetitionMath(MathBenchmark):
    completion_stop = ("Problem:", "\n\n\n\n")

    def breakdown_keys(self) -> tuple[str, ...]:
        return ("level", "subject")

    def completion_prompt(self, problem: Problem, shots: Sequence[Problem]) -> str:
        parts = [f"Problem: {s.question}\nSolution: {s.metadata['solution']}\n\n" for s in shots]
        return "".join(parts) + f"Problem: {problem.question}\nSolution:"

    def fewshot_pool(self, source: DataSource) -> list[Problem]:
        return _load_math_split(self, source, "train")

    def _problem_from_math_row(self, row: dict[str, Any], pid: str) -> Problem:
        solution = str(row["solution"])
        gold = extract_answer(solution)
        if gold is None:
            raise DataError(f"{self.name} problem {pid}: solution has no \\boxed{{}} answer")
        return Problem(
            id=pid, question=str(row["problem"]), gold=gold,
            metadata={"level": _level(row["level"]), "subject": str(row["type"]), "solution": solution},
        )


def _load_math_split(bench: _CompetitionMath, source: DataSource, split: str) -> list[Problem]:
    required = ("problem", "level", "type", "solution")
    path = source.local("math", f"{split}.jsonl")
    if path is not None:
        if split == "train" and not path.is_file():
            path = path.with_suffix(".jsonl.gz")
        rows = read_jsonl(path, required=required)
        return [bench._problem_from_math_row(r, str(r.get("unique_id", f"{split}/{i}")))
                for i, r in enumerate(rows)]
    problems = []
    for config in MATH_SUBJECT_CONFIGS:
        rows = load_hub("EleutherAI/hendrycks_math", config, split, benchmark=bench.name,
                        local_hint=f"math/{split}.jsonl")
        problems += [bench._problem_from_math_row(r, f"{split}/{config}/{i}") for i, r in enumerate(rows)]
    return problems


class MATH(_CompetitionMath):
    name = "math"
    description = "MATH (Hendrycks), full test split (5000) with level and subject"
    hub_dataset = "EleutherAI/hendrycks_math"

    def load(self, source: DataSource) -> list[Problem]:
        return _load_math_split(self, source, "test")


class MATH500(_CompetitionMath):
    name = "math500"
    description = "MATH-500 (PRM800K test subset of MATH, 500) with level and subject"
    hub_dataset = "HuggingFaceH4/MATH-500"

    def load(self, source: DataSource) -> list[Problem]:
        required = ("problem", "answer", "subject", "level", "unique_id")
        path = source.local("math500", "test.jsonl")
        if path is not None:
            rows: list[dict[str, Any]] = read_jsonl(path, required=required)
        else:
            rows = list(load_hub("HuggingFaceH4/MATH-500", None, "test", benchmark=self.name,
                                 local_hint="math500/test.jsonl"))
        return [
            Problem(id=str(r["unique_id"]), question=str(r["problem"]), gold=str(r["answer"]),
                    metadata={"level": _level(r["level"]), "subject": str(r["subject"]),
                              "solution": str(r.get("solution", ""))})
            for r in rows
        ]

