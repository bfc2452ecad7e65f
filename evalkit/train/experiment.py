"""CPU-scale comparison of the seven algorithms on multi-digit addition.

    python -m evalkit.train.experiment --output runs/toy-addition          # 7 algorithms x 3 seeds
    python -m evalkit.train.experiment --algos ppo,mpo                     # the critic-based pair only

A 2-layer Llama (hidden 128, character tokenizer, ~0.4M parameters) is warm-started with supervised
training on `a+b=` -> sum (one warm start per seed, cached in OUTPUT/sft-seedS), then trained from
that start with each algorithm and seed: `prompts_per_step` x G rollouts per step, `epochs` x
`minibatches` updates per rollout (off-policy, so the ratios and clipping of the algorithms matter),
the reward from the shared GSM8K grader, held-out greedy accuracy every `eval_every` steps. PPO and
MPO (on PPO, as its paper runs it) learn a critic and sample one completion per prompt (G = 1) from
`prompts_per_step x group_size` prompts, so every arm trains on the same number of completions per
step; `critic_steps` can shorten their runs. Finished runs are reused, so an interrupted experiment
resumes. Writes OUTPUT/report.md, summary.json and curves.png (when matplotlib is installed):
held-out accuracy, the importance ratio's variance and the clip fraction against step (MPO's Fig. 4).

What it can show: the pipeline runs end to end for every algorithm, and the mechanistic signals
(entropy, clip fractions, KL, zero-variance groups) behave as each algorithm's design predicts. What
it cannot show: which algorithm is better on LLM reasoning; a 0.4M-parameter model on a 3-token task
is far from the regime of the papers, and accuracy differences within seed spread are noise.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalkit.train.config import ALGOS, TrainConfig


@dataclass
class ExperimentConfig:
    output: Path = Path("runs/toy-addition")
    algos: tuple[str, ...] = ALGOS
    seeds: int = 3
    digits: int = 2
    hidden: int = 128
    layers: int = 2
    sft_target: float = 0.35  # warm start until greedy accuracy on 256 training problems reaches this
    sft_max_steps: int = 800
    sft_chunk: int = 50
    sft_lr: float = 3e-3
    sft_batch_size: int = 128
    steps: int = 50
    prompts_per_step: int = 16
    group_size: int = 8
    epochs: int = 2
    minibatches: int = 2
    lr: float = 3e-5
    eval_every: int = 10
    eval_size: int = 256
    threads: int = 1
    #: steps of the critic-based arms (ppo, mpo); None = `steps`
    critic_steps: int | None = None
    #: the critic's learning rate is 10x the actor's, as in the MPO paper's Table 5 (1e-5 vs 1e-6)
    loss: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "mpo": {"k": 3, "critic_lr": 3e-4}, "ppo": {"critic_lr": 3e-4}})

    def uses_critic(self, algo: str) -> bool:
        from evalkit.train.losses import make_params

        return make_params(algo, self.loss.get(algo, {})).uses_critic

    def train_config(self, algo: str, seed: int, sft_dir: Path) -> TrainConfig:
        critic = self.uses_critic(algo)
        return TrainConfig(
            algo=algo, model=str(sft_dir), benchmark="addition", addition_digits=self.digits,
            output=str(self.output / algo / f"seed{seed}"), steps=self.arm_steps(algo),
            prompts_per_step=self.prompts_per_step * self.group_size if critic else self.prompts_per_step,
            group_size=1 if critic else self.group_size, epochs=self.epochs, minibatches=self.minibatches, lr=self.lr,
            max_new_tokens=self.digits + 2, eval_every=self.eval_every, eval_size=self.eval_size, seed=seed,
            loss=dict(self.loss.get(algo, {})),
        )

    def arm_steps(self, algo: str) -> int:
        return self.critic_steps if self.critic_steps and self.uses_critic(algo) else self.steps


def warm_start(cfg: ExperimentConfig, seed: int) -> Path:
    """The supervised starting checkpoint for `seed` (trained once, then reused)."""
    from evalkit.train.tasks import AdditionTask
    from evalkit.train.toy import char_tokenizer, supervised_warm_start, tiny_llama

    path = cfg.output / f"sft-seed{seed}"
    if (path / "config.json").is_file():
        return path
    import torch

    from evalkit.train.rollout import HFGenerator
    from evalkit.train.trainer import evaluate

    tokenizer = char_tokenizer()
    model = tiny_llama(tokenizer, hidden=cfg.hidden, layers=cfg.layers, context=4 * cfg.digits + 8, seed=seed)
    task = AdditionTask(digits=cfg.digits)
    probe = ProbeTask(task.train_examples()[:256])
    probe_cfg = TrainConfig(benchmark="addition", max_new_tokens=cfg.digits + 2, eval_size=256)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.sft_lr, weight_decay=0.0)
    losses: list[float] = []
    accuracy = 0.0
    while len(losses) < cfg.sft_max_steps and accuracy < cfg.sft_target:
        losses += supervised_warm_start(model, tokenizer, task.train_examples(), steps=cfg.sft_chunk,
                                        batch_size=cfg.sft_batch_size, lr=cfg.sft_lr, seed=seed * 7919 + len(losses),
                                        decay=False, optimizer=optimizer)
        accuracy = evaluate(HFGenerator(model, tokenizer), probe, probe_cfg)["heldout_accuracy"]
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    state = {"steps": len(losses), "train_probe_accuracy": accuracy, "losses": losses}
    (path / "sft_state.json").write_text(json.dumps(state), encoding="utf-8")
    return path


class ProbeTask:
    """Training problems as a held-out set: the warm start's stopping criterion never sees the test problems."""

    reward_task = "gsm8k"
    add_special_tokens = False

    def __init__(self, examples: Sequence[Any]) -> None:
        self.examples = list(examples)

    def heldout_examples(self) -> Sequence[Any]:
        return self.examples

    def rewards(self, completions: Sequence[str], golds: Sequence[str]) -> list[float]:
        from graders.rewards import correctness_rewards

        return correctness_rewards(list(completions), list(golds), task=self.reward_task)


def run_one(cfg: ExperimentConfig, algo: str, seed: int, sft_dir: Path, log=print) -> list[dict[str, Any]]:
    """Train one (algorithm, seed) from its warm start; a finished run's metrics are read back instead."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalkit.train.tasks import AdditionTask
    from evalkit.train.trainer import train

    train_cfg = cfg.train_config(algo, seed, sft_dir)
    metrics = Path(train_cfg.output) / "metrics.jsonl"
    if metrics.is_file():
        lines = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if line.strip()]
        if lines and lines[-1].get("step") == train_cfg.steps and "heldout_accuracy" in lines[-1]:
            return lines
    model = AutoModelForCausalLM.from_pretrained(sft_dir)
    tokenizer = AutoTokenizer.from_pretrained(sft_dir)
    return train(train_cfg, model, tokenizer, AdditionTask(digits=cfg.digits),
                 log=lambda line: log(f"[{algo} seed {seed}] {line}") if "heldout" in line else None)


# ----------------------------------------------------------------------------- summary


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def steps_to_fraction(evals: Sequence[tuple[int, float]], fraction: float = 0.9) -> int:
    """First evaluated step whose held-out accuracy reaches `fraction` of the final accuracy."""
    final = evals[-1][1]
    return next(step for step, acc in evals if acc >= fraction * final)


def summarize(runs: dict[str, dict[int, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Per algorithm: curves (mean and std over seeds at each evaluated step) and scalar summaries."""
    summary: dict[str, Any] = {}
    for algo, by_seed in runs.items():
        evals = {s: [(e["step"], e["heldout_accuracy"]) for e in lines if "heldout_accuracy" in e]
                 for s, lines in by_seed.items()}
        steps = [step for step, _ in next(iter(evals.values()))]
        per_step = {s: {e["step"]: e for e in lines} for s, lines in by_seed.items()}
        train_lines = [e for lines in by_seed.values() for e in lines if e["step"] > 0]

        def curve(key: str, seeds_lines=per_step, steps=steps) -> list[list[float]]:
            return [list(mean_std([seeds_lines[s].get(step, {}).get(key) for s in seeds_lines])) for step in steps]

        def windows(key: str, seeds_lines=per_step, steps=steps) -> list[list[float]]:
            """Per evaluated step after the first: the mean of `key` over the steps since the previous one."""
            out = []
            for lo, hi in zip(steps[:-1], steps[1:], strict=True):
                per_seed = [statistics.fmean(v) for v in ([lines[st].get(key) for st in range(lo + 1, hi + 1)
                                                           if st in lines and lines[st].get(key) is not None]
                                                          for lines in seeds_lines.values()) if v]
                out.append(list(mean_std(per_seed)))
            return out

        for lines in per_step.values():  # clip fraction per step, both sides
            for st, e in lines.items():
                if st > 0 and "clip_low" in e:
                    lines[st] = {**e, "clip_fraction": e.get("clip_low", 0.0) + e.get("clip_high", 0.0)}

        for lines in per_step.values():  # accuracy gained since the warm start, per seed
            start_acc = lines[steps[0]]["heldout_accuracy"]
            for step in steps:
                lines[step] = {**lines[step], "heldout_gain": lines[step]["heldout_accuracy"] - start_acc}
        finals = [ev[-1][1] for ev in evals.values()]
        starts = [ev[0][1] for ev in evals.values()]
        summary[algo] = {
            "seeds": sorted(by_seed),
            "steps": steps,
            "heldout_accuracy": curve("heldout_accuracy"),
            "heldout_gain": curve("heldout_gain"),
            "entropy": curve("entropy"),
            "final_accuracy": mean_std(finals),
            "start_accuracy": mean_std(starts),
            "gain": mean_std([f - s for f, s in zip(finals, starts, strict=True)]),
            "steps_to_90pct": mean_std([steps_to_fraction(ev) for ev in evals.values()]),
            "clip_fraction": mean_std([e.get("clip_low", 0.0) + e.get("clip_high", 0.0) for e in train_lines]),
            "ratio_var": mean_std([e.get("ratio_var") for e in train_lines]),
            "ratio_var_curve": windows("ratio_var"),
            "clip_fraction_curve": windows("clip_fraction"),
            "clip_high": mean_std([e.get("clip_high") for e in train_lines]),
            "kl_final": mean_std([per_step[s][steps[-1]].get("kl") for s in per_step]),
            "entropy_final": mean_std([per_step[s][steps[-1]].get("entropy") for s in per_step]),
            "train_accuracy": mean_std([e.get("accuracy") for e in train_lines]),
            "zero_variance_frac": mean_std([e.get("zero_variance_frac") for e in train_lines]),
            "gen_rounds": mean_std([e.get("gen_rounds") for e in train_lines]),
            "step_time_s": mean_std([e.get("time_generation_s", 0) + e.get("time_reward_s", 0)
                                     + e.get("time_update_s", 0) for e in train_lines]),
        }
    return summary


def fmt(pair: Sequence[float], spec: str = ".3f") -> str:
    mean, std = pair
    return "n/a" if math.isnan(mean) else f"{mean:{spec}} ± {std:{spec}}"


def write_report(cfg: ExperimentConfig, summary: dict[str, Any], train_s: float) -> Path:
    algos = list(summary)
    lines = [
        "# Toy RL comparison: multi-digit addition on CPU",
        "",
        f"{cfg.digits}-digit addition, a {cfg.layers}-layer Llama (hidden {cfg.hidden}), supervised warm start "
        f"per seed (until {cfg.sft_target:.0%} greedy accuracy on training problems), "
        f"then {cfg.steps} RL steps of {cfg.prompts_per_step} prompts x "
        f"{cfg.group_size} samples (critic-based arms: {cfg.prompts_per_step * cfg.group_size} prompts x 1 sample, "
        f"{cfg.critic_steps or cfg.steps} steps) with {cfg.epochs * cfg.minibatches} updates per rollout "
        f"({cfg.epochs} epochs x {cfg.minibatches} mini-batches), lr {cfg.lr}, reward from the shared GSM8K grader. "
        f"Held-out: {cfg.eval_size} fixed problems, greedy decoding. Seeds: {cfg.seeds}. "
        f"Values are mean ± std over seeds. RL time summed over all runs (generation, reward, update, "
        f"evaluation; warm starts excluded): {train_s / 60:.1f} min.",
        "",
        "| algorithm | held-out acc, start | final | gain | steps to 90% of final | mean clip fraction "
        "| mean ratio variance | entropy, final | KL to start, final | zero-variance groups | s / step |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for algo in algos:
        s = summary[algo]
        lines.append(f"| {algo} | {fmt(s['start_accuracy'])} | {fmt(s['final_accuracy'])} | {fmt(s['gain'])} | "
                     f"{fmt(s['steps_to_90pct'], '.0f')} | {fmt(s['clip_fraction'], '.4f')} | "
                     f"{fmt(s['ratio_var'], '.2e')} | {fmt(s['entropy_final'])} | {fmt(s['kl_final'], '.4f')} | "
                     f"{fmt(s['zero_variance_frac'], '.2f')} | {fmt(s['step_time_s'], '.2f')} |")
    for key, title, spec, per_window in (
            ("heldout_accuracy", "Held-out accuracy against step", ".3f", False),
            ("heldout_gain", "Held-out accuracy gained since the warm start (per seed, then mean ± std)", ".3f", False),
            ("entropy", "Token entropy of rollouts against step", ".3f", False),
            ("ratio_var_curve", "Importance-ratio variance (mean over the steps up to each)", ".2e", True),
            ("clip_fraction_curve", "Clip fraction (mean over the steps up to each)", ".4f", True)):
        longest = max(algos, key=lambda a: len(summary[a]["steps"]))
        steps = summary[longest]["steps"][1:] if per_window else summary[longest]["steps"]
        lines += ["", f"## {title}", "", "| step | " + " | ".join(algos) + " |", "|---" * (len(algos) + 1) + "|"]
        for i, step in enumerate(steps):
            cells = [fmt(summary[a][key][i], spec) if i < len(summary[a][key]) else "" for a in algos]
            lines.append(f"| {step} | " + " | ".join(cells) + " |")
    lines += ["", "Per-run metrics: `<algo>/seed<S>/metrics.jsonl`; these tables: `summary.json`."]
    report = cfg.output / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report


def plot(cfg: ExperimentConfig, summary: dict[str, Any]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    keys = ("heldout_accuracy", "heldout_gain", "entropy", "ratio_var_curve", "clip_fraction_curve")
    fig, axes = plt.subplots(1, 5, figsize=(25, 4))
    for algo, s in summary.items():
        for ax, key in zip(axes, keys, strict=True):
            x = s["steps"][1:] if key.endswith("_curve") else s["steps"]
            points = [(st, m, sd) for st, (m, sd) in zip(x, s[key], strict=True) if not math.isnan(m)]
            steps, mean, std = [p[0] for p in points], [p[1] for p in points], [p[2] for p in points]
            ax.plot(steps, mean, label=algo)
            ax.fill_between(steps, [m - d for m, d in zip(mean, std, strict=True)],
                            [m + d for m, d in zip(mean, std, strict=True)], alpha=0.15)
    axes[0].set(title="held-out greedy accuracy", xlabel="RL step")
    axes[1].set(title="held-out accuracy gained since warm start", xlabel="RL step")
    axes[2].set(title="rollout token entropy", xlabel="RL step")
    axes[3].set(title="importance-ratio variance", xlabel="RL step", yscale="log")
    axes[4].set(title="clip fraction", xlabel="RL step")
    axes[0].legend()
    path = cfg.output / "curves.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(cfg: ExperimentConfig, log=print) -> dict[str, Any]:
    import torch

    torch.set_num_threads(cfg.threads)
    cfg.output.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {a: {} for a in cfg.algos}
    for seed in range(cfg.seeds):
        sft_dir = warm_start(cfg, seed)
        for algo in cfg.algos:
            runs[algo][seed] = run_one(cfg, algo, seed, sft_dir, log=log)
    summary = summarize(runs)
    time_keys = ("time_generation_s", "time_reward_s", "time_update_s", "time_eval_s")
    train_s = sum(e.get(k, 0.0) for by_seed in runs.values() for lines in by_seed.values() for e in lines
                  for k in time_keys)
    (cfg.output / "summary.json").write_text(
        json.dumps({"config": asdict(cfg) | {"output": str(cfg.output)}, "algorithms": summary}, indent=2) + "\n",
        encoding="utf-8")
    report = write_report(cfg, summary, train_s)
    plot(cfg, summary)
    log(report.read_text(encoding="utf-8"))
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    defaults = ExperimentConfig()
    parser = argparse.ArgumentParser(prog="python -m evalkit.train.experiment", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=defaults.output, help="directory for runs and the report")
    parser.add_argument("--algos", default=",".join(defaults.algos), help="comma-separated algorithms")
    for name in ("seeds", "digits", "sft_max_steps", "steps", "prompts_per_step", "group_size", "epochs",
                 "minibatches", "eval_every", "eval_size", "threads", "critic_steps"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name),
                            help=f"(default {getattr(defaults, name)})")
    parser.add_argument("--lr", type=float, default=defaults.lr, help=f"RL learning rate (default {defaults.lr})")
    args = parser.parse_args(argv)
    algos = tuple(a.strip() for a in args.algos.split(",") if a.strip())
    unknown = [a for a in algos if a not in ALGOS]
    if unknown:
        parser.error(f"unknown algorithm(s) {', '.join(unknown)}; use {', '.join(ALGOS)}")
    values = {k: v for k, v in vars(args).items() if k != "algos"}
    run(ExperimentConfig(**values, algos=algos))


if __name__ == "__main__":
    main()
