"""Code data sources reach the sandbox: verl / PRIME test cases (stdin programs and call-based functions)
and HumanEval-style script tests, graded by running the completion's code, never by its text."""

from __future__ import annotations

import json

import pytest

import sandbox
from graders import code_cases, rewards
from graders.rewards import RewardSetupError

STDIO = json.dumps({"inputs": ["1 2\n", "5 7\n", "10 -3\n"], "outputs": ["3\n", "12\n", "7"]})
CALL = json.dumps({"fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [[3], [7]]})
CALL_PRIME = {"fn_name": "pair", "inputs": ["1\n2", "3\n[4]"], "outputs": ["[1, 2]", "[3, [4]]"]}
SCRIPT = {"entry_point": "double", "test": "def check(candidate):\n    assert candidate(2) == 4\n\ncheck(double)\n"}


def fenced(code: str) -> str:
    return f"Here is my solution.\n```python\n{code}\n```"


@pytest.fixture(autouse=True, scope="module")
def isolation():
    try:
        sandbox.require_isolation()
    except Exception as exc:  # no bubblewrap: the sandbox refuses to run model code
        pytest.skip(f"code sandbox not available: {exc}")


def test_stdin_programs_are_run_against_every_case():
    right = fenced("a, b = map(int, input().split())\nprint(a + b)")
    buffered = fenced("import sys\na, b = map(int, sys.stdin.buffer.read().split())\nsys.stdout.write(f'{a+b}\\n')")
    wrong = fenced("a, b = map(int, input().split())\nprint(a * b)")
    early_exit = fenced("import sys\nsys.exit(0)\nprint(3)")
    main_guard = fenced("def main():\n    a, b = map(int, input().split())\n    print(a + b)\n\n"
                        "if __name__ == '__main__':\n    main()")
    completions = [right, buffered, wrong, early_exit, "no code here", main_guard]
    scores = rewards.compute_score_batch(["codecontests"] * 6, completions, [STDIO] * 6, return_dict=True)
    assert [s["score"] for s in scores] == [1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert scores[0]["pred"].startswith("a, b = map(int")
    # The answer text itself is never compared: printing "3" without computing fails the other cases.
    assert rewards.compute_score("taco", fenced("print(3)"), STDIO) == 0.0


def test_call_based_problems_and_script_tests():
    assert rewards.compute_score("apps", fenced("def add(a, b):\n    return a + b"), CALL) == 1.0
    assert rewards.compute_score("apps", fenced("def add(a, b):\n    return a - b"), CALL) == 0.0
    assert rewards.compute_score("codeforces", fenced("def pair(a, b):\n    return (a, b)"), CALL_PRIME) == 1.0
    assert rewards.compute_score("humaneval", fenced("def double(x):\n    return 2 * x"), SCRIPT) == 1.0
    assert rewards.compute_score("mbpp", fenced("def double(x):\n    return x + 1"), SCRIPT) == 0.0
    # Any data source graded as code with the task option.
    assert rewards.compute_score("my_code_set", fenced("def add(a, b):\n    return a + b"), CALL, task="code") == 1.0


def test_a_program_that_hangs_is_cut_at_timeout_s_and_scores_wrong():
    hang = fenced("while True:\n    pass")
    assert rewards.compute_score("codecontests", hang, STDIO, timeout_s=2.0, wrong_reward=-1.0) == -1.0


@pytest.mark.parametrize(("gold", "message"), [
    ("def f(): pass", "not JSON test cases"),
    ({"tests": []}, "expected inputs and outputs"),
    ({"inputs": ["1"], "outputs": []}, "1 inputs and 0 outputs"),
    ([1, 2], "must be a JSON object"),
])
def test_malformed_test_cases_raise(gold, message):
    with pytest.raises(RewardSetupError, match=message):
        rewards.compute_score("codecontests", fenced("print(1)"), gold)


def test_a_sandbox_that_cannot_run_is_a_setup_error(monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("bubblewrap is not installed: apt-get install bubblewrap")

    monkeypatch.setattr(sandbox, "run_many", refuse)
    with pytest.raises(RewardSetupError, match="the code sandbox cannot grade: RuntimeError: bubblewrap"):
        rewards.compute_score("codecontests", fenced("print(1)"), STDIO)


def test_parse_cases_reads_verl_and_prime_shapes():
    stdio = code_cases.parse_cases(STDIO)
    assert stdio.kind == "stdio" and stdio.entry_point == code_cases.STDIO_ENTRY and len(stdio.cases) == 3
    call = code_cases.parse_cases(CALL_PRIME)
    assert call.kind == "call" and call.cases == (([1, 2], [1, 2]), ([3, [4]], [3, [4]]))
    assert code_cases.parse_cases(SCRIPT).kind == "script"
