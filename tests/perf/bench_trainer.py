"""Trainer step time: evalkit's slim trainer against TRL's GRPOTrainer, same tiny model, same batch, one run.

    python tests/perf/bench_trainer.py [--steps 8] [--warmup 2] [--prompts 16] [--group 8] [--threads 1]

Both train GRPO (beta 0.04, so both keep a reference model; one update per rollout, so neither
computes old log-probs) on the toy addition task, the same 2-layer Llama (hidden 128) and character
tokenizer, `prompts x group` completions of at most 4 tokens per step, rewards from the shared
GSM8K grader (TRL through graders.rewards.trl_reward). A step is rollout + reward + update; the
mean over `--steps` steps after `--warmup` is printed for each, and their ratio. Needs trl (1.16.0).
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


def bench_ours(args: argparse.Namespace, out: Path, model_dir: Path) -> list[float]:
    from evalkit.train.config import TrainConfig
    from evalkit.train.trainer import train

    model, tokenizer, task = load(model_dir)
    cfg = TrainConfig(algo="grpo", benchmark="addition", addition_digits=2, output=str(out / "ours"),
                      steps=args.warmup + args.steps + 1, prompts_per_step=args.prompts, group_size=args.group,
                      epochs=1, minibatches=1, lr=1e-5, max_new_tokens=4, log_kl=False, loss={"beta": 0.04})
    stamps: list[float] = []
    start = time.perf_counter()
    train(cfg, model, tokenizer, task, log=lambda line: stamps.append(time.perf_counter()))
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
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_tiny_model(Path(tmp) / "model")
        ours = bench_ours(args, Path(tmp), model_dir)
        trl = bench_trl(args, Path(tmp), model_dir)
    import trl as trl_pkg

    batch = args.prompts * args.group
    print(f"GRPO step, tiny Llama, {batch} completions of <= 4 tokens, {args.steps} timed steps, "
          f"{args.threads} thread(s)")
    print(f"evalkit slim trainer : {statistics.median(ours):.3f} s/step (median; mean {statistics.fmean(ours):.3f})")
    print(f"TRL {trl_pkg.__version__} GRPOTrainer : {statistics.median(trl):.3f} s/step "
          f"(median; mean {statistics.fmean(trl):.3f})")
    print(f"ratio TRL / evalkit  : {statistics.median(trl) / statistics.median(ours):.2f}x")


if __name__ == "__main__":
    main()
