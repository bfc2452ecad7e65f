"""The competition sets reasoning papers report beside MATH-500: AIME 2024, AIME 2025, OlympiadBench, Minerva Math.

(AMC 2023 is a benchmark file, `benchmarks/defs/amc23.toml`: it needs no code.)

Problems come from a local directory laid out like `shared/data` (`aime24/test.jsonl`, `aime25/test.jsonl`,
`olympiadbench/test.jsonl`, `minerva_math/test.jsonl`: the files the Qwen evaluation repositories ship)
or from the hub dataset the community uses (`source` below). Chat models get the problem and the
\\boxed{} instruction; base models the `Problem: ... Solution:` format with exemplars from MATH train
(none of these sets has a train split). Gold conventions:

- AIME golds are integers 0-999, stored zero-padded (`"025"`) in AIME 2024 and as ints in AIME 2025:
  both become the integer's digits (`25`). Problems are named `2024-I-2` (year, contest, number) and
  broken down by year and part (AIME I / II).
- OlympiadBench (the English open-ended text-only maths subset, `OE_TO_maths_en_COMP`): the gold is
  `final_answer` (LaTeX); an `is_multiple_answer` gold holds several answers separated by commas, all of
  which must be given, in any order (the math grader compares a bare list as a set). The prompt says
  so, and names the unit where the problem has one (units written after the number are dropped by the
  grader). A problem's `error` field is its absolute tolerance, as in OlympiadBench's own judge
  (`ToleranceGrader`). Broken down by subfield and answer type.
- Minerva Math (272 MIT OCW problems): the gold is the solution's last \\boxed{}; the unit usually
  follows the box. `MINERVA_POLICY` is this benchmark's grading policy: decimal golds are rounded
  measurements, accepted within a relative tolerance of 1e-4 (the `math.isclose(rel_tol=1e-4)` of
  Qwen2.5-Math's `evaluation/grader.py`, whose copy of the data this is), and any unit written after
  the answer's number is dropped. It is never a default elsewhere; config.json records it in the
  grader's version. Broken down by course.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.base import DataError, DataSource, Problem
from benchmarks.math_bench import BOXED_INSTRUCTION, _CompetitionMath
from benchmarks.sources import load_hub, read_jsonl
from graders.answer_graders import MathGrader
from graders.math import extract_answer
from graders.policy import GradingPolicy
from graders.protocol import Reference, as_references
from graders.verdict import Verdict

#: Minerva Math's grading policy (see the module docstring).
MINERVA_POLICY = GradingPolicy(rel_tol=1e-4, approximate_golds=True, units="any")

_AIME_URL = re.compile(r"(\d{4})_AIME_(I{1,2})_Problems/Problem_(\d+)")


def _rows(bench: str, source: DataSource, folder: str, required: tuple[str, ...], hub: tuple[str, str | None, str]
          ) -> list[dict[str, Any]]:
    """The rows of `folder/test.jsonl` under the data directory, else of the hub dataset `hub` (id, config, split)."""
    path = source.local(folder, "test.jsonl")
    if path is not None:
        return read_jsonl(path, required=required)
    dataset, config, split = hub
    return list(load_hub(dataset, config, split, benchmark=bench, local_hint=f"{folder}/test.jsonl"))


def integer_gold(value: Any, where: str) -> str:
    """An integer answer as its digits: `"025"`, `25`, `25.0` are `25`."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        raise DataError(f"{where}: answer {text!r} is not an integer") from None
    if number != int(number):
        raise DataError(f"{where}: answer {text!r} is not an integer")
    return str(int(number))


def _first(row: dict[str, Any], *names: str) -> Any:
    """The first of `names` present in a hub row (hub copies name their columns differently)."""
    for name in names:
        if row.get(name) is not None:
            return row[name]
    raise DataError(f"a row has none of the fields {', '.join(names)}")


class _Competition(_CompetitionMath):
    """Competition sets: no train split of their own (base-model exemplars come from MATH train)."""

    breakdown_keys_: tuple[str, ...] = ()

    def breakdown_keys(self) -> tuple[str, ...]:
        return self.breakdown_keys_


class _AIME(_Competition):
    breakdown_keys_ = ("year", "part")

    @staticmethod
    def _problem(year: int, part: str, number: int, question: str, gold: Any, extra: dict[str, Any]) -> Problem:
        pid = f"{year}-{part}-{number}"
        return Problem(id=pid, question=question, gold=integer_gold(gold, f"AIME {pid}"),
                       metadata={"year": str(year), "part": part, "number": number, **extra})


class AIME24(_AIME):
    name = "aime24"
    description = "AIME 2024 (I and II, 30 problems), integer answers; by year and part"
    hub_dataset = "HuggingFaceH4/aime_2024"

    def load(self, source: DataSource) -> list[Problem]:
        rows = _rows(self.name, source, "aime24", ("problem", "answer", "url"), (self.hub_dataset, None, "train"))
        problems = []
        for i, row in enumerate(rows):
            m = _AIME_URL.search(str(row.get("url", "")))
            if m is None:
                raise DataError(f"aime24 row {i + 1}: url {row.get('url')!r} names no AIME problem")
            extra = {"solution": str(row.get("solution") or ""), "url": str(row["url"])}
            problems.append(self._problem(int(m.group(1)), m.group(2), int(m.group(3)), str(row["problem"]),
                                          row["answer"], extra))
        return sorted(problems, key=lambda p: (p.metadata["part"], p.metadata["number"]))


class AIME25(_AIME):
    name = "aime25"
    description = "AIME 2025 (I and II, 30 problems), integer answers; by year and part"
    hub_dataset = "MathArena/aime_2025"

    def load(self, source: DataSource) -> list[Problem]:
        path = source.local("aime25", "test.jsonl")
        local = path is not None
        rows = _rows(self.name, source, "aime25", ("prompt", "answer") if local else (),
                     (self.hub_dataset, None, "train"))
        if len(rows) != 30:
            raise DataError(f"aime25 has {len(rows)} problems, expected 30 (15 of AIME I, then 15 of AIME II)")
        problems = []
        for i, row in enumerate(rows):
            index = int(row.get("problem_idx") or i + 1)
            question = str(_first(row, "problem", "question", "prompt")).strip()
            question = question.removesuffix(BOXED_INSTRUCTION).rstrip()  # the QwQ copy appends the instruction
            part, number = ("I", index) if index <= 15 else ("II", index - 15)
            problems.append(self._problem(2025, part, number, question, row["answer"], {}))
        return problems


@dataclass(frozen=True)
class ToleranceReference(Reference):
    """A gold with its own absolute tolerance (OlympiadBench's `error` field); 0 is exact."""

    abs_tol: float = 0.0


@dataclass(frozen=True)
class ToleranceGrader:
    """The math grader with each reference's own `abs_tol` (OlympiadBench's judge reads `error` per problem)."""

    base: MathGrader = MathGrader()

    @property
    def version(self) -> str:
        return f"{self.base.version}+error"

    def grade_batch(self, completions: Sequence[str], references: Sequence[Reference | str]) -> list[Verdict]:
        refs = as_references(references)
        if len(refs) != len(completions):
            raise ValueError(f"grade_batch got {len(completions)} completions but {len(refs)} references")
        by_tolerance: dict[float, list[int]] = defaultdict(list)
        for i, ref in enumerate(refs):
            by_tolerance[getattr(ref, "abs_tol", 0.0)].append(i)
        verdicts: list[Verdict | None] = [None] * len(refs)
        for tol, idxs in by_tolerance.items():
            grader = self.base if not tol else dataclasses.replace(
                self.base, policy=dataclasses.replace(self.base.policy, abs_tol=tol))
            for i, v in zip(idxs, grader.grade_batch([completions[i] for i in idxs], [refs[i] for i in idxs]),
                            strict=True):
                verdicts[i] = v
        return [v for v in verdicts if v is not None]

    def same_answer(self, a: str, b: str) -> bool:
        return self.base.same_answer(a, b)


def _tolerance(value: Any, pid: str) -> float:
    if value in (None, ""):
        return 0.0
    try:
        tol = float(str(value).split(",")[0])
    except ValueError:
        raise DataError(f"olympiadbench problem {pid}: error {value!r} is not a number") from None
    if not 0 <= tol < float("inf"):
        raise DataError(f"olympiadbench problem {pid}: error {value!r} is not a tolerance")
    return tol


class OlympiadBench(_Competition):
    name = "olympiadbench"
    description = ("OlympiadBench, English open-ended text-only maths (675); several answers, units; "
                   "by subfield and answer type")
    hub_dataset = "Hothan/OlympiadBench (OE_TO_maths_en_COMP)"
    grader = ToleranceGrader()
    breakdown_keys_ = ("subfield", "answer_type")

    def load(self, source: DataSource) -> list[Problem]:
        rows = _rows(self.name, source, "olympiadbench", ("id", "question", "final_answer"),
                     ("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train"))
        problems = []
        for row in rows:
            pid = str(row["id"])
            answers = row["final_answer"] if isinstance(row["final_answer"], list) else [row["final_answer"]]
            if not answers or not all(str(a).strip() for a in answers):
                raise DataError(f"olympiadbench problem {pid}: empty final_answer")
            question = str(row["question"])
            if row.get("context"):
                question = f"{row['context']}\n\n{question}"
            solution = row.get("solution") or []
            problems.append(Problem(
                id=pid, question=question, gold=", ".join(str(a) for a in answers),
                metadata={"subfield": str(row.get("subfield") or "unknown"),
                          "answer_type": str(row.get("answer_type") or "unknown"),
                          "multiple_answers": bool(row.get("is_multiple_answer")),
                          "unit": str(row.get("unit") or ""), "abs_tol": _tolerance(row.get("error"), pid),
                          "solution": "\n\n".join(solution) if isinstance(solution, list) else str(solution)},
            ))
        return problems

    def chat_instruction(self, problem: Problem) -> str:
        notes = []
        if problem.metadata.get("multiple_answers"):
            notes.append("The problem has several answers: give all of them, separated by commas, in the \\boxed{}.")
        if problem.metadata.get("unit"):
            unit = problem.metadata["unit"].strip("$ ")
            notes.append(f"The unit of the answer is {unit}.")
        return "\n".join([problem.question, *notes, BOXED_INSTRUCTION])

    def references(self, problems: Sequence[Problem]) -> list[Reference]:
        return [ToleranceReference(p.gold, question=p.question, abs_tol=float(p.metadata.get("abs_tol", 0.0)))
                for p in problems]


class MinervaMath(_Competition):
    name = "minerva_math"
    description = "Minerva Math (272 MIT OCW science problems); rel_tol 1e-4 for decimal golds, units; by course"
    hub_dataset = "math-ai/minervamath"
    grader = MathGrader(policy=MINERVA_POLICY)
    breakdown_keys_ = ("course",)

    def load(self, source: DataSource) -> list[Problem]:
        rows = _rows(self.name, source, "minerva_math", ("problem", "solution", "type"),
                     (self.hub_dataset, None, "test"))
        problems = []
        for i, row in enumerate(rows):
            pid = str(row.get("idx", i))
            solution = str(_first(row, "solution", "answer"))
            gold = extract_answer(solution) if "\\boxed" in solution else solution.strip()
            if not gold:
                raise DataError(f"minerva_math problem {pid}: solution has no \\boxed{{}} answer")
            problems.append(Problem(id=pid, question=str(_first(row, "problem", "question")), gold=gold,
                                    metadata={"course": str(row.get("type") or "unknown"), "solution": solution}))
        return problems
