"""The grader protocol: one shape for math and code, held by benchmarks, and the trainer's reward is the same call."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import benchmarks
import graders.answer_graders as answer_graders
from benchmarks.base import DataSource
from graders.answer_graders import GSM8KGrader, MathGrader
from graders.code import CodeTask
from graders.code_grader import CodeGrader
from graders.protocol import GRADERS, Grader, Reference
from graders.verdict import Verdict


def test_every_registered_grader_and_every_benchmark_grader_follows_the_protocol():
    for name in GRADERS.names():
        assert isinstance(GRADERS.get(name)(), Grader), name
    for name in benchmarks.names():
        grader = benchmarks.get(name).grader
        assert isinstance(grader, Grader) and "@" in grader.version, name


def test_answer_graders_take_completions_then_references_strings_or_references():
    math, gsm = MathGrader(), GSM8KGrader()
    assert [v.correct for v in math.grade_batch(["\\boxed{\\frac12}", "\\boxed{3}"], ["0.5", Reference("4")])] == \
        [True, False]
    assert [v.correct for v in gsm.grade_batch(["#### 1,072", "The answer is 7."], [Reference("1072", "q?"), "8"])] == \
        [True, False]
    assert math.same_answer("\\frac{1}{2}", "0.5") and gsm.same_answer("72.00", "72") and not gsm.same_answer("7", "8")
    assert (math.version, gsm.version) == ("graders.math@" + answer_graders._math.GRADER_VERSION,
                                           "graders.gsm8k@" + answer_graders._gsm8k.GRADER_VERSION)
    with pytest.raises(ValueError, match="2 completions but 1 references"):
        math.grade_batch(["a", "b"], ["1"])


def test_questions_reach_a_grading_function_that_accepts_them(monkeypatch: pytest.MonkeyPatch):
    """Each reference carries its problem's question; it is passed on as `questions=` where the function takes it."""
    calls = []

    def with_questions(completions, golds, *, timeout_s=1.0, policy=None, questions=None):
        calls.append(questions)
        return [Verdict(True, c, "equal") for c in completions]

    def without_questions(completions, golds, *, timeout_s=1.0, policy=None):
        calls.append("no questions")
        return [Verdict(True, c, "equal") for c in completions]

    for fn in (with_questions, without_questions):
        monkeypatch.setattr(answer_graders._math, "grade_batch", fn)
        MathGrader().grade_batch(["1", "2"], [Reference("1", "What is 1?"), Reference("2", "What is 2?")])
    assert calls == [["What is 1?", "What is 2?"], "no questions"]


def test_math_benchmarks_give_their_grader_the_question(shared_data: Path):
    bench = benchmarks.get("math500")
    problems = bench.load(DataSource(shared_data))[:3]
    assert bench.references(problems) == [Reference(p.gold, p.question) for p in problems]


def _isolated() -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")


def test_code_verdicts_carry_their_trust_and_weak_passes_earn_no_reward():
    _isolated()
    strong = CodeTask(entry_point="add", test="assert add(1, 2) == 3\n")
    weak = CodeTask(entry_point="value", test="class Box:\n    v = 3\nassert value(Box()) == 3\n")
    right, forged = CodeGrader().grade_batch(
        ["```python\ndef add(a, b):\n    return a + b\n```", "```python\ndef value(b):\n    return b.v\n```"],
        [strong, weak])
    assert (right.correct, right.trust, right.reward) == (True, "strong", 1.0)
    assert (forged.correct, forged.trust, forged.reward) == (True, "weak", 0.0)


def test_the_trainer_rewards_any_benchmark_with_its_own_grading(shared_data: Path):
    """No more `"gsm8k" if ... else "math"`: a math and a code benchmark are trained on through their graders."""
    from evalkit.train.tasks import make_task

    math500 = make_task("math500", None, data_dir=shared_data, chat=False)
    example = math500.heldout_examples()[0]
    assert example.gold == Reference(math500.benchmark.load(DataSource(shared_data))[0].gold,
                                     math500.benchmark.load(DataSource(shared_data))[0].question)
    assert math500.rewards([f"\\boxed{{{example.gold.gold}}}", "\\boxed{-12345}"], [example.gold] * 2) == [1.0, 0.0]
    _isolated()
    mbpp = make_task("mbpp", None, data_dir=shared_data, chat=False)
    train = list(mbpp.train_examples())
    problems = {p.id: p for p in mbpp.benchmark.fewshot_pool(DataSource(shared_data))}
    assert len(train) == 10 and all(isinstance(e.gold, CodeTask) for e in train)
    first, second = train[:2]
    canonical = [f"```python\n{problems[e.id].gold}\n```" for e in (first, second)]
    assert mbpp.rewards([canonical[0], canonical[1], "```python\npass\n```"], [first.gold, second.gold, first.gold]) \
        == [1.0, 1.0, 0.0]
