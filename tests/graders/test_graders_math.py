"""MATH grading: extraction of the final answer and equivalence of answer forms."""

import pytest

from graders import math as gm


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("first \\boxed{3}, then finally \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("The answer is \\fbox{5}", "5"),
        ("hence \\boxed 5$.", "5"),
        ("\\boxed{\\sqrt{\\frac{a}{b}}}", "\\sqrt{\\frac{a}{b}}"),
        ("The final answer is $x^2+1$. I hope it is correct.", "x^2+1"),
        ("<think>\\boxed{1}</think>So \\boxed{2}", "2"),
        ("<think>\\boxed{1}", None),
        ("no answer at all", None),
    ],
)
def test_extract_answer(text, answer):
    assert gm.extract_answer(text) == answer


@pytest.mark.parametrize(
    ("completion", "gold"),
    [
        ("\\boxed{\\frac{1}{2}}", "0.5"),
        ("\\boxed{\\dfrac12}", "\\frac{1}{2}"),
        ("The answer is \\fbox{5}", "5"),
        ("\\boxed{(1,2]}", "(1,2]"),
        ("\\boxed{3}", "Thus the answer is $\\boxed{3}$."),
        ("\\boxed{3}", "She has 3.\n#### 3"),
    ],
)
def test_equivalent_answers_are_correct(completion, gold):
    verdict = gm.grade(completion, gold)
    assert verdict.correct, verdict


@pytest.mark.parametrize(
    ("completion", "gold", "reason"),
    [
        ("\\boxed{(1,2)}", "(1,2]", "different_brackets"),
        ("\\boxed{1} or \\boxed{2}", "1", "hedged"),
        ("nothing", "1", "no_answer"),
    ],
)
def test_wrong_answers_are_rejected(completion, gold, reason):
    verdict = gm.grade(completion, gold)
    assert not verdict.correct
    assert verdict.reason == reason


def test_power_tower_is_bounded_by_the_timeout():
    import time

    gm.grade("\\boxed{1}", "1")  # warm the worker pool
    start = time.monotonic()
    verdict = gm.grade("\\boxed{2^{2^{2^{2^{2^{2}}}}}}", "3", timeout_s=0.5)
    assert not verdict.correct
    assert time.monotonic() - start < 0.5 + 0.5


def test_grade_batch_matches_grade_and_is_equiv():
    completions = ["\\boxed{2}", "\\boxed{2.0}", "\\boxed{3}"]
    verdicts = gm.grade_batch(completions, ["2", "2", "2"])
    assert [v.correct for v in verdicts] == [True, True, False]
    assert gm.is_equiv("\\frac{1}{2}", "0.5")
    assert not gm.is_equiv("1", "2")
