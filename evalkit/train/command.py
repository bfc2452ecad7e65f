"""`evalkit train`: the typer command over `TrainConfig` and `trainer.train` (the lead registers it).

Flags override the `--config` file, which overrides the defaults. Options shared with `evalkit run`
(model, benchmark, sampling, prompt, data, output, device) come from the one vocabulary in
`evalkit.options`; the ones below are the trainer's own. Nothing heavy is imported until the command
runs, so `evalkit --help` stays fast. Bad input raises UsageError (one line, exit 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from evalkit import options as o
from evalkit.errors import UsageError

ALGO_HELP = ("RL algorithm: ppo, grpo, dapo, dr_grpo, gspo, mpo (the paper's, on PPO with a critic; "
             "--loss-option base=grpo for the GRPO-based variant) or tepo.")
RUN_PANEL = "Run"
RL_PANEL = "Algorithm"
ROLLOUT_PANEL = "Rollouts"


def train(
    algo: Annotated[str | None, typer.Option(help=ALGO_HELP, rich_help_panel=RL_PANEL)] = None,
    model: o.ModelOrConfig = None,
    benchmark: o.TrainBenchmark = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (one rollout batch each).",
                                              rich_help_panel=RUN_PANEL)] = None,
    n: o.SampleCountOrConfig = None,
    prompts_per_step: Annotated[int | None, typer.Option(help="Prompts per step; a step trains on prompts x n.",
                                                         rich_help_panel=ROLLOUT_PANEL)] = None,
    data_dir: o.DataDir = None,
    output: o.TrainOutput = None,
    config: Annotated[Path | None, typer.Option(
        help="A .toml or .json file of settings (TrainConfig fields, loss options in a [loss] table); "
             "flags override it.", rich_help_panel=RUN_PANEL)] = None,
    lr: Annotated[float | None, typer.Option(help="AdamW learning rate.", rich_help_panel=RL_PANEL)] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over each rollout batch.",
                                               rich_help_panel=RL_PANEL)] = None,
    minibatches: Annotated[int | None, typer.Option(
        help="Optimizer steps per pass; epochs x minibatches > 1 makes updates off-policy (ratios != 1).",
        rich_help_panel=RL_PANEL)] = None,
    micro_batch_size: Annotated[int | None, typer.Option(
        help="Rows per forward/backward (gradient accumulation); 0 = a whole mini-batch.",
        rich_help_panel=RL_PANEL)] = None,
    loss_option: Annotated[list[str] | None, typer.Option(
        "--loss-option", help="Loss hyperparameter KEY=VALUE, repeatable (e.g. k=3, beta=0.0, eps_high=0.28, "
                              "weights=uniform, criterion=empirical; ppo/mpo critic: critic=model|head, "
                              "critic_lr=1e-5, gamma=1.0, lam=1.0, value_clip=0.5; mpo: future=backbone|mtp, "
                              "mtp_backbone=detach|through|frozen).", rich_help_panel=RL_PANEL)] = None,
    dynamic_sampling: Annotated[bool | None, typer.Option(
        "--dynamic-sampling/--no-dynamic-sampling",
        help="Drop groups whose rewards are all equal and refill the batch (default: on for dapo only).",
        rich_help_panel=RL_PANEL)] = None,
    max_tokens: o.MaxTokensOrConfig = None,
    temperature: o.TemperatureOrConfig = None,
    top_p: o.TopPOrConfig = None,
    rollout_engine: Annotated[str | None, typer.Option(
        help="Rollout sampler: hf (`generate` on the policy, CPU or GPU) or vllm (vLLM on the same GPU, "
             "weights re-synced after every update; needs --device cuda and the vllm extra).",
        rich_help_panel=ROLLOUT_PANEL)] = None,
    vllm_gpu_memory: Annotated[float | None, typer.Option(
        help="With vllm: share of the GPU's memory vLLM takes for its weights and KV cache (default 0.3).",
        rich_help_panel=ROLLOUT_PANEL)] = None,
    vllm_max_model_len: Annotated[int | None, typer.Option(
        help="With vllm: longest prompt + completion it reserves KV cache for; 0 = the model's context.",
        rich_help_panel=ROLLOUT_PANEL)] = None,
    vllm_sleep: Annotated[bool | None, typer.Option(
        "--vllm-sleep/--no-vllm-sleep",
        help="With vllm: free its GPU memory during each update (sleep mode) and re-push the weights on waking.",
        rich_help_panel=ROLLOUT_PANEL)] = None,
    chat_template: o.ChatTemplateOrConfig = None,
    system_prompt: o.SystemPrompt = None,
    eval_every: Annotated[int | None, typer.Option(
        help="Greedy accuracy on held-out (test split) prompts every N steps; 0 = never.",
        rich_help_panel=RUN_PANEL)] = None,
    eval_size: Annotated[int | None, typer.Option(help="Held-out prompts per evaluation.",
                                                  rich_help_panel=RUN_PANEL)] = None,
    save_every: Annotated[int | None, typer.Option(
        help="Checkpoint every N steps; the last step is always saved.", rich_help_panel=RUN_PANEL)] = None,
    seed: o.SeedOrConfig = None,
    device: o.Device = None,
    dtype: o.Dtype = None,
    overwrite: o.Overwrite = False,
    unsafe_code_exec: o.UnsafeCodeExec = False,
    # MPO's MTP modules (issue 17)
    mtp_warmup_steps: Annotated[int | None, typer.Option(
        help="With --algo mpo --loss-option future=mtp: Stage-1 batches that train only the MTP modules on the "
             "train split's reference solutions before RL (backbone frozen); 0 = none.",
        rich_help_panel=RL_PANEL)] = None,
    mtp_init: Annotated[Path | None, typer.Option(
        help="With future=mtp: start the MTP modules from a checkpoint's mtp/ folder (e.g. OUTPUT/step-N).",
        rich_help_panel=RL_PANEL)] = None,
    ray: Annotated[str | None, o.option(
        o.RAY, "Code benchmarks: grade rewards on the Ray cluster's code-grading pool (the one `evalkit run --ray` "
        "uses) instead of this machine's sandbox: --ray alone (or auto) uses RAY_ADDRESS, or HOST:PORT.",
        o.CLUSTER_PANEL)] = None,
) -> None:
    """Train a model with RL on a benchmark's graded rewards; checkpoints in OUTPUT/step-N are `evalkit run` models."""
    from evalkit.train.config import TRAIN_METRICS_FILE, TrainConfig

    cfg = TrainConfig.from_file(config) if config is not None else TrainConfig()
    loss = {**cfg.loss, **parse_loss_options(loss_option or [])}
    cfg = cfg.override(
        algo=algo, model=model, benchmark=benchmark, steps=steps, group_size=n,
        prompts_per_step=prompts_per_step, data_dir=str(data_dir) if data_dir is not None else None,
        output=str(output) if output is not None else None, lr=lr, epochs=epochs, minibatches=minibatches,
        micro_batch_size=micro_batch_size, loss=loss, dynamic_sampling=dynamic_sampling,
        max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, chat_template=chat_template,
        system_prompt=system_prompt, eval_every=eval_every, eval_size=eval_size, save_every=save_every, seed=seed,
        device=device, dtype=dtype, rollout_engine=rollout_engine, vllm_gpu_memory=vllm_gpu_memory,
        vllm_max_model_len=vllm_max_model_len, vllm_sleep=vllm_sleep, unsafe_code_exec=unsafe_code_exec or None,
        mtp_warmup_steps=mtp_warmup_steps, mtp_init=str(mtp_init) if mtp_init is not None else None,
    ).resolved()
    metrics = Path(cfg.output) / TRAIN_METRICS_FILE
    if metrics.is_file() and metrics.stat().st_size and not overwrite:
        raise UsageError(f"{cfg.output} already holds a training run; pass another --output or --overwrite")
    run_training(cfg, log=typer.echo, **({"ray_address": ray} if ray is not None else {}))


def run_training(cfg: Any, log: Any = print, ray_address: str | None = None) -> list[dict[str, Any]]:
    """Load the model and task that `cfg` names and train; the CLI's body, callable from Python.

    `ray_address`: code rewards are graded by that cluster's code-grading pool (`evalkit.distributed`).
    """
    import torch

    from evalkit.models import load_hf_model, resolve_model
    from evalkit.train.tasks import make_task
    from evalkit.train.trainer import train as train_loop

    resolved = resolve_model(cfg.model)  # a ModelSpecError is a UsageError: one line, exit 2
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {cfg.device}: no CUDA GPU is visible to torch; use --device cpu")
    if cfg.rollout_engine == "vllm":
        from evalkit.train.vllm_rollout import import_vllm

        import_vllm()  # fail before loading the model
    dtype = getattr(torch, cfg.dtype) if cfg.dtype else None
    model, tokenizer = load_hf_model(resolved, device=cfg.device, dtype=dtype)
    code_grader = None
    if ray_address is not None:
        from evalkit.distributed.code_pool import CodePool

        code_grader = CodePool(ray_address, unsafe=True if cfg.unsafe_code_exec else None)
    task = make_task(cfg.benchmark, tokenizer, data_dir=Path(cfg.data_dir) if cfg.data_dir else None,
                     chat=cfg.chat_template, system_prompt=cfg.system_prompt, addition_digits=cfg.addition_digits,
                     unsafe_code_exec=cfg.unsafe_code_exec, code_grader=code_grader)
    history = train_loop(cfg, model, tokenizer, task, log=log)
    log(f"checkpoint: {Path(cfg.output) / f'step-{cfg.steps}'}  metrics: {Path(cfg.output) / 'metrics.jsonl'}")
    return history


def parse_loss_options(options: list[str]) -> dict[str, Any]:
    """`["k=3", "weights=uniform"]` -> `{"k": 3, "weights": "uniform"}` (numbers and booleans as JSON)."""
    parsed: dict[str, Any] = {}
    for option in options:
        key, sep, raw = option.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--loss-option {option!r}: expected KEY=VALUE, e.g. --loss-option k=3")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        parsed[key.strip()] = value
    return parsed
