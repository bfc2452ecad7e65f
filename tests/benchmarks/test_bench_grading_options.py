"""The grading options the new benchmarks use: answer tags, approximate golds, absolute tolerance, units,
named policy options from a file, and the grader version that records them."""

from __future__ import annotations

import pytest

from graders import gsm8k, math
from graders.answer_graders import MathGrader
from graders.extract import answer_tag
from graders.policy import DEFAULT_POLICY, GradingPolicy
from graders.units import strip_unit

SCIENCE = GradingPolicy(rel_tol=1e-4, approximate_golds=True, units="any")


def _correct(answer: str, gold: str, policy: GradingPolicy = DEFAULT_POLICY) -> bool:
    return math.grade(answer, gold, policy=policy).correct


# -- <answer> tags ---------------------------------------------------------------------------------


def test_answer_tag_is_read_where_no_box_is_present():
    text = "Step 3 gives 12, step 4 gives 9.\n<answer>7</answer>\nI double-checked step 2."
    assert math.extract_answer(text) == "7" and gsm8k.extract_answer(text) == "7"
    without_tag = text.replace("<answer>", "").replace("</answer>", "")
    assert math.extract_answer(without_tag) != "7" and gsm8k.extract_answer(without_tag) != "7"
    # the tag's content is read by the usual rules: a statement, math, a fraction
    assert math.extract_answer("<think>x = 3?</think><answer>The answer is $\\frac{1}{2}$.</answer>") == "\\frac{1}{2}"
    assert math.grade("<answer>1/2</answer>", "\\frac12").correct
    assert gsm8k.grade("<think>5 + 3</think>\n<answer>#### 8</answer> then 9", "8").correct


def test_a_box_wins_over_a_tag_and_odd_tags_are_ignored():
    assert math.extract_answer("<answer>7</answer> so \\boxed{8}") == "8"
    assert gsm8k.extract_answer("<answer>7</answer> so \\boxed{8}") == "8"
    assert math.extract_answer("<answer>3</answer> ... <answer>5</answer>") == "5"  # the last tag
    assert answer_tag("<answer>  </answer>") is None and answer_tag("<answer>5") is None
    assert math.extract_answer("<answer>   </answer> the result is 4") == "4"
    assert math.extract_answer("<think>the answer is <answer>9</answer>") is None  # thinking never closed
    assert answer_tag("<ANSWER>2</ANSWER>") == "2"


# -- approximate golds and tolerances -------------------------------------------------------------------


@pytest.mark.parametrize("answer, gold, expected", [
    ("4.5002e33", "4.5e33", True),  # an integer-valued gold written in scientific notation is approximate
    ("4.5 \\times 10^{33}", "4.5e33", True),
    ("4.6e33", "4.5e33", False),
    ("1.60015", "1.6", True),
    ("1.6003", "1.6", False),
    ("\\frac{8}{5}", "1.6", True),
    ("0.877585", "\\arcsin(10/13)", True),  # the default rule: a decimal against a non-integer value
    ("100.001", "100", False),  # golds written as integers stay exact
    ("\\frac{1001}{10}", "100", False),
    ("3.0001", "\\frac{3}{1}", False),
])
def test_approximate_golds(answer: str, gold: str, expected: bool):
    assert _correct(f"\\boxed{{{answer}}}", gold, SCIENCE) is expected


def test_the_default_policy_is_exact():
    assert not _correct("\\boxed{4.5002e33}", "4.5e33") and not _correct("\\boxed{1.60015}", "1.6")
    assert not _correct("\\boxed{4.25}", "4.2")
    assert DEFAULT_POLICY.changes() == {} and MathGrader().version == f"graders.math@{math.GRADER_VERSION}"


def test_absolute_tolerance_applies_to_numbers_only():
    policy = GradingPolicy(abs_tol=0.1)
    assert _correct("\\boxed{4.25}", "4.2", policy) and _correct("\\boxed{4.1}", "4.2", policy)
    assert not _correct("\\boxed{4.35}", "4.2", policy)
    assert not _correct("\\boxed{x + 0.05}", "x", policy)  # expressions in a variable stay exact
    assert _correct("\\boxed{\\pi}", "3.2", policy) and not _correct("\\boxed{\\pi}", "3.3", policy)


# -- units ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, stripped", [
    ("4.5 \\times 10^{33} \\mathrm{ergs} \\mathrm{s}^{-1}", "4.5 \\times 10^{33}"),
    ("300 \\mathrm{~km} / \\mathrm{s}", "300"),
    ("9.6 \\AA", "9.6"),
    ("2.7e-3 m", "2.7e-3"),
    ("0.49 \\operatorname{arcsecs}", "0.49"),
    ("5 \\mu m", "5"),
    ("300 km/s", "300"),
    ("5 or 6 m", "5 or 6 m"),  # a hedge keeps its words
    ("5 \\text{ to } 6 \\text{ m}", "5 \\text{ to } 6 \\text{ m}"),
    ("5 + 2", "5 + 2"),
    ("10^{2}", "10^{2}"),
    ("x = 5 m", "x = 5 m"),  # no leading number: unchanged (the label rule reads it)
    ("12", "12"),
])
def test_strip_unit(answer: str, stripped: str):
    assert strip_unit(answer) == stripped


def test_units_any_drops_science_units_against_plain_number_golds_only():
    assert _correct("\\boxed{300 \\mathrm{~km} / \\mathrm{s}}", "300", SCIENCE)
    assert not _correct("\\boxed{300 \\mathrm{~km} / \\mathrm{s}}", "300")  # "known" units only by default
    assert _correct("\\boxed{12 \\text{ cm}^2}", "12")  # a known unit, under both
    assert not _correct("\\boxed{5 or 6 m}", "5", SCIENCE)
    assert not _correct("\\boxed{2.2 s}", "2.2 \\tau", SCIENCE)  # the gold is no plain number: no unit is dropped
    verdict = math.grade("\\boxed{9.6 \\AA}", "9.6", policy=SCIENCE)
    assert verdict.correct and verdict.extracted == "9.6 \\AA"  # the sample keeps what the model wrote


def test_strip_unit_is_linear_on_adversarial_tails():
    import time

    for tail in ("m" * 50_000, " m" * 20_000, "\\mathrm{" * 5_000, "/ s" * 10_000 + "1"):
        start = time.process_time()
        strip_unit("4.5 " + tail)
        assert time.process_time() - start < 0.5


# -- the restatement rule and answers with nothing to evaluate ------------------------------------------


def test_listing_names_or_examples_the_question_shows_is_no_restatement():
    question = "The eigen-energies are $E_{1}$ and $E_{2}$. List the possible result(s) of your measurement."
    assert math.grade("\\boxed{E_{1},E_{2}}", "E_{1},E_{2}", question=question).correct
    question = "For example, $(4,2,3,2,4,3,1,1)$ is a Skolem sequence of order 4. List all Skolem sequences of order 4."
    gold = "(4,2,3,2,4,3,1,1),(1,1,3,4,2,3,2,4)"
    assert math.grade(f"\\boxed{{{gold}}}", gold, question=question).correct
    # ... while copying an expression to evaluate still is
    verdict = math.grade("\\boxed{123 \\times 456}", "56088", question="Compute $123 \\times 456$.")
    assert verdict.reason == "unevaluated"
    assert math.grade("\\boxed{(2 + 3, 4)}", "(5, 4)", question="Find $(2 + 3, 4)$.").reason == "unevaluated"


# -- named options --------------------------------------------------------------------------------


def test_policy_from_named_options():
    assert GradingPolicy.from_options({"rel_tol": 1e-4, "units": "any", "approximate_golds": True}) == SCIENCE
    assert GradingPolicy.from_options({"abs_tol": 1}).abs_tol == 1.0  # an int where a float is meant
    with pytest.raises(ValueError, match="unknown policy option 'rel_toll'"):
        GradingPolicy.from_options({"rel_toll": 1e-4})
    with pytest.raises(ValueError, match="'rel_tol' must be a float"):
        GradingPolicy.from_options({"rel_tol": "1e-4"})
    with pytest.raises(ValueError, match="units must be"):
        GradingPolicy.from_options({"units": "all"})
    with pytest.raises(ValueError, match="abs_tol"):
        GradingPolicy(abs_tol=float("nan"))


def test_the_version_records_a_changed_policy():
    version = MathGrader(policy=SCIENCE).version
    assert version == f"graders.math@{math.GRADER_VERSION}[approximate_golds=True,rel_tol=0.0001,units=any]"
    assert MathGrader(policy=GradingPolicy(abs_tol=0.5)).version != MathGrader().version
