"""Reward functions over the graders: one verdict for evaluation, evalkit's trainer, TRL, verl and OpenRLHF.

A reward is the grader's verdict as a number: `evalkit run` grades with `graders.math`,
`graders.gsm8k` and the code sandbox, and every reward here calls the very same graders, so a model is
trained on exactly what it is evaluated on. Every reward is a module-level function or an instance of a
module-level class (defined in `graders.reward_functions`), so it pickles by reference into spawned
processes, process pools and Ray tasks; nothing uses signals, so rewards run from any thread or event loop.

- evalkit's trainer: `correctness_reward(s)`, `format_reward`.
- TRL `GRPOTrainer(reward_funcs=...)`: `math_reward`, `gsm8k_reward` or `TRLReward(task, ...)`;
  `AsyncTRLReward` / `async_math_reward` for async reward loops. Called as `f(prompts=, completions=,
  completion_ids=, **dataset_columns)`; the extracted answer and the grader's reason go to TRL's
  completions table through `log_extra`, accuracy and the no-answer rate through `log_metric`.
- verl: `compute_score(data_source, solution_str, ground_truth, extra_info=None, **reward_kwargs)` for the
  naive, dapo, prime and reward-loop managers; `compute_score_batch(data_sources=, solution_strs=,
  ground_truths=, extra_infos=, **reward_kwargs)` for the batch manager. Load them with
  `custom_reward_function.path=pkg://graders.rewards` (any working directory) or with this file's path.
- OpenRLHF: `reward_func(queries, prompts, labels)` (`--remote_rm_url /path/to/graders/rewards.py`), or
  `OpenRLHFReward(task=...)` in a file of your own.

Options (`RewardSettings`: verl's `reward_kwargs`, the adapters' keywords): `task`, `timeout_s`,
`format_bonus`, `wrong_reward` (DAPO's -1) and `return_dict` (verl's `{"score", "acc", "pred"}`). The gold
may be one answer or a list / tuple / numpy array of accepted answers (any one counts). An unknown option,
an unknown data source, a missing gold or a grader that cannot run raises `RewardSetupError`: never a
silent 0.
"""

import importlib.util
import sys
from pathlib import Path

if __name__ != "graders.rewards" and importlib.util.find_spec("graders") is None:
    # Loaded from its file (verl's custom_reward_function.path, OpenRLHF's --remote_rm_url) with evalkit
    # not installed: make the checkout that holds this file importable.
    sys.path.append(str(Path(__file__).resolve().parents[1]))

from graders.reward_functions import (  # noqa: E402
    DATA_SOURCE_PREFIXES,
    DATA_SOURCES,
    GOLD_COLUMNS,
    QUESTION_COLUMNS,
    TASKS,
    AsyncTRLReward,
    OpenRLHFReward,
    RewardItem,
    RewardSettings,
    RewardSetupError,
    TRLReward,
    accepted_answers,
    async_gsm8k_reward,
    async_math_reward,
    completion_text,
    compute_score,
    compute_score_batch,
    correctness_reward,
    correctness_rewards,
    earns_reward,
    format_reward,
    grade_items,
    grader_for,
    gsm8k_reward,
    math_reward,
    prompt_text,
    response_text,
    reward_func,
    task_for_data_source,
    trl_reward,
)

__all__ = [
    "DATA_SOURCES", "DATA_SOURCE_PREFIXES", "GOLD_COLUMNS", "QUESTION_COLUMNS", "TASKS", "AsyncTRLReward",
    "OpenRLHFReward", "RewardItem", "RewardSettings", "RewardSetupError", "TRLReward", "accepted_answers",
    "async_gsm8k_reward", "async_math_reward", "completion_text", "compute_score", "compute_score_batch",
    "correctness_reward", "correctness_rewards", "earns_reward", "format_reward", "grade_items", "grader_for",
    "gsm8k_reward", "math_reward", "prompt_text", "response_text", "reward_func", "task_for_data_source",
    "trl_reward",
]
