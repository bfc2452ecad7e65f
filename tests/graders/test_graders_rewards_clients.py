"""evalkit's rewards called by the real trainers: verl 0.9.1's loader and reward managers, its main_eval
Ray task and reward-loop remote manager, Ray tasks, and OpenRLHF 0.11.2's reward_func loader.

Each client runs in a child process (tests/graders/reward_clients.py) whose working directory is a
temporary one, not the checkout, and whose path holds the trainer's unpacked wheel
(tests/graders/wheel_source.py). Rows (reward_clients.ROWS): a MATH answer, a GSM8K answer written
`72.00`, a wrong GSM8K answer, an AIME answer whose ground truth is a numpy array of accepted answers,
and a MATH-500 answer that restates the question given in `extra_info["question"]`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reward_clients import EXPECTED
from wheel_source import source_root

HERE = Path(__file__).resolve().parent
DAPO = [1.0, 1.0, -1.0, 1.0, -1.0]  # wrong_reward=-1.0
PREDICTIONS = ["\\dfrac{9}{7}", "72", "71", "033", "123 \\times 456"]


def run_client(which: str, project: str, tmp_path: Path, timeout: float = 300) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(source_root(project)), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
           "RAY_USAGE_STATS_ENABLED": "0", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, str(HERE / "reward_clients.py"), which], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(results["cwd"]).resolve() == tmp_path.resolve()
    return results


def value(results: dict[str, Any], key: str) -> Any:
    got = results[key]
    assert "value" in got, f"{key}: {got.get('error')}: {got.get('message')}\n{got.get('trace')}"
    return got["value"]


@pytest.fixture(scope="module")
def verl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_client("verl", "verl", tmp_path_factory.mktemp("verl-cwd"))


@pytest.mark.parametrize("loader", ["file", "pkg"])
def test_verl_managers_score_real_batches(verl: dict[str, Any], loader: str):
    # Loaded by path under verl's random module name or as pkg://graders.rewards, the function pickles
    # by reference to an importable module (prime ships it to its ProcessPoolExecutor).
    assert verl[f"{loader}/raw_module"] == "graders.reward_functions"
    assert value(verl, f"{loader}/naive") == EXPECTED
    assert value(verl, f"{loader}/prime") == {"scores": EXPECTED, "acc": EXPECTED}
    dapo = value(verl, f"{loader}/dapo")  # reward_kwargs wrong_reward=-1.0 and return_dict=True
    assert dapo == {"scores": DAPO, "acc": [s > 0 for s in EXPECTED], "pred": PREDICTIONS}
    batch = value(verl, f"{loader}/batch")  # reward_model.reward_kwargs reach compute_score_batch
    assert batch == {"scores": DAPO, "pred": PREDICTIONS}
    assert value(verl, f"{loader}/loop_naive") == EXPECTED
    assert value(verl, f"{loader}/loop_dapo") == EXPECTED


def test_verl_infrastructure_problems_stop_the_run_instead_of_scoring_zero(verl: dict[str, Any]):
    # prime catches every Exception of a reward call and scores it 0.0; RewardSetupError passes through.
    for key in ("unknown/prime", "unknown/naive"):
        assert verl[key]["error"] == "RewardSetupError", verl[key]
        assert verl[key]["message"].startswith("unknown data_source 'my_dataset': evalkit's rewards know openai/gsm8k")
        assert "set the reward option task=math, gsm8k or code" in verl[key]["message"]
    assert verl["bad_option/prime"]["error"] == "RewardSetupError"
    assert verl["bad_option/prime"]["message"].startswith("unknown reward option(s) timeout;")


def test_verl_main_eval_parquet_golds_arrive_as_numpy_arrays(verl: dict[str, Any]):
    assert value(verl, "parquet") == {"gold_type": "ndarray", "scores": [1.0, 0.0]}


def test_ray_tasks_main_eval_and_the_remote_reward_loop(tmp_path: Path):
    ray = run_client("ray", "verl", tmp_path)
    assert ray["node_ip"] == "127.0.0.1"
    assert value(ray, "task/compute_score") == 1.0
    assert value(ray, "task/math_reward") == [1.0, 0.0]
    assert value(ray, "task/reward_func") == {"rewards": [1.0], "scores": [1.0]}
    assert ray["task/unknown"]["error"] == "RayTaskError(RewardSetupError)"
    assert "unknown data_source 'my_dataset'" in ray["task/unknown"]["trace"]
    for loader in ("file", "pkg"):
        assert value(ray, f"{loader}/loop_remote") == EXPECTED  # compute_score pickled into a Ray actor
        assert value(ray, f"{loader}/main_eval") == ["lighteval/MATH", 0.5]


def test_openrlhf_loads_reward_func_from_the_file_and_rewards_a_generation(tmp_path: Path):
    got = run_client("openrlhf", "openrlhf", tmp_path)
    assert got["rewards.py/reward_func_module"] == "graders.reward_functions"
    assert value(got, "rewards.py/right") == {"reward": [1.0], "scores": [1.0], "extra_logs": {"math_accuracy": 1.0}}
    assert value(got, "rewards.py/wrong") == {"reward": [0.0], "scores": [0.0], "extra_logs": {"math_accuracy": 0.0}}
    assert value(got, "rewards.py/gsm8k")["reward"] == [1.0]
    # A file of the user's own: `reward_func = OpenRLHFReward(task="gsm8k", wrong_reward=-1.0)`.
    assert value(got, "gsm8k_reward.py/wrong") == {"reward": [-1.0], "scores": [0.0],
                                                   "extra_logs": {"gsm8k_accuracy": 0.0}}
    # OpenRLHF logs a failed reward call at info level and trains on without a reward; ours stops it.
    assert got["rewards.py/no_label"]["error"] == "RewardSetupError"
    assert got["rewards.py/no_label"]["message"].startswith("ground_truth is None")
