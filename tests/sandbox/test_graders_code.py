"""graders.code: extraction and sanitising of model outputs, verdicts and rewards."""

from __future__ import annotations

import ast

from hypothesis import given
from hypothesis import strategies as st

from graders.code import CodeTask, build_program, code_reward, extract_code, grade_many, sanitize, truncate_at_stop
from sandbox import IOTest

PROMPT = 'from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    """Sum of xs."""\n'
TASK = CodeTask(entry_point="total", prompt=PROMPT, context=PROMPT,
                test="def check(candidate):\n    assert candidate([1, 2]) == 3\n    assert candidate([]) == 0\n"
                     "check(total)\n")


def test_extract_picks_the_block_defining_the_entry_point():
    text = ("Here is an example:\n```python\nprint(total([1]))\n```\nAnd the solution:\n```python\n"
            "def total(xs):\n    return sum(xs)\n```\nDone.")
    assert extract_code(text, "total") == "def total(xs):\n    return sum(xs)"


def test_extract_drops_reasoning_and_handles_unterminated_fences():
    text = "<think>```python\ndef total(xs):\n    return 0\n```</think>```py\ndef total(xs):\n    return sum(xs)"
    assert extract_code(text, "total") == "def total(xs):\n    return sum(xs)"
    assert extract_code("def f():\n    return 1", "f") == "def f():\n    return 1"


def test_sanitize_keeps_entry_point_dependencies_and_imports_only():
    code = (
        "import math\nfrom collections import Counter\n\nLIMIT = 10\nUNUSED = 3\n\n"
        "def helper(x):\n    return math.floor(x) + LIMIT\n\n@staticmethod\ndef other():\n    pass\n\n"
        "def total(xs):\n    return sum(helper(x) for x in xs)\n\n"
        "print(total([1.5]))\nassert total([]) == 0\nif __name__ == '__main__':\n    total([1])\n"
    )
    out = sanitize(code, "total")
    assert out == ("import math\n\nfrom collections import Counter\n\nLIMIT = 10\n\n"
                   "def helper(x):\n    return math.floor(x) + LIMIT\n\n"
                   "def total(xs):\n    return sum(helper(x) for x in xs)")


def test_sanitize_recovers_code_between_prose_and_truncation():
    code = "Sure! Here it is:\ndef total(xs):\n    return sum(xs)\nThis works because sum adds.\ndef broken(:\n"
    assert sanitize(code, "total") == "def total(xs):\n    return sum(xs)"
    assert sanitize("no code here at all", "total") == ""


def test_sanitize_keeps_classes_the_test_needs():
    code = "class Node:\n    pass\n\ndef depth(n):\n    return 0\n"
    assert "class Node" not in sanitize(code, "depth")
    assert "class Node" in sanitize(code, "depth", also_keep=("Node",))


@given(st.text(max_size=300))
def test_sanitize_output_always_parses(text):
    ast.parse(sanitize(text, "f"))


def test_build_program_for_chat_and_completion_styles():
    chat = build_program("```python\ndef total(xs):\n    return sum(xs)\n```", TASK)
    assert chat.extracted == "def total(xs):\n    return sum(xs)"
    assert chat.code.startswith(PROMPT) and chat.code.endswith(chat.extracted)
    base = build_program("    return sum(xs)\n\ndef other():\n    pass\n", TASK)
    assert base.extracted == "    return sum(xs)\n" and base.code == PROMPT + "    return sum(xs)\n"
    assert truncate_at_stop("    return 1\nif x:\n") == "    return 1"


def test_grade_many_verdicts_and_reward(isolated):
    completions = ["    return sum(xs)\n", "```python\ndef total(xs):\n    return len(xs)\n```", "", "I don't know."]
    verdicts = grade_many([TASK] * 4, completions)
    assert [v.correct for v in verdicts] == [True, False, False, False]
    assert verdicts[0].reason == "passed" and verdicts[0].extracted == "    return sum(xs)\n"
    assert verdicts[1].reason.startswith("failed: assertion failed")
    right = "    return sum(xs)\n"
    assert code_reward(right, entry_point="total", prompt=PROMPT, context=PROMPT, test=TASK.test) == 1.0
    assert code_reward("    return 0\n", entry_point="total", prompt=PROMPT, test=TASK.test) == 0.0


def test_plus_tasks_report_base_and_plus(isolated):
    base = IOTest(inputs=[[[1, 2]]], expected=[3])
    plus = IOTest(inputs=[[[1, 2]], [[-1, 1]]], expected=[3, 0])
    task = CodeTask(entry_point="total", prompt=PROMPT, base=base, plus=plus)
    only_positive = "    return sum(x for x in xs if x > 0)\n"
    right, partial = grade_many([task, task], ["    return sum(xs)\n", only_positive])
    assert right.correct and dict(right.subscores) == {"base": True, "plus": True}
    assert not partial.correct and dict(partial.subscores) == {"base": True, "plus": False}
    assert partial.reason.startswith("plus: failed: input 1")


def test_weak_verdicts_earn_no_reward_by_default(isolated):
    task = CodeTask(entry_point="value", test="class Box:\n    v = 3\nassert value(Box()) == 3\n")
    completion = "```python\ndef value(b):\n    return b.v\n```"
    (verdict,) = grade_many([task], [completion])
    assert verdict.correct and "weak" in verdict.reason
    assert code_reward(completion, entry_point="value", test=task.test) == 0.0
    assert code_reward(completion, entry_point="value", test=task.test, allow_weak=True) == 1.0
