"""Rewards: plain functions, the TRL adapter called as GRPOTrainer calls it, verl's compute_score."""

import pytest

from graders import gsm8k, rewards
from graders import math as gm


def test_correctness_reward_is_the_graders_verdict():
    assert rewards.correctness_reward("so \\boxed{\\frac12}", "0.5", task="math") == 1.0
    assert rewards.correctness_reward("so \\boxed{1} or \\boxed{2}", "1", task="math") == 0.0
    assert rewards.correctness_reward("#### 1,072", "1072", task="gsm8k") == 1.0
    assert rewards.correctness_reward("#### 1071", "1072", task="gsm8k") == 0.0
    with pytest.raises(ValueError, match="unknown reward task"):
        rewards.correctness_reward("1", "1", task="code")


def test_batch_rewards_equal_evaluation_verdicts():
    completions = ["\\boxed{4}", "\\boxed{5}", "no answer", "\\boxed{2^2}"]
    golds = ["4"] * 4
    expected = [1.0 if v.correct else 0.0 for v in gm.grade_batch(completions, golds)]
    assert rewards.correctness_rewards(completions, golds, task="math") == expected == [1.0, 0.0, 0.0, 1.0]
    # With the question known, an answer that copies it earns nothing.
    questions = ["What is $2^2$?"] * 4
    assert rewards.correctness_rewards(completions, golds, task="math", questions=questions) == [1.0, 0.0, 0.0, 0.0]
    assert rewards.correctness_reward("\\boxed{2^2}", "4", task="math", question="What is $2^2$?") == 0.0


def test_format_reward_wants_a_closed_think_block_and_a_box():
    assert rewards.format_reward("<think>work</think> so \\boxed{3}") == 1.0
    assert rewards.format_reward("so \\boxed{3}") == 1.0
    assert rewards.format_reward("<think>work \\boxed{3}") == 0.0
    assert rewards.format_reward("<think>work</think> 3") == 0.0


def test_trl_adapter_called_like_grpo_trainer_with_text_completions():
    # GRPOTrainer: reward_func(prompts=..., completions=..., completion_ids=..., **columns), where
    # columns are every dataset column but "prompt", one value per completion; newer versions add
    # trainer_state. The function's __name__ names the logged metric.
    reward = rewards.math_reward
    out = reward(
        prompts=["What is 1/2 + 0?"] * 3,
        completions=["\\boxed{\\frac{1}{2}}", "\\boxed{0.5}", "\\boxed{2}"],
        completion_ids=[[1, 2], [3], [4]],
        trainer_state=object(),
        answer=["\\frac12"] * 3,
        level=[2, 2, 2],
    )
    assert out == [1.0, 1.0, 0.0]
    assert reward.__name__ == "math_correctness"


def test_trl_adapter_accepts_chat_message_completions_and_solution_columns():
    completions = [
        [{"role": "assistant", "content": "so \\boxed{18}"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "#### 17"}]}],
    ]
    solution = "She makes 9 * 2 = $18.\n#### 18"
    out = rewards.gsm8k_reward(prompts=[[{"role": "user", "content": "q"}]] * 2, completions=completions,
                               solution=[solution, solution])
    assert out == [1.0, 0.0]
    custom = rewards.trl_reward("math", gold_column="target")
    assert custom(prompts=["p"], completions=["\\boxed{x+1}"], target=["1+x"]) == [1.0]
    with pytest.raises(ValueError, match="dataset column"):
        rewards.math_reward(prompts=["p"], completions=["\\boxed{1}"], level=[1])


def test_verl_compute_score_called_like_the_reward_manager():
    # verl's NaiveRewardManager: compute_score(data_source=..., solution_str=..., ground_truth=...,
    # extra_info=...), plus extra keyword arguments in newer versions.
    score = rewards.compute_score(data_source="lighteval/MATH", solution_str="so \\boxed{\\dfrac{9}{7}}",
                                  ground_truth="\\frac{9}{7}", extra_info={"index": 3})
    assert score == 1.0
    assert rewards.compute_score("openai/gsm8k", "#### 72.00", "72") == 1.0
    assert rewards.compute_score("openai/gsm8k", "#### 71", "72", None) == 0.0
    assert rewards.compute_score("HuggingFaceH4/MATH-500", "\\boxed{1 or 2}", "1", sandbox_fusion_url=None) == 0.0
    assert rewards.compute_score("numina_math", "\\boxed{3}", ["2", "3"]) == 1.0


def test_rewards_work_from_worker_threads():
    from concurrent.futures import ThreadPoolExecutor

    jobs = [("\\boxed{\\mathfrak{x}}", "\\mathfrak{x}"), ("\\boxed{2}", "2"), ("\\boxed{3}", "2")] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        out = list(pool.map(lambda j: rewards.correctness_reward(j[0], j[1], task="math"), jobs))
    assert out == [1.0, 1.0, 0.0] * 4
    assert gsm8k.grade("#### 2", "2").correct
