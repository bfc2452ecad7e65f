"""The toy experiment's summary statistics, and one miniature run of the whole script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.train.experiment import ExperimentConfig, mean_std, run, steps_to_fraction, summarize


def test_steps_to_ninety_percent_of_final():
    assert steps_to_fraction([(0, 0.2), (10, 0.5), (20, 0.62), (30, 0.6)]) == 20  # 0.9 x 0.6 = 0.54
    assert steps_to_fraction([(0, 0.7), (10, 0.6)]) == 0  # already there at the start


def test_mean_std_over_seeds_skips_missing_values():
    assert mean_std([0.2, 0.4, None]) == pytest.approx((0.3, 0.1414213), rel=1e-5)
    assert mean_std([0.5]) == (0.5, 0.0)


def synthetic(acc: list[float], clip: float) -> list[dict]:
    lines = [{"step": 0, "heldout_accuracy": acc[0]}]
    for i, a in enumerate(acc[1:], start=1):
        lines.append({"step": i * 10, "heldout_accuracy": a, "entropy": 0.5 - 0.01 * i, "clip_low": clip,
                      "clip_high": clip, "kl": 0.01 * i, "accuracy": a, "zero_variance_frac": 0.1,
                      "gen_rounds": 1, "time_generation_s": 0.1, "time_reward_s": 0.0, "time_update_s": 0.2})
    return lines


def test_summary_gain_and_curves():
    runs = {"grpo": {0: synthetic([0.2, 0.4, 0.5], 0.0), 1: synthetic([0.6, 0.7, 0.8], 0.0)},
            "gspo": {0: synthetic([0.2, 0.3, 0.3], 0.2), 1: synthetic([0.6, 0.6, 0.7], 0.2)}}
    s = summarize(runs)
    assert s["grpo"]["final_accuracy"] == pytest.approx((0.65, mean_std([0.5, 0.8])[1]))
    assert s["grpo"]["gain"][0] == pytest.approx(0.25)
    assert s["grpo"]["heldout_gain"][-1][0] == pytest.approx(0.25)
    assert s["gspo"]["clip_fraction"][0] == pytest.approx(0.4)
    assert s["grpo"]["steps"] == [0, 10, 20]
    assert s["gspo"]["clip_fraction_curve"] == [pytest.approx([0.4, 0.0]), pytest.approx([0.4, 0.0])]


@pytest.mark.slow
def test_miniature_experiment_writes_report_and_resumes(tmp_path: Path):
    cfg = ExperimentConfig(output=tmp_path, algos=("grpo", "mpo"), seeds=1, digits=1, hidden=32, layers=1,
                           sft_max_steps=20, sft_chunk=10, sft_batch_size=16, steps=2, prompts_per_step=4,
                           group_size=4, epochs=1, minibatches=2, eval_every=1, eval_size=4, loss={"mpo": {"k": 2}},
                           critic_steps=3)
    summary = run(cfg, log=lambda text: None)
    assert set(summary) == {"grpo", "mpo"}
    report = (tmp_path / "report.md").read_text()
    assert "| grpo |" in report and "| mpo |" in report and "Importance-ratio variance" in report
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["algorithms"]["mpo"]["steps"] == [0, 1, 2, 3]  # the critic-based arm's own step count
    mpo_run = json.loads((tmp_path / "mpo" / "seed0" / "train_config.json").read_text())
    assert (mpo_run["group_size"], mpo_run["prompts_per_step"]) == (1, 16)  # G = 1, same completions per step
    assert len(data["algorithms"]["mpo"]["ratio_var_curve"]) == 3
    metrics = tmp_path / "grpo" / "seed0" / "metrics.jsonl"
    before = metrics.stat().st_mtime_ns
    run(cfg, log=lambda text: None)  # finished runs are read back, not retrained
    assert metrics.stat().st_mtime_ns == before
