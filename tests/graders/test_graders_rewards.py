"""Rewards: plain functions, the TRL / verl / OpenRLHF adapters called as those trainers call them,
options, accepted-answer golds, errors that are never a silent 0, and pickling into other processes.

The trainers' own code calls these in test_graders_rewards_clients.py (verl, Ray, OpenRLHF) and
test_graders_rewards_trl.py (TRL's GRPOTrainer and async worker).
"""

import asyncio
import os
import pickle
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graders import gsm8k, rewards
from graders import math as gm
from graders.rewards import RewardSetupError

REWARDS_FILE = Path(rewards.__file__).resolve()
PUBLIC_REWARDS = [rewards.math_reward, rewards.gsm8k_reward, rewards.async_math_reward, rewards.async_gsm8k_reward,
                  rewards.compute_score, rewards.compute_score_batch, rewards.reward_func,
                  rewards.correctness_reward, rewards.correctness_rewards, rewards.format_reward,
                  rewards.trl_reward("gsm8k", gold_column="target", wrong_reward=-1.0),
                  rewards.OpenRLHFReward("gsm8k", format_bonus=0.1)]


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


# -- TRL ---------------------------------------------------------------------------------------------


class Log:
    """TRL's `log_extra(column, values)` and `log_metric(name, value)` (GRPOTrainer._calculate_rewards)."""

    def __init__(self):
        self.extra, self.metrics = {}, {}

    def log_extra(self, column, values):
        self.extra.setdefault(column, []).extend(values)

    def log_metric(self, name, value):
        self.metrics.setdefault(name, []).append(value)


def test_trl_adapter_called_like_grpo_trainer_with_text_completions():
    # GRPOTrainer: reward_func(prompts=..., completions=..., completion_ids=..., **columns), where columns
    # are every dataset column but "prompt", plus trainer_state, log_extra and log_metric.
    reward, log = rewards.math_reward, Log()
    out = reward(prompts=["What is 1/2 + 0?"] * 3, completions=["\\boxed{\\frac{1}{2}}", "\\boxed{0.5}", "\\boxed{2}"],
                 completion_ids=[[1, 2], [3], [4]], trainer_state=object(), log_extra=log.log_extra,
                 log_metric=log.log_metric, answer=["\\frac12"] * 3, level=[2, 2, 2])
    assert out == [1.0, 1.0, 0.0]
    assert reward.__name__ == "math_correctness"  # TRL logs rewards/math_correctness/mean
    assert log.extra == {"math_correctness/answer": ["\\frac{1}{2}", "0.5", "2"],
                         "math_correctness/reason": ["equal", "equal", "different"]}
    assert log.metrics == {"rewards/math_correctness/accuracy": [2 / 3], "rewards/math_correctness/no_answer": [0.0]}


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
    with pytest.raises(RewardSetupError, match="needs the gold answer in a dataset column"):
        rewards.math_reward(prompts=["p"], completions=["\\boxed{1}"], level=[1])


def test_trl_adapter_passes_the_question_so_restating_it_earns_nothing():
    chat = [[{"role": "system", "content": "Box the answer."},
             {"role": "user", "content": "Compute $123 \\times 456$."}]]
    assert rewards.math_reward(prompts=chat, completions=["\\boxed{123 \\times 456}"], answer=["56088"]) == [0.0]
    assert rewards.math_reward(prompts=chat, completions=["\\boxed{56088}"], answer=["56088"]) == [1.0]
    # A question column wins over the prompt (the prompt may hold few-shot examples).
    assert rewards.math_reward(prompts=["Some other text."], completions=["\\boxed{2^{10}}"], answer=["1024"],
                               question=["What is $2^{10}$?"]) == [0.0]


def test_trl_options_wrong_reward_and_format_bonus():
    reward = rewards.trl_reward("gsm8k", wrong_reward=-1.0, format_bonus=0.25, name="gsm8k_dapo")
    log = Log()
    completions = ["<think>x</think> \\boxed{5}", "#### 5", "<think>x</think> \\boxed{4}"]
    out = reward(prompts=["q"] * 3, completions=completions, gold=["5"] * 3, log_metric=log.log_metric)
    assert out == [1.25, 1.0, -0.75]
    assert reward.__name__ == "gsm8k_dapo"
    assert log.metrics["rewards/gsm8k_dapo/accuracy"] == [2 / 3]
    with pytest.raises(RewardSetupError, match="wrong_reward='-1' must be a finite number"):
        rewards.trl_reward("gsm8k", wrong_reward="-1")
    with pytest.raises(RewardSetupError, match="task='chemistry' is not a grader"):
        rewards.TRLReward("chemistry")


def test_async_trl_reward_is_a_coroutine_trl_awaits():
    from trl.trainer.utils import get_callable_name, is_async_callable

    assert is_async_callable(rewards.async_math_reward) and not is_async_callable(rewards.math_reward)
    assert get_callable_name(rewards.async_math_reward) == get_callable_name(rewards.math_reward) == "math_correctness"
    out = asyncio.run(rewards.async_math_reward(prompts=["p"] * 2, completions=["\\boxed{3}", "\\boxed{4}"],
                                                answer=["3", "3"]))
    assert out == [1.0, 0.0]


# -- verl --------------------------------------------------------------------------------------------


def test_verl_compute_score_called_like_the_reward_managers():
    # NaiveRewardManager: compute_score(data_source=, solution_str=, ground_truth=, extra_info=); prime: the
    # same four positionally; reward-loop managers with a router add reward_router_address and
    # reward_model_tokenizer.
    score = rewards.compute_score(data_source="lighteval/MATH", solution_str="so \\boxed{\\dfrac{9}{7}}",
                                  ground_truth="\\frac{9}{7}", extra_info={"index": 3, "num_turns": None})
    assert score == 1.0
    assert rewards.compute_score("openai/gsm8k", "#### 72.00", "72") == 1.0
    assert rewards.compute_score("openai/gsm8k", "#### 71", "72", None) == 0.0
    assert rewards.compute_score("HuggingFaceH4/MATH-500", "\\boxed{1 or 2}", "1", reward_router_address=None,
                                 reward_model_tokenizer=None) == 0.0
    assert rewards.compute_score("aime2025", "\\boxed{033}", 33) == 1.0
    assert rewards.compute_score("OPENAI/GSM8K", "#### 5", "5.0") == 1.0


@pytest.mark.parametrize("golds", [
    ["2", "3"], ("2", "3"), np.array(["2", "3"]), np.array(["2", "3"], dtype=object), pd.Series(["2", "3"]),
    np.array([2, 3]), [np.str_("2"), np.int64(3)], [["2"], ["3"]],
])
def test_any_accepted_answer_counts(golds):
    assert rewards.compute_score("numina_math", "\\boxed{3}", golds, task="math") == 1.0
    assert rewards.compute_score("numina_olympiads", "\\boxed{4}", golds) == 0.0


def test_a_numpy_gold_is_never_graded_as_its_repr():
    gold = np.array(["\\frac12"])
    assert str(gold) == "['\\\\frac12']"
    assert rewards.compute_score("lighteval/MATH", "\\boxed{0.5}", gold) == 1.0
    assert rewards.compute_score("lighteval/MATH", "\\boxed{0.5}", np.float64(0.5)) == 1.0
    assert rewards.compute_score("openai/gsm8k", "#### 72", np.float64(72.0)) == 1.0


def test_verl_options_and_the_dict_return():
    assert rewards.compute_score("openai/gsm8k", "#### 71", "72", wrong_reward=-1.0) == -1.0
    assert rewards.compute_score("openai/gsm8k", "#### 71", "72", return_dict=True) == \
        {"score": 0.0, "acc": False, "pred": "71"}
    assert rewards.compute_score("lighteval/MATH", "<think>..</think>\\boxed{7}", "7", format_bonus=0.5,
                                 return_dict=True) == {"score": 1.5, "acc": True, "pred": "7"}
    assert rewards.compute_score("my_dataset", "\\boxed{7}", "7", task="math") == 1.0
    scores = rewards.compute_score_batch(data_sources=["openai/gsm8k", "lighteval/MATH"],
                                         solution_strs=["#### 3", "\\boxed{x^2}"], ground_truths=["3", "x^{2}"],
                                         extra_infos=[{}, {}], timeout_s=2.0)
    assert scores == [1.0, 1.0]


@pytest.mark.parametrize(("call", "message"), [
    (lambda: rewards.compute_score("codecontests_v2", "x", "1"), "unknown data_source 'codecontests_v2'"),
    (lambda: rewards.compute_score("searchR1_nq", "x", "1"), "unknown data_source 'searchR1_nq'"),
    (lambda: rewards.compute_score("math", "x", "1", timeout=3), r"unknown reward option\(s\) timeout;"),
    (lambda: rewards.compute_score("math", "x", "1", sandbox_fusion_url="http://x"),
     r"unknown reward option\(s\) sandbox_fusion_url"),
    (lambda: rewards.compute_score("math", "x", "1", timeout_s=0), "timeout_s=0 must be positive"),
    (lambda: rewards.compute_score("math", "x", "1", timeout_s=float("nan")), "must be a finite number"),
    (lambda: rewards.compute_score("math", "x", "1", return_dict="yes"), "return_dict='yes' must be true or false"),
    (lambda: rewards.compute_score("math", "x", "1", task="physics"), "task='physics' is not a grader"),
    (lambda: rewards.compute_score("math", "x", None), "ground_truth is None"),
    (lambda: rewards.compute_score("math", "x", []), "ground_truth is empty"),
    (lambda: rewards.compute_score("math", "x", np.array([])), "ground_truth is empty"),
    (lambda: rewards.compute_score("math", "x", float("nan")), "ground_truth is nan"),
    (lambda: rewards.compute_score("math", "x", {"target": "1"}), "ground_truth is a mapping"),
    (lambda: rewards.compute_score_batch(["math"], ["a", "b"], ["1", "1"]), "1 data sources, 2 responses"),
])
def test_setup_problems_raise_one_line_never_a_score(call, message):
    with pytest.raises(RewardSetupError, match=message) as caught:
        call()
    assert "\n" not in str(caught.value)
    assert not isinstance(caught.value, Exception)  # passes through `except Exception` in trainers


def test_a_grader_that_cannot_start_is_a_setup_error(monkeypatch):
    monkeypatch.setenv("EVALKIT_GRADER_WORKERS", "abc")
    with pytest.raises(RewardSetupError, match="EVALKIT_GRADER_WORKERS must be a positive integer"):
        rewards.compute_score("lighteval/MATH", "\\boxed{1}", "1")
    with pytest.raises(RewardSetupError, match="EVALKIT_GRADER_WORKERS"):
        rewards.math_reward(prompts=["p"], completions=["\\boxed{1}"], answer=["1"])


# -- OpenRLHF ----------------------------------------------------------------------------------------


def test_openrlhf_response_is_the_query_after_the_prompt_without_closing_special_tokens():
    prompt = "<|im_start|>user\nWhat is 3?<|im_end|>\n<|im_start|>assistant\n"
    assert rewards.response_text(prompt + "It is \\boxed{3}.<|im_end|><|endoftext|>", prompt) == "It is \\boxed{3}."
    assert rewards.response_text("Q:  x\nA: #### 4</s>", "Q: x\nA: ") == "Q:  x\nA: #### 4"
    assert rewards.response_text("Question: x?\nAnswer: #### 4<eos><pad><pad>", "Question: x?\nAnswer:") == " #### 4"
    out = rewards.reward_func([prompt + "\\boxed{3}<|im_end|>", prompt + "\\boxed{4}<|im_end|>"], [prompt] * 2,
                              ["3", np.array(["2", "4"])])
    assert out["rewards"].tolist() == [1.0, 1.0] and out["scores"].tolist() == [1.0, 1.0]
    assert set(out["extra_logs"]) == {"math_accuracy"}


# -- pickling and other processes --------------------------------------------------------------------


@pytest.mark.parametrize("reward", PUBLIC_REWARDS, ids=lambda r: getattr(r, "__name__", type(r).__name__))
def test_every_reward_pickles_by_reference(reward):
    data = pickle.dumps(reward)
    assert b"graders.reward_functions" in data and len(data) < 400
    again = pickle.loads(data)
    assert again is reward or again == reward


def test_rewards_work_in_a_fresh_process_from_another_directory(tmp_path):
    script = textwrap.dedent("""
        import pickle, sys
        rewards = pickle.loads(sys.stdin.buffer.read())
        math_reward, compute_score, batch, reward_func = rewards
        print(math_reward(prompts=["p"], completions=["\\\\boxed{2}"], answer=["2"]),
              compute_score("openai/gsm8k", "#### 3", "3"),
              batch(["aime24"], ["\\\\boxed{7}"], [["6", "7"]]),
              reward_func(["q \\\\boxed{1}"], ["q "], ["1"])["scores"].tolist())
    """)
    payload = pickle.dumps([rewards.math_reward, rewards.compute_score, rewards.compute_score_batch,
                            rewards.reward_func])
    done = subprocess.run([sys.executable, "-c", script], input=payload, capture_output=True, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["[1.0]", "1.0", "[1.0]", "[1.0]"]


def test_the_file_loads_by_path_without_evalkit_installed_and_still_pickles(tmp_path):
    # verl's load_module / OpenRLHF: spec_from_file_location(<a name of theirs>, path), not in sys.modules.
    script = textwrap.dedent(f"""
        import importlib.util, pickle, sys
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
        sys.path[:] = [p for p in sys.path if p and not p.startswith({str(REWARDS_FILE.parents[1])!r})]
        assert importlib.util.find_spec("graders") is None, "graders must not be importable yet"
        spec = importlib.util.spec_from_file_location("custom_module_1234", {str(REWARDS_FILE)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        fn = pickle.loads(pickle.dumps(module.compute_score))
        print(fn is sys.modules["graders.reward_functions"].compute_score, fn("gsm8k", "#### 5", "5"))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["True", "1.0"]


def test_rewards_work_from_worker_threads_and_event_loop_executors():
    jobs = [("\\boxed{\\mathfrak{x}}", "\\mathfrak{x}"), ("\\boxed{2}", "2"), ("\\boxed{3}", "2")] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        out = list(pool.map(lambda j: rewards.compute_score("math", j[0], j[1]), jobs))
    assert out == [1.0, 1.0, 0.0] * 4
    assert gsm8k.grade("#### 2", "2").correct

    async def main():
        loop = asyncio.get_running_loop()
        direct = await asyncio.gather(*(loop.run_in_executor(None, rewards.compute_score, "math", c, g)
                                        for c, g in jobs))
        threaded = await asyncio.gather(*(asyncio.to_thread(rewards.math_reward, prompts=["p"], completions=[c],
                                                            answer=[g]) for c, g in jobs))
        awaited = await rewards.async_math_reward(prompts=["p"] * len(jobs), completions=[c for c, _ in jobs],
                                                  answer=[g for _, g in jobs])
        return direct, [t[0] for t in threaded], awaited

    direct, threaded, awaited = asyncio.run(main())
    assert direct == threaded == awaited == [1.0, 1.0, 0.0] * 4


def test_the_readme_documents_every_option_and_data_source():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Rewards in TRL, verl and OpenRLHF", 1)[1].split("\n## ", 1)[0]
    from dataclasses import fields

    for option in fields(rewards.RewardSettings):
        assert f"| `{option.name}` |" in section
    for name in rewards.DATA_SOURCES:
        assert f"`{name}`" in section or (name.startswith("numina_") and "`numina_*`" in section), name
    for recipe in ("custom_reward_function.path=pkg://graders.rewards", "custom_reward_function.name=compute_score",
                   "`compute_score_batch`", "--remote_rm_url", "python -m evalkit.export smollm2-135m",
                   "rewards/math_correctness/mean", "rewards/math_correctness/accuracy", "async_math_reward"):
        assert recipe in section, recipe


def test_timeout_s_reaches_the_grader(monkeypatch):
    seen = []
    real = gm.grade_batch

    def spy(*args, **kwargs):
        seen.append(kwargs.get("timeout_s"))
        return real(*args, **kwargs)

    monkeypatch.setattr(gm, "grade_batch", spy)
    rewards.compute_score("lighteval/MATH", "\\boxed{1}", "1", timeout_s=2.5)
    rewards.trl_reward("math", timeout_s=0.75)(prompts=["p"], completions=["\\boxed{1}"], answer=["1"])
    rewards.OpenRLHFReward(timeout_s=3)(["q \\boxed{1}"], ["q "], ["1"])
    rewards.compute_score("lighteval/MATH", "\\boxed{1}", "1")
    assert seen == [2.5, 0.75, 3, 1.0]  # the last: the math grader's own default


def test_task_may_name_any_registered_grader(monkeypatch):
    from graders.protocol import GRADERS
    from graders.verdict import Verdict

    class ExactGrader:  # a plugin's answer grader: the grader protocol over `Reference`s
        version = "exact@1"

        def __init__(self, timeout_s: float = 1.0) -> None:
            self.timeout_s = timeout_s

        def grade_batch(self, completions, references):
            pairs = zip(completions, references, strict=True)
            return [Verdict(c.strip() == r.gold, c.strip(), "exact") for c, r in pairs]

        def same_answer(self, a, b):
            return a == b

    monkeypatch.setitem(GRADERS._targets, "exact", ExactGrader)
    assert rewards.compute_score("my_dataset", " Paris ", ["Lyon", "Paris"], task="exact") == 1.0
    assert rewards.trl_reward("exact")(prompts=["p"], completions=["paris"], answer=["Paris"]) == [0.0]
    with pytest.raises(RewardSetupError, match="unknown grader 'exakt'; did you mean 'exact'"):
        rewards.compute_score("my_dataset", "Paris", "Paris", task="exakt")
