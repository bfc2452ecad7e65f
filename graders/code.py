"""Code verdicts: pull the program out of a completion, run it in the sandbox, decide.

- `extract_code(text, entry_point)`: the code of a chat answer (fenced blocks, `<think>` dropped).
- `sanitize(code, entry_point)`: keep the imports, the entry point and what it needs (helpers,
  classes, constants); drop example calls, prints, `if __name__ == "__main__":` blocks, prose.
- `build_program(completion, task)`: chat answers are extracted and sanitised; base-model
  continuations are cut at the stop sequences and appended to the prompt.
- `grade_many(tasks, completions)`: all verdicts through one `sandbox.run_many` batch. Plus tasks
  (evalplus) report `subscores={"base", "plus"}` and are correct only when both pass.
- `code_reward(...)` / `code_rewards(...)`: the same verdicts as 1.0 / 0.0 RL rewards.
This module knows nothing about datasets; `benchmarks.code` builds the `CodeTask`s.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import sandbox
from graders.verdict import Trust, Verdict
from sandbox import ExecResult, IOTest

#: 2: samples no longer share state (issue 12: per-candidate namespaces), and the judge has limits of its own.
GRADER_VERSION = "2"
#: Stop sequences for base-model completions of a function prompt (Codex paper, plus bigcode's additions).
STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<|endoftext|>")
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "pycon", "ipython"}


@dataclass(frozen=True)
class CodeTask:
    """What grading one problem needs. Exactly one of `test` (script) or `base` (IOTest) is set.

    `prompt` is the code the model continued in completion mode (HumanEval's signature and docstring;
    "" when the prompt is prose). `context` is trusted code the judge runs before a script test.
    """

    entry_point: str
    prompt: str = ""
    test: str | None = None
    context: str = ""
    base: IOTest | None = None
    plus: IOTest | None = None
    timeout_s: float = 10.0
    base_timeout_s: float | None = None
    plus_timeout_s: float | None = None
    memory_mb: int = sandbox.DEFAULT_MEMORY_MB

    def __post_init__(self) -> None:
        if (self.test is None) == (self.base is None):
            raise ValueError("a CodeTask needs either a script `test` or a `base` IOTest")

    def test_names(self) -> tuple[str, ...]:
        """Names the script test uses (sanitising must keep a class the test builds inputs with)."""
        return () if self.test is None else _test_names(self.test)


@functools.lru_cache(maxsize=1024)
def _test_names(test: str) -> tuple[str, ...]:
    try:
        return tuple(sorted(_names_used(_parse(test))))
    except (SyntaxError, ValueError):
        return ()


# -- extraction ------------------------------------------------------------------------------------


def answer_text(text: str) -> str:
    """The part of a completion after any reasoning block (`<think>...</think>`)."""
    return text.rsplit("</think>", 1)[1] if "</think>" in text else text


def _defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE) is not None


def extract_code(text: str, entry_point: str | None = None) -> str:
    """The code in a chat answer: the last Python block defining `entry_point`, else all Python blocks
    joined, else the whole text (answers without fences)."""
    text = answer_text(text)
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)]
    if not blocks:
        return text.strip("\n")
    python = [body for lang, body in blocks if lang in _PYTHON_TAGS] or [body for _, body in blocks]
    if entry_point:
        defining = [body for body in python if _defines(body, entry_point)]
        if defining:
            return defining[-1].strip("\n")
    return "\n\n".join(body.strip("\n") for body in python)


def truncate_at_stop(completion: str, stops: Sequence[str] = STOP_SEQUENCES) -> str:
    """A base-model completion cut at the first stop sequence (engines usually do it already)."""
    cut = min((i for i in (completion.find(s) for s in stops) if i >= 0), default=len(completion))
    return completion[:cut]


def _parse(code: str) -> ast.Module:
    """ast.parse without the SyntaxWarnings model code and MBPP tests are full of (invalid escapes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(code)


def _parse_longest(code: str) -> tuple[str, ast.Module] | None:
    """Parse `code`, or the longest run of its lines that parses (prose before, truncation after)."""
    try:
        return code, _parse(code)
    except (SyntaxError, ValueError):
        pass
    lines = code.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"(def |async def |class |import |from |@)", line)]
    ends = [i for i, line in enumerate(lines) if i and line and not line[0].isspace()] + [len(lines)]
    for start in starts:
        for end in sorted((e for e in ends if e > start), reverse=True):
            chunk = "\n".join(lines[start:end])
            try:
                return chunk, _parse(chunk)
            except (SyntaxError, ValueError):
                continue
    return None


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _defined_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


def sanitize(code: str, entry_point: str, also_keep: Sequence[str] = ()) -> str:
    """Keep imports, the entry point and the definitions it (transitively) uses, in source order.

    `also_keep` names more roots (e.g. a class the test builds its inputs with). Without a
    definition of `entry_point` every definition is kept. "" when nothing parses.
    """
    parsed = _parse_longest(code)
    if parsed is None:
        return ""
    source, tree = parsed
    lines = source.splitlines()
    defs: dict[str, list[ast.stmt]] = {}
    for stmt in tree.body:
        for name in _defined_names(stmt):
            defs.setdefault(name, []).append(stmt)
    if entry_point in defs:
        needed, todo = set(), [entry_point, *also_keep]
        while todo:
            name = todo.pop()
            if name in needed or name not in defs:
                continue
            needed.add(name)
            for stmt in defs[name]:
                todo.extend(_names_used(stmt) - needed)
    else:
        needed = set(defs)
    kept = []
    for stmt in tree.body:
        keep = isinstance(stmt, (ast.Import, ast.ImportFrom)) or any(n in needed for n in _defined_names(stmt))
        if keep:
            first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
            kept.append("\n".join(lines[first - 1:stmt.end_lineno]))
    return "\n\n".join(kept).strip("\n")


@dataclass(frozen=True)
class Program:
    """What will run: `code` is the program, `extracted` the part that came from the model."""

    code: str
    extracted: str


def build_program(completion: str, task: CodeTask) -> Program | None:
    """The program for one completion, or None when it holds no code at all."""
    answer = answer_text(completion)
    looks_like_chat = "```" in answer or _defines(answer, task.entry_point)
    roots = task.test_names()
    if looks_like_chat:
        code = sanitize(extract_code(answer, task.entry_point), task.entry_point, roots)
        if _defines(code, task.entry_point):
            prefix = task.prompt + "\n\n" if task.prompt else ""  # the prompt's imports and helpers
            return Program(prefix + code, code)
        answer = extract_code(answer, task.entry_point)
    body = truncate_at_stop(answer)
    if not body.strip() and not task.prompt:
        return None
    if not task.prompt:  # a prose prompt: the completion must be the whole program
        code = sanitize(body, task.entry_point, roots)
        return Program(code, code) if code else None
    return Program(task.prompt + body, body)


# -- grading ---------------------------------------------------------------------------------------


def _reason(result: ExecResult, label: str = "") -> str:
    head = f"{label}: " if label else ""
    if result.passed:
        return f"{head}passed (weak: test ran inside the candidate process)" if result.trust == "weak" else "passed"
    return f"{head}{result.status}: {result.detail}"[:240]


def _jobs(task: CodeTask, program: Program) -> list[dict]:
    common = {"solution": program.code, "entry_point": task.entry_point, "memory_mb": task.memory_mb}
    if task.test is not None:
        return [{**common, "test": task.test, "context": task.context, "timeout_s": task.timeout_s}]
    jobs = [{**common, "test": task.base, "timeout_s": task.base_timeout_s or task.timeout_s}]
    if task.plus is not None:
        jobs.append({**common, "test": task.plus, "timeout_s": task.plus_timeout_s or task.timeout_s})
    return jobs


def grade_many(tasks: Sequence[CodeTask], completions: Sequence[str], *, workers: int | None = None,
               unsafe: bool | None = None) -> list[Verdict]:
    """Verdicts for (task, completion) pairs, executed as one sandbox batch.

    `unsafe=True` runs model code even without the sandbox's namespace isolation (the caller's explicit
    opt-in); None leaves the decision to the sandbox (`EVALKIT_UNSAFE_CODE_EXEC`).
    """
    programs = [build_program(c, t) for t, c in zip(tasks, completions, strict=True)]
    jobs: list[dict] = []
    spans: list[tuple[int, int]] = []
    for task, program in zip(tasks, programs, strict=True):
        new = _jobs(task, program) if program is not None else []
        spans.append((len(jobs), len(new)))
        jobs.extend(new)
    results = sandbox.run_many(jobs, workers=workers, unsafe=unsafe)
    verdicts = []
    for task, program, (start, n) in zip(tasks, programs, spans, strict=True):
        if program is None:
            subs = {"base": False, "plus": False} if task.plus is not None else {}
            verdicts.append(Verdict(False, None, "no_code", subs))
            continue
        res = results[start:start + n]
        if task.plus is None:
            verdicts.append(Verdict(res[0].passed, program.extracted, _reason(res[0]), trust=_trust(res)))
            continue
        base, plus = res
        reason = "passed" if base.passed and plus.passed else _reason(base, "base") if not base.passed \
            else _reason(plus, "plus")
        verdicts.append(Verdict(base.passed and plus.passed, program.extracted, reason,
                                {"base": base.passed, "plus": plus.passed}, trust=_trust(res)))
    return verdicts


def _trust(results: Sequence[ExecResult]) -> Trust:
    """Weak when any passing part of the verdict ran its test inside the candidate process."""
    return "weak" if any(r.passed and r.trust == "weak" for r in results) else "strong"


def grade(task: CodeTask, completion: str) -> Verdict:
    return grade_many([task], [completion])[0]


def code_rewards(tasks: Sequence[CodeTask], completions: Sequence[str], *, allow_weak: bool = False,
                 workers: int | None = None) -> list[float]:
    """1.0 for a completion whose program passes (base and plus), else 0.0; one sandbox batch.

    Weak passes (tests that had to run inside the candidate process, which could forge them) earn
    0.0 unless `allow_weak`: a policy under RL optimises against exactly such holes.
    """
    verdicts = grade_many(tasks, completions, workers=workers)
    return [1.0 if v.correct and (allow_weak or v.trust == "strong") else 0.0 for v in verdicts]


def code_reward(completion: str, *, entry_point: str, test: str | None = None, prompt: str = "",
                context: str = "", base: IOTest | None = None, plus: IOTest | None = None,
                timeout_s: float = 10.0, allow_weak: bool = False) -> float:
    """The reward for one completion, with the problem's fields given directly."""
    task = CodeTask(entry_point=entry_point, prompt=prompt, test=test, context=context, base=base, plus=plus,
                    timeout_s=timeout_s)
    return code_rewards([task], [completion], allow_weak=allow_weak)[0]
