"""Code problems given as test cases, the format of verl's and PRIME's code data, graded in the sandbox.

verl's code data sources (`codecontests`, `apps`, `codeforces`, `taco`) carry their tests as a JSON
ground truth `{"inputs": [...], "outputs": [...]}`: a whole program reads each input on stdin and
must print the output; with `"fn_name"` the problem is call-based instead (each input holds the
arguments, one JSON value per line when it is a string, and the function must return the output).
HumanEval / MBPP-style problems carry a script test: `{"test": ..., "entry_point": ...}`.

`code_task` turns the tests into the `graders.code.CodeTask` the code grader takes: its program runs
in the sandbox and the test in the sandbox's trusted judge, so a program cannot forge its verdict. A
stdin program is wrapped into one function (`candidate`) that the judge calls with each input; its
output is compared with the expected one line by line, trailing spaces and blank lines ignored (as
PRIME's checker does). A call-based output matches the expected
value, or the only item of an expected list (APPS wraps outputs so). A malformed ground truth raises
`ValueError`: it is a data problem, not a verdict on the completion.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from graders.code import CodeTask, extract_code

#: The function a stdin program is wrapped into; the judge calls it with each test input.
STDIO_ENTRY = "evalkit_stdio_main"
#: Time limit of one problem's whole test run (all its cases), in seconds.
DEFAULT_TIMEOUT_S = 10.0

Kind = Literal["stdio", "call", "script"]


@dataclass(frozen=True)
class CodeCases:
    """One problem's tests: stdin/stdout `cases`, call-based `cases` of `entry_point`, or a `test` script."""

    kind: Kind
    entry_point: str
    cases: tuple[tuple[Any, Any], ...] = ()
    test: str = ""


def parse_cases(ground_truth: Any) -> CodeCases:
    """The tests in a ground truth (a JSON string or a mapping); ValueError when it holds none."""
    data = ground_truth
    if isinstance(data, bytes):
        data = data.decode()
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValueError(f"code ground_truth is not JSON test cases ({exc.msg} at {exc.pos})") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"code ground_truth must be a JSON object with inputs/outputs or test/entry_point, "
                         f"got {type(data).__name__}")
    if "test" in data and "entry_point" in data:
        return CodeCases("script", str(data["entry_point"]), test=str(data["test"]))
    if "inputs" not in data or "outputs" not in data:
        raise ValueError(f"code ground_truth has keys {', '.join(sorted(map(str, data)))}; expected inputs and "
                         "outputs (with fn_name for call-based problems) or test and entry_point")
    inputs, outputs = list(_plain(data["inputs"])), list(_plain(data["outputs"]))
    if len(inputs) != len(outputs) or not inputs:
        raise ValueError(f"code ground_truth has {len(inputs)} inputs and {len(outputs)} outputs")
    fn_name = data.get("fn_name")
    if fn_name:
        calls = tuple((_call_arguments(i), _call_output(o)) for i, o in zip(inputs, outputs, strict=True))
        return CodeCases("call", str(fn_name), calls)
    runs = tuple((_lines(i), _lines(o)) for i, o in zip(inputs, outputs, strict=True))
    return CodeCases("stdio", STDIO_ENTRY, runs)


def _plain(value: Any) -> Any:
    """numpy arrays (pandas reads list columns as such) as lists."""
    return value.tolist() if hasattr(value, "tolist") else value


def _lines(value: Any) -> str:
    value = _plain(value)
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


def _call_arguments(value: Any) -> list[Any]:
    value = _plain(value)
    if isinstance(value, str):  # PRIME / APPS: one JSON value per line
        return [json.loads(line) for line in value.split("\n") if line.strip()]
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _call_output(value: Any) -> Any:
    value = _plain(value)
    return json.loads(value) if isinstance(value, str) else value


_STDIO_WRAPPER = '''
def {entry}(stdin_text):
    import io
    import sys
    program = {program!r}
    stdout_bytes = io.BytesIO()
    stdin = io.TextIOWrapper(io.BytesIO(stdin_text.encode("utf-8")), encoding="utf-8")
    stdout = io.TextIOWrapper(stdout_bytes, encoding="utf-8", write_through=True)
    saved = sys.stdin, sys.stdout
    sys.stdin, sys.stdout = stdin, stdout
    try:
        exec(compile(program, "<solution>", "exec"), {{"__name__": "__main__"}})
    except SystemExit:
        pass
    finally:
        stdout.flush()
        sys.stdin, sys.stdout = saved
    return stdout_bytes.getvalue().decode("utf-8", "replace")
'''

_STDIO_TEST = '''
def _lines(text):
    lines = [line.rstrip() for line in str(text).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines

for _number, (_stdin, _expected) in enumerate({cases!r}):
    _got = {entry}(_stdin)
    assert isinstance(_got, str) and _lines(_got) == _lines(_expected), f"wrong output on test {{_number + 1}}"
'''

_CALL_TEST = '''
import json

for _number, (_arguments, _expected) in enumerate(json.loads({cases!r})):
    _got = {entry}(*_arguments)
    if isinstance(_got, tuple):
        _got = list(_got)
    _alone = isinstance(_expected, list) and len(_expected) == 1 and _got == _expected[0]
    assert _got == _expected or _alone, f"wrong output on test {{_number + 1}}"
'''


def code_task(problem: CodeCases, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> CodeTask:
    """The `graders.code.CodeTask` that runs a candidate against the problem's tests (the code grader's reference)."""
    if problem.kind == "stdio":
        test = _STDIO_TEST.format(entry=problem.entry_point, cases=list(problem.cases))
    elif problem.kind == "call":
        test = _CALL_TEST.format(entry=problem.entry_point, cases=json.dumps([list(c) for c in problem.cases]))
    else:
        test = problem.test
    return CodeTask(entry_point=problem.entry_point, test=test, timeout_s=timeout_s)


def candidate(completion: str, problem: CodeCases) -> str:
    """The completion the code grader receives: as written, or for a stdin program its code wrapped into
    the function the test calls (the grader's extraction keeps that function whole)."""
    if problem.kind != "stdio":
        return completion
    program = program_text(completion)
    if not program:
        return ""
    return "```python\n" + _STDIO_WRAPPER.format(entry=problem.entry_point, program=program).strip() + "\n```"


def program_text(completion: str) -> str:
    """The code of a completion: its last Python block (or the whole text after any reasoning)."""
    return extract_code(completion).strip()
