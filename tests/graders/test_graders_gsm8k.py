"""GSM8K grading: numbers compared exactly whatever their spelling; hedges and misses rejected."""

import pytest

from graders import gsm8k


@pytest.mark.parametrize(
    "completion",
    [
        "She pays 8 * 9 = 72 dollars.\n#### 72",
        "#### $72",
        "#### 72.",
        "#### 72.00",
        "Total 1,072 - 1,000 = 72. #### 72",
        "The answer is 72. (It took 3 steps.)",
        "The answer is $\\boxed{72}$.",
        "#### 70 is wrong, so\n#### 72",
        "#### 72" + " and some trailing words" * 20,
        "<think>maybe #### 70</think> The answer is \\boxed{72}",
        "So she earns \\boxed{\\$72} in total.",
    ],
)
def test_equivalent_spellings_of_72_are_correct(completion):
    verdict = gsm8k.grade(completion, "72")
    assert verdict.correct, verdict
    assert verdict.extracted == "72"


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("#### 71", "different"),
        ("#### 72.5", "different"),
        ("The answer is 72 or 73.", "hedged"),
        ("\\boxed{70-72}", "hedged"),
        ("I could not solve it.", "no_answer"),
        ("<think>the answer is 72", "no_answer"),
    ],
)
def test_wrong_or_hedged_answers_are_rejected(completion, reason):
    verdict = gsm8k.grade(completion, "72")
    assert not verdict.correct
    assert verdict.reason == reason


def test_gold_may_be_a_full_solution_with_commas_and_unicode_minus():
    solution = "He loses 1,080 dollars.\n#### 1,080"
    assert gsm8k.grade("#### 1080", solution).correct
    assert gsm8k.grade("The answer is \u22125", "-5").correct


def test_grade_batch_and_is_equiv():
    verdicts = gsm8k.grade_batch(["#### 3", "#### 4", "#### 3.0"], ["3", "3", "#### 3"])
    assert [v.correct for v in verdicts] == [True, False, True]
    assert gsm8k.is_equiv("1,000", "1000.0")
    assert not gsm8k.is_equiv("1000", "1001")
    with pytest.raises(ValueError):
        gsm8k.grade_batch(["#### 3"], [])


def test_extract_answer_normalises_the_number():
    assert gsm8k.extract_answer("so #### $1,234.50") == "1234.5"
    assert gsm8k.extract_answer("#### 1/3") == "1/3"
    assert gsm8k.extract_answer("no digits here") is None


def test_openai_verifier_solutions_agree_with_their_labels(shared_data):
    import json

    golds = [json.loads(line)["answer"] for line in (shared_data / "gsm8k/test.jsonl").read_text().splitlines()]
    path = shared_data / "labeled_outputs/gsm8k_openai_verifiers/example_model_solutions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    completions, gold_list, labels = [], [], []
    for gold, row in zip(golds, rows, strict=True):
        for system in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            completions.append(row[system]["solution"])
            gold_list.append(gold)
            labels.append(row[system]["is_correct"])
    verdicts = gsm8k.grade_batch(completions, gold_list)
    assert [v.correct for v in verdicts] == labels
