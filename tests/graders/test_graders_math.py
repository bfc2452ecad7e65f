"""MATH grading: extraction, equivalent forms accepted, wrong and hedged answers rejected, time bounded."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from equivalence_cases import ADVERSARIAL

from graders import math as gm
from graders.policy import GradingPolicy


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("first \\boxed{3}, then after much more work the answer is \\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),
        ("The answer is \\fbox{5}", "5"),
        ("hence \\boxed 5$.", "5"),
        ("\\boxed{\\sqrt{\\frac{a}{b}}}", "\\sqrt{\\frac{a}{b}}"),
        ("The final answer is $x^2+1$. I hope it is correct.", "x^2+1"),
        ("<think>\\boxed{1}</think>So \\boxed{2}", "2"),
        ("\\boxed{1} and \\boxed{2}", "1, 2"),
        ("\\boxed{1} or \\boxed{2}", "1 or 2"),
        ("\\boxed{840} ... \\boxed{840}", "840"),
        ("unclosed \\boxed{3", "3"),
        ("so \\boxed{7}. (I put the final answer within \\boxed{}.)", "7"),
        ("<think>\\boxed{1}", None),
        ("no answer at all", None),
    ],
)
def test_extract_answer(text, answer):
    assert gm.extract_answer(text) == answer


EQUIVALENT = [
    # numbers and their spellings
    ("\\boxed{\\frac{1}{2}}", "0.5"),
    ("\\boxed{\\dfrac12}", "\\frac{1}{2}"),
    ("\\boxed{\\tfrac{3}{4}}", "0.75"),
    ("\\boxed{-\\frac{1}{2}}", "-0.5"),
    ("\\boxed{\\frac{-1}{2}}", "-\\frac12"),
    ("\\boxed{2\\frac{1}{2}}", "\\frac52"),
    ("\\boxed{0.\\overline{3}}", "\\frac13"),
    ("\\boxed{1\\,000}", "1000"),
    ("\\boxed{1{,}000}", "1000"),
    ("\\boxed{2 000}", "2000"),
    ("\\boxed{10,080}", "10080"),
    ("\\boxed{\\$1,000.50}", "1000.5"),
    ("\\boxed{3.5 \\text{ million}}", "3500000"),
    ("\\boxed{\u221272}", "-72"),
    # units, degrees, percent
    ("\\boxed{90^\\circ}", "90"),
    ("\\boxed{90\u00b0}", "90"),
    ("\\boxed{12\\text{ cm}^2}", "12"),
    ("\\boxed{25\\%}", "25"),
    ("\\boxed{\\text{infinity}}", "\\infty"),
    ("\\boxed{\\varnothing}", "\\emptyset"),
    ("The answer is \\fbox{5}", "5"),
    # expressions
    ("\\boxed{x^2+2x+1}", "(x+1)^2"),
    ("\\boxed{\\sqrt{12}}", "2\\sqrt{3}"),
    ("\\boxed{\\dfrac{1}{\\sqrt{2}}}", "\\frac{\\sqrt{2}}{2}"),
    ("\\boxed{\\frac{\\pi}{2}}", "\\frac{\\pi}{2}"),
    ("\\boxed{3 + 4i}", "3+4i"),
    ("\\boxed{2^{2^{2^{2^2}}}}", "2^{65536}"),
    ("\\boxed{\\left( 10, \\  2\\right)}", "(10,2)"),
    # structures
    ("\\boxed{(1,2]}", "(1,2]"),
    ("\\boxed{[1,\\infty)}", "[1, \\infty)"),
    ("\\boxed{(-\\infty, 1) \\cup (2, \\infty)}", "(-\\infty,1)\\cup(2,\\infty)"),
    ("\\boxed{3, 1}", "1, 3"),
    ("\\boxed{\\{1,2\\}}", "1,2"),
    ("\\boxed{1} and \\boxed{2}", "1, 2"),
    ("\\boxed{\\frac{1}{2}} or \\boxed{0.5}", "\\frac12"),
    ("\\boxed{\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}}", "\\begin{pmatrix}2\\\\-1\\end{pmatrix}"),
    ("\\boxed{\\begin{pmatrix}1\\\\2\\end{pmatrix}}", "(1,2)"),
    ("\\boxed{x=3}", "3"),
    ("\\boxed{3}", "x=3"),
    ("\\boxed{y = 2x+1}", "y=2x+1"),
    ("\\boxed{x \\in [1, 2]}", "[1,2]"),
    ("\\boxed{3 \\pm \\sqrt{2}}", "3+\\sqrt2, 3-\\sqrt2"),
    # words and choices
    ("\\boxed{\\text{(C)}}", "C"),
    ("\\boxed{C}", "\\text{(C)}"),
    ("\\boxed{\\text{Monday}}", "\\text{Monday}"),
    # gold forms: MATH solution with a box, GSM8K solution
    ("\\boxed{3}", "Thus the answer is $\\boxed{3}$."),
    ("\\boxed{3}", "She has 3.\n#### 3"),
    ("\\boxed{\\frac{9}{7}}", "$\\dfrac{9}{7}$"),
]


@pytest.mark.parametrize(("completion", "gold"), EQUIVALENT)
def test_equivalent_answers_are_correct(completion, gold):
    verdict = gm.grade(completion, gold)
    assert verdict.correct, verdict


WRONG = [
    ("\\boxed{(1,2)}", "(1,2]", "different_brackets"),
    ("\\boxed{[1,3)}", "[1,3]", "different_brackets"),
    ("\\boxed{(3, 1)}", "(1,3)", "different"),
    ("\\boxed{1\\,000}", "0", "different"),  # math-verify reads 1\,000 as 1*000 = 0
    ("\\boxed{300}", "3", "different"),  # no percent tolerance
    ("\\boxed{0.25}", "25\\%", "different"),
    ("\\boxed{0.333}", "\\frac13", "different"),
    ("\\boxed{3.14}", "\\pi", "different"),
    ("\\boxed{\\frac12}", "2\\frac{1}{2}", "different"),
    ("\\boxed{f'(x)}", "f(x)", "different"),
    ("\\boxed{X}", "x", "different"),
    ("\\boxed{x^2+2x+2}", "(x+1)^2", "different"),
    ("\\boxed{x + 1}", "x+c", "different"),
    ("\\boxed{1, 2}", "1, 2, 3", "different"),
    ("\\boxed{\\text{Tuesday}}", "\\text{Monday}", "different"),
    # hedges
    ("The answer is 1 or 2.", "1", "hedged"),
    ("\\boxed{1} or \\boxed{2}", "1", "hedged"),
    ("\\boxed{1 \\text{ or } 2}", "1", "hedged"),
    # nothing to grade
    ("I could not solve it.", "1", "no_answer"),
    ("<think>so \\boxed{1}", "1", "no_answer"),
]


@pytest.mark.parametrize(("completion", "gold", "reason"), WRONG)
def test_wrong_hedged_and_restated_answers_are_rejected(completion, gold, reason):
    verdict = gm.grade(completion, gold)
    assert not verdict.correct, verdict
    assert verdict.reason == reason




@pytest.mark.parametrize("completion", ADVERSARIAL)
def test_adversarial_inputs_are_bounded_by_the_timeout(completion):
    gm.warm_up()  # the pool's one-time start is not the item's time
    start = time.monotonic()
    verdict = gm.grade(completion, "3", timeout_s=0.5)
    assert not verdict.correct
    assert time.monotonic() - start < 0.5 + 0.3


def test_a_replaced_worker_serves_the_next_item_quickly():
    gm.grade("\\boxed{\\mathfrak{x}}", "1")
    assert gm.grade("\\boxed{\\mathfrak{a} + (10^{6})! + 9^{9^{9^{9}}}}", "3", timeout_s=0.3).reason == "timeout"
    start = time.monotonic()
    assert gm.grade("\\boxed{\\mathfrak{x}}", "\\mathfrak{x}").correct
    assert gm.grade("\\boxed{\\mathfrak{y}}", "\\mathfrak{x}").reason == "different"
    assert time.monotonic() - start < 1.0


def test_grading_from_threads_and_asyncio_gives_the_same_verdicts():
    pairs = [(c, g) for c, g in EQUIVALENT] + [(c, g) for c, g, _ in WRONG]
    pairs.append(("\\boxed{\\mathfrak{x}}", "\\mathfrak{x}"))  # one slow-path pair, through the worker pool
    expected = [gm.grade(c, g) for c, g in pairs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda p: gm.grade(*p), pairs))
    assert threaded == expected

    async def all_async():
        return await asyncio.gather(*(gm.grade_async(c, g) for c, g in pairs))

    assert asyncio.run(all_async()) == expected


def test_grade_batch_matches_grade_and_checks_lengths():
    completions = ["\\boxed{2}", "\\boxed{2.0}", "\\boxed{3}", "\\boxed{2}", "nothing"]
    golds = ["2", "2", "2", "\\boxed{2}", "2"]
    verdicts = gm.grade_batch(completions, golds)
    assert verdicts == [gm.grade(c, g) for c, g in zip(completions, golds, strict=True)]
    assert [v.correct for v in verdicts] == [True, True, False, True, False]
    with pytest.raises(ValueError):
        gm.grade_batch(["\\boxed{1}"], [])
    with pytest.raises(ValueError):
        gm.grade("\\boxed{1}", "1", timeout_s=0)


def test_grade_batch_decides_each_distinct_pair_once(monkeypatch):
    calls = []
    real = gm._decide

    def counting(pred, gold, policy):
        calls.append((pred, gold))
        return real(pred, gold, policy)

    monkeypatch.setattr(gm, "_decide", counting)
    group = ["so \\boxed{4}", "thus \\boxed{4}", "\\boxed{5}", "hence \\boxed{4}"] * 4
    gm.grade_batch(group, ["4"] * len(group))
    assert sorted(calls) == [("4", "4"), ("5", "4")]


def test_is_equiv_clusters_equal_values_including_restated_forms():
    assert gm.is_equiv("\\frac{1}{2}", "0.5")
    assert gm.is_equiv("2^{10}", "1024")
    assert gm.is_equiv("(1, 2]", "\\left(1,2\\right]")
    assert not gm.is_equiv("1", "2")
    assert not gm.is_equiv("(1, 2]", "(1, 2)")
    assert not gm.is_equiv("1 or 2", "1")


def test_policy_options_change_the_verdicts_they_name():
    assert not gm.grade("\\boxed{0.25}", "25\\%").correct
    assert gm.grade("\\boxed{0.25}", "25\\%", policy=GradingPolicy(percent="fraction")).correct
    assert not gm.grade("\\boxed{25}", "25\\%", policy=GradingPolicy(percent="fraction")).correct
    assert not gm.grade("\\boxed{0.333}", "\\frac13").correct
    assert gm.grade("\\boxed{0.333}", "\\frac13", policy=GradingPolicy(rel_tol=1e-3)).correct
    assert not gm.grade("\\boxed{0.3}", "\\frac13", policy=GradingPolicy(rel_tol=1e-3)).correct
    assert not gm.grade("\\boxed{299}", "300", policy=GradingPolicy(rel_tol=0.1)).correct  # integers stay exact
    assert not gm.grade("\\boxed{123 \\times 456}", "56088", policy=GradingPolicy(reject_unevaluated="any")).correct
    assert gm.grade("\\boxed{123 \\times 456}", "56088", question="Compute $123 \\times 456$.",
                    policy=GradingPolicy(reject_unevaluated="never")).correct
    assert gm.grade("\\boxed{3 \\text{ or } 3.0}", "3").correct  # equal alternatives are no hedge
    assert gm.grade("The answer is 1 or 2", "1", policy=GradingPolicy(reject_hedges=False)).correct
    assert not gm.grade("\\boxed{3, 1}", "1, 3", policy=GradingPolicy(unordered_lists=False)).correct
    assert not gm.grade("\\boxed{x=3}", "3", policy=GradingPolicy(accept_assignment=False)).correct
    with pytest.raises(ValueError):
        GradingPolicy(percent="times100")  # type: ignore[arg-type]


def test_model_text_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"\\boxed{{__import__('pathlib').Path('{marker}').touch()}}"
    assert not gm.grade(payload, "1").correct
    assert not marker.exists()


def test_math500_reference_solutions_grade_correct_against_their_answers(shared_data):
    import json

    rows = [json.loads(line) for line in (shared_data / "math500/test.jsonl").read_text().splitlines()]
    verdicts = gm.grade_batch([r["solution"] for r in rows], [r["answer"] for r in rows])
    wrong = [(r["answer"], v) for r, v in zip(rows, verdicts, strict=True) if not v.correct]
    assert wrong == []
    shifted = gm.grade_batch([r["solution"] for r in rows], [rows[i - 1]["answer"] for i in range(len(rows))])
    # Neighbouring problems share an answer only by coincidence (a handful of small integers).
    assert sum(v.correct for v in shifted) <= 5


def test_qwen_math_responses_disagree_with_labels_only_where_the_labels_are_wrong(shared_data):
    import json

    path = shared_data / "labeled_outputs/math_qwen25math_rm_maj/math_cot_100.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    completions = [c for r in rows for c in r["code"]]
    golds = [r["answer"] for r in rows for _ in r["code"]]
    labels = [s for r in rows for s in r["score"]]
    ids = [f"{r['idx']}.{j}" for r in rows for j in range(len(r["code"]))]
    verdicts = gm.grade_batch(completions, golds)
    disagree = {i for i, v, label in zip(ids, verdicts, labels, strict=True) if v.correct != label}
    # Reviewed by hand (tests/perf/agreement_graders.py, LABEL_ERRORS): correct answers that
    # Qwen's grader rejected (a gold mangled to `4:30p..`, and `10{,}000`).
    assert disagree == {f"3.{j}" for j in range(8)} | {"72.7"}
