"""Trainer step time: our GRPO against TRL's GRPOTrainer, and our PPO and MPO against our GRPO, in one run.

    python tests/perf/bench_trainer.py [--steps 8] [--warmup 2] [--prompts 16] [--group 8] [--threads 1] [--k 5]

All arms train the toy addition task on the same 2-layer Llama (hidden 128) and character tokenizer,
with the same number of completions per step (`prompts x group`, at most 4 tokens each), rewards from
the shared GSM8K grader, one update per rollout, each algorithm at its defaults:

- GRPO, ours and TRL 1.16.0's GRPOTrainer (TRL through graders.rewards.trl_reward): beta 0.04, so both
  keep a reference model; one update per rollout, so neither computes old log-probs.
- PPO (ours): G = 1 over `prompts x group` prompts, a separate critic initialised from the policy
  (its values at rollout, then its own update), no KL.
- MPO (ours, on PPO): the same with K = `--k` block ratios, future terms from the backbone
  (`future=backbone`) and from K - 1 MTP modules (`future=mtp`, the paper's; its step-time Table 2
  compares this with PPO: 33.3 vs 25.6 s/iter at K = 5, 1.30x).

TRL 1.16.0 ships no PPO trainer any more (no PPOTrainer in the package), so PPO and MPO are timed
against our GRPO step. A step is rollout + reward + update; the median over `--steps` steps after
`--warmup` is printed for each arm, and the ratios. The arms run in turn for `--rounds` rounds and
each keeps its fastest round's median, so a burst of load from other processes on a shared machine
hits one round of one arm, not the ratio. Needs trl (1.16.0) for the TRL arm.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def save_tiny_model(path: Path, seed: int = 0) -> Path:
    """The same starting weights for both trainers, on disk (TRL loads its reference model from the path)."""
    from evalkit.train.toy import char_tokenizer, tiny_llama

    tokenizer = char_tokenizer()
    tiny_llama(tokenizer, hidden=128, layers=2, seed=seed).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def load(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalkit.train.tasks import AdditionTask

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path), AdditionTask(digits=2)


def step_times(stamps: list[float], warmup: int) -> list[float]:
    return [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:], strict=False)]


def bench_ours(args: argparse.Namespace, out: Path, model_dir: Path, algo: str = "grpo",
               loss: dict | None = None) -> list[float]:
    from evalkit.train.config import TrainConfig
    from evalkit.train.losses import make_params
    from evalkit.train.trainer import train

    model, tokenizer, task = load(model_dir)
    loss = {"beta": 0.04} if loss is None else loss
    critic = make_params(algo, loss).uses_critic
    name = f"{algo}-{'-'.join(f'{k}{v}' for k, v in loss.items())}"
    cfg = TrainConfig(algo=algo, benchmark="addition", addition_digits=2, output=str(out / name),
                      steps=args.warmup + args.steps + 1,
                      prompts_per_step=args.prompts * args.group if critic else args.prompts,
                      group_size=1 if critic else args.group, epochs=1, minibatches=1, lr=1e-5, max_new_tokens=4,
                      log_kl=False, loss=loss)
    stamps: list[float] = []
    start = time.perf_counter()
    train(cfg, model, tokenizer, task,
          log=lambda line: stamps.append(time.perf_counter()) if line.startswith("step ") else None)
    return step_times([start, *stamps], args.warmup)


def bench_trl(args: argparse.Namespace, out: Path, model_dir: Path) -> list[float]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from graders.rewards import trl_reward

    _, tokenizer, task = load(model_dir)
    examples = list(task.train_examples())[:5000]
    dataset = Dataset.from_list([{"prompt": e.prompt, "gold": e.gold} for e in examples])
    config = GRPOConfig(
        output_dir=str(out / "trl"), per_device_train_batch_size=args.prompts * args.group,
        num_generations=args.group, max_completion_length=4, max_steps=args.warmup + args.steps + 1,
        learning_rate=1e-5, beta=0.04, loss_type="grpo", num_iterations=1, gradient_accumulation_steps=1,
        temperature=1.0, top_k=0, use_cpu=True, bf16=False, report_to=[], save_strategy="no", logging_steps=10_000,
        disable_tqdm=True, dataloader_num_workers=0, seed=0,
    )
    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, *a, **k):
            stamps.append(time.perf_counter())

    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=trl_reward("gsm8k", gold_column="gold"), args=config,
                          train_dataset=dataset, processing_class=tokenizer, callbacks=[Stamp()])
    start = time.perf_counter()
    trainer.train()
    return step_times([start, *stamps], args.warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    parser.add_argument("--prompts", type=int, default=16, help="prompts per step")
    parser.add_argument("--group", type=int, default=8, help="completions per prompt")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--k", type=int, default=5, help="MPO block size K (the paper's best: 5)")
    parser.add_argument("--skip-trl", action="store_true", help="time our three algorithms only")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all arms; each keeps its fastest")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    runs = {
        "evalkit grpo": lambda tmp, model_dir: bench_ours(args, tmp, model_dir),
        "evalkit ppo": lambda tmp, model_dir: bench_ours(args, tmp, model_dir, "ppo", {}),
        "evalkit mpo (future=backbone)": lambda tmp, model_dir: bench_ours(args, tmp, model_dir, "mpo", {"k": args.k}),
        "evalkit mpo (future=mtp)": lambda tmp, model_dir: bench_ours(args, tmp, model_dir, "mpo",
                                                                      {"k": args.k, "future": "mtp"}),
    }
    if not args.skip_trl:
        import trl as trl_pkg

        runs[f"TRL {trl_pkg.__version__} GRPOTrainer"] = lambda tmp, model_dir: bench_trl(args, tmp, model_dir)
    rounds: dict[str, list[float]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_tiny_model(Path(tmp) / "model")
        for r in range(args.rounds):
            for i, (name, run) in enumerate(runs.items()):
                rounds[name].append(statistics.median(run(Path(tmp) / f"round{r}-arm{i}", model_dir)))
    median = {name: min(values) for name, values in rounds.items()}
    batch = args.prompts * args.group
    print(f"one step, tiny Llama, {batch} completions of <= 4 tokens, {args.steps} timed steps, "
          f"{args.threads} thread(s), MPO K = {args.k}, fastest of {args.rounds} rounds")
    for name, values in rounds.items():
        print(f"{name:32s}: {median[name]:.3f} s/step (median step; rounds {', '.join(f'{v:.3f}' for v in values)})")
    grpo, ppo = median["evalkit grpo"], median["evalkit ppo"]
    print(f"ratio PPO / GRPO (ours)         : {ppo / grpo:.2f}x")
    print(f"ratio MPO backbone / PPO         : {median['evalkit mpo (future=backbone)'] / ppo:.2f}x")
    print(f"ratio MPO mtp / PPO (paper 1.30x): {median['evalkit mpo (future=mtp)'] / ppo:.2f}x")
    print(f"ratio MPO mtp / GRPO (ours)      : {median['evalkit mpo (future=mtp)'] / grpo:.2f}x")
    trl_name = next((name for name in rounds if name.startswith("TRL")), None)
    if trl_name:
        print(f"ratio TRL / evalkit GRPO         : {median[trl_name] / grpo:.2f}x")


if __name__ == "__main__":
    main()
