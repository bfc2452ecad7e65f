"""The training loop: rollouts -> graded rewards -> advantages -> several clipped updates -> log -> checkpoint.

`train()` is the whole loop and reads top to bottom (nanoGPT's train.py is the model); each stage
it calls is one small function below it. Per step:

1. sample `prompts_per_step` prompts, G completions each, with HF `generate` on the policy or with vLLM
   (`rollout_engine`; vLLM's weights are re-synced after every update); under DAPO's dynamic sampling,
   groups whose rewards are all equal are dropped and more prompts are drawn, up to `max_gen_batches` rounds;
2. grade every completion with the shared graders (plus DAPO's overlong shaping when enabled);
3. group-relative advantages (or, for PPO and MPO, per-token GAE advantages from the critic's
   values, computed in step 4);
4. log-probs of the sampled tokens under the rollout policy (when the batch is reused) and the
   reference policy (for the KL term or the KL log); with a critic, the values and GAE;
5. `epochs` x `minibatches` optimizer steps on shuffled mini-batches, each with gradient
   accumulation over micro-batches and gradient-norm clipping. Several updates per rollout are what
   make the ratio differ from 1, and so what makes GRPO, GSPO and MPO differ at all;
6. one JSON line of metrics (reward, accuracy, entropy, clip fractions, KL, lengths, zero-variance
   groups, time split generation / reward / update; with vLLM, the gap between its log-probs of the
   sampled tokens and the trainer's) and, every `save_every` steps and at the end, a
   checkpoint OUTPUT/step-N in Hugging Face format that `evalkit run --model OUTPUT/step-N` evaluates.

Before step 1, MPO with MTP modules (`future=mtp`) builds or loads them and runs the Stage-1 warm-up
(`mtp_warmup_steps`); checkpoints keep them in OUTPUT/step-N/mtp/, beside the plain policy.
Dropout is never switched on: the policy stays in eval mode, so on-policy ratios are exactly 1.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from evalkit.models import release_gguf_loader
from evalkit.schema import SamplingParams, TrainingRecord
from evalkit.train.advantages import group_advantages, informative_groups, overlong_penalty
from evalkit.train.config import TRAIN_CONFIG_FILE, TRAIN_METRICS_FILE, TrainConfig
from evalkit.train.critic import Critic
from evalkit.train.losses import LossParams, Normalizer, PolicyTensors, get_loss, make_params
from evalkit.train.ppo import gae, outcome_token_rewards, value_loss, whiten
from evalkit.train.rollout import Generator, HFGenerator, Rollout, SamplingSettings, policy_forward
from evalkit.train.tasks import Task

#: the MTP warm-up's per-step log, beside metrics.jsonl
MTP_WARMUP_FILE = "mtp_warmup.jsonl"


def train(cfg: TrainConfig, model: Any, tokenizer: Any, task: Task, *, generator: Generator | None = None,
          log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Train `model` in place on `task` with `cfg.algo`; returns the metrics records (also in metrics.jsonl)."""
    cfg = cfg.resolved()
    release_gguf_loader(model)
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / TRAIN_CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", encoding="utf-8")
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    params = make_params(cfg.algo, cfg.loss)
    model.eval()
    reference = None
    if params.needs_reference or cfg.log_kl:
        reference = copy.deepcopy(model).eval().requires_grad_(False)
    mtp = prepare_mtp(cfg, params, model, tokenizer, task, out, log)
    critic = Critic(params, model) if params.uses_critic else None
    generator = generator or make_generator(cfg, model, tokenizer)
    optimizer = make_optimizer(cfg, model, critic=critic, mtp=mtp)
    warmup = max(cfg.warmup_steps, 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
    sampling = SamplingSettings(cfg.max_new_tokens, cfg.temperature, cfg.top_p)
    metrics_path = out / TRAIN_METRICS_FILE
    metrics_path.write_text("", encoding="utf-8")
    history: list[dict[str, Any]] = []

    def record(entry: dict[str, Any]) -> None:
        line = TrainingRecord.from_dict(entry).to_dict()  # the metrics.jsonl schema, written down in evalkit.schema
        history.append(line)
        with metrics_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    if cfg.eval_every:
        record({"step": 0, **evaluate(generator, task, cfg)})
    for step in range(1, cfg.steps + 1):
        batch = collect_rollouts(cfg, task, generator, sampling, rng, pad_id=tokenizer.pad_token_id)
        start = time.perf_counter()
        stats = {}
        if batch.trainable:
            stats = update_policy(cfg, params, model, reference, optimizer, schedule, batch, step, critic=critic,
                                  mtp=mtp)
            generator.policy_changed()
        entry = {"step": step, "algo": cfg.algo, **batch.metrics(), **stats,
                 "time_update_s": time.perf_counter() - start}
        if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps):
            entry.update(evaluate(generator, task, cfg))
        record(entry)
        log(format_step(entry, cfg.steps))
        if step == cfg.steps or (cfg.save_every and step % cfg.save_every == 0):
            save_checkpoint(model, tokenizer, out / f"step-{step}", step=step, cfg=cfg, mtp=mtp)
    return history


def make_optimizer(cfg: TrainConfig, model: Any, *, critic: Critic | None = None,
                   mtp: Any = None) -> torch.optim.Optimizer:
    """AdamW over the policy's trainable weights and the MTP modules (at --lr) and a value head (at critic_lr)."""
    groups: list[dict[str, Any]] = []
    policy = [p for p in model.parameters() if p.requires_grad]
    if policy:
        groups.append({"params": policy, "lr": cfg.lr})
    if mtp is not None:
        groups.append({"params": list(mtp.parameters()), "lr": cfg.lr})
    if critic is not None:
        groups += critic.param_groups()
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def prepare_mtp(cfg: TrainConfig, params: LossParams, model: Any, tokenizer: Any, task: Task, out: Path,
                log: Callable[[str], None]) -> Any:
    """MPO's MTP modules when the loss asks for them (`future=mtp`): loaded or built, then warmed up (Stage 1)."""
    n_modules = getattr(params, "mtp_modules", 0)
    if not n_modules:
        return None
    from evalkit.train import mtp as mtp_lib

    if cfg.mtp_init:
        stack = mtp_lib.check_depth(mtp_lib.load(Path(cfg.mtp_init), model), n_modules)
        log(f"MTP modules: {n_modules} loaded from {cfg.mtp_init}")
    else:
        stack = mtp_lib.build(model, n_modules)
        log(f"MTP modules: {n_modules} built from the model's last layer and LM head")
    if cfg.mtp_warmup_steps:
        heldout = list(task.heldout_solutions())[: min(cfg.eval_size, 64)]
        measure = {"alpha_decay": cfg.mtp_alpha_decay, "max_tokens": cfg.max_new_tokens,
                   "batch_size": cfg.mtp_warmup_batch_size, "add_special_tokens": task.add_special_tokens}
        before = mtp_lib.heldout_loss(stack, model, tokenizer, heldout, **measure) if heldout else None
        path = out / MTP_WARMUP_FILE
        path.write_text("", encoding="utf-8")

        def record(entry: dict[str, Any]) -> None:
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

        settings = mtp_lib.WarmupSettings(steps=cfg.mtp_warmup_steps, lr=cfg.mtp_warmup_lr,
                                          batch_size=cfg.mtp_warmup_batch_size, alpha_decay=cfg.mtp_alpha_decay,
                                          max_tokens=cfg.max_new_tokens, seed=cfg.seed,
                                          max_grad_norm=cfg.max_grad_norm)
        losses = mtp_lib.warm_up(stack, model, tokenizer, task.train_solutions(), settings,
                                 add_special_tokens=task.add_special_tokens, log=record)
        after = mtp_lib.heldout_loss(stack, model, tokenizer, heldout, **measure) if heldout else None
        record({"mtp_heldout_loss_before": before, "mtp_heldout_loss_after": after, "heldout_n": len(heldout)})
        log(f"MTP warm-up: {cfg.mtp_warmup_steps} steps, train loss {losses[0]:.3f} -> {losses[-1]:.3f}"
            + (f", held-out {before:.3f} -> {after:.3f}" if heldout else ""))
    if params.mtp_backbone == "frozen":  # App. A.1 read literally: only the modules train
        model.requires_grad_(False)
    return stack


# ----------------------------------------------------------------------------- 1-3: rollouts, rewards, advantages


def make_generator(cfg: TrainConfig, model: Any, tokenizer: Any) -> Generator:
    """The rollout engine `cfg.rollout_engine` names: HF `generate` on the policy itself, or vLLM beside it."""
    if cfg.rollout_engine == "vllm":
        from evalkit.train.vllm_rollout import VLLMGenerator

        return VLLMGenerator(model, tokenizer, gpu_memory_utilization=cfg.vllm_gpu_memory,
                             max_model_len=cfg.vllm_max_model_len or None, sleep=cfg.vllm_sleep, seed=cfg.seed)
    return HFGenerator(model, tokenizer, batch_size=cfg.generation_batch_size)


@dataclass
class RolloutBatch:
    """The completions one step trains on, with rewards and advantages, plus what generating them cost."""

    rollout: Rollout
    correct: Tensor  # [N] 1.0 / 0.0 from the graders
    rewards: Tensor  # [N] correctness plus shaping
    advantages: Tensor  # [N]
    loss_mask: Tensor  # [N, T] completion tokens that enter the loss
    all_correct: Tensor  # correctness of everything generated this step, kept or not
    all_rewards: Tensor
    all_lengths: Tensor
    all_truncated: Tensor
    groups_generated: int
    groups_zero_variance: int | None  # None with one sample per prompt (G = 1): there are no groups
    gen_rounds: int
    time_generation_s: float
    time_reward_s: float

    @property
    def trainable(self) -> bool:
        return len(self.rollout) > 0 and bool(self.loss_mask.any())

    def metrics(self) -> dict[str, Any]:
        lengths = self.all_lengths.float()
        return {
            "reward_mean": float(self.all_rewards.mean()),
            "accuracy": float(self.all_correct.mean()),
            "completion_len_mean": float(lengths.mean()),
            "completion_len_max": int(lengths.max()),
            "truncated_frac": float(self.all_truncated.float().mean()),
            "zero_variance_frac": None if self.groups_zero_variance is None
            else self.groups_zero_variance / self.groups_generated,
            "gen_rounds": self.gen_rounds,
            "sequences_trained": len(self.rollout),
            "time_generation_s": self.time_generation_s,
            "time_reward_s": self.time_reward_s,
        }


def collect_rollouts(cfg: TrainConfig, task: Task, generator: Generator, sampling: SamplingParams,
                     rng: random.Random, *, pad_id: int) -> RolloutBatch:
    """Steps 1-3: sample, grade, shape, filter (dynamic sampling) and compute advantages."""
    G = cfg.group_size
    kept: list[tuple[Rollout, Tensor, Tensor]] = []
    seen_correct, seen_rewards, seen_lengths, seen_truncated = [], [], [], []
    groups_kept = groups_generated = zero_variance = rounds = 0
    gen_time = reward_time = 0.0
    while rounds < (cfg.max_gen_batches if cfg.dynamic_sampling else 1):
        rounds += 1
        examples = task.sample(rng, cfg.prompts_per_step)
        start = time.perf_counter()
        rollout = generator.generate([e.prompt for e in examples], G, sampling,
                                     add_special_tokens=task.add_special_tokens)
        gen_time += time.perf_counter() - start
        start = time.perf_counter()
        golds = [e.gold for e in examples for _ in range(G)]
        correct = torch.tensor(task.rewards(rollout.texts, golds), dtype=torch.float32)
        rewards = correct.clone()
        if cfg.overlong_buffer:
            rewards += overlong_penalty(rollout.lengths.cpu(), cfg.max_new_tokens, cfg.overlong_buffer).float()
        reward_time += time.perf_counter() - start
        informative = informative_groups(rewards, G)
        groups_generated += len(examples)
        zero_variance += int((~informative).sum())
        seen_correct.append(correct)
        seen_rewards.append(rewards)
        seen_lengths.append(rollout.lengths)
        seen_truncated.append(rollout.truncated)
        if cfg.dynamic_sampling:
            groups = informative.nonzero().flatten()[: cfg.prompts_per_step - groups_kept]
            rows = (groups[:, None] * G + torch.arange(G)).flatten()
            rollout, correct, rewards = rollout.select(rows), correct[rows], rewards[rows]
            groups_kept += len(groups)
        else:
            groups_kept += len(examples)
        kept.append((rollout, correct, rewards))
        if groups_kept >= cfg.prompts_per_step:
            break
    rollout = Rollout.cat([k[0] for k in kept], pad_id)
    correct = torch.cat([k[1] for k in kept])
    rewards = torch.cat([k[2] for k in kept])
    advantages = group_advantages(rewards, G, cfg.scale_rewards) if len(rewards) else rewards
    loss_mask = rollout.completion_mask.float()
    if cfg.mask_truncated:
        loss_mask = loss_mask * (~rollout.truncated).float()[:, None]
    return RolloutBatch(
        rollout=rollout, correct=correct, rewards=rewards, advantages=advantages, loss_mask=loss_mask,
        all_correct=torch.cat(seen_correct), all_rewards=torch.cat(seen_rewards), all_lengths=torch.cat(seen_lengths),
        all_truncated=torch.cat(seen_truncated), groups_generated=groups_generated,
        groups_zero_variance=zero_variance if G > 1 else None, gen_rounds=rounds, time_generation_s=gen_time,
        time_reward_s=reward_time,
    )


# ----------------------------------------------------------------------------- 4-5: the policy update


@dataclass
class RolloutScores:
    """What the trainer computes for a whole rollout batch before updating (no gradient), each None unless asked."""

    logp: Tensor | None = None
    entropy: Tensor | None = None
    values: Tensor | None = None
    future: Tensor | None = None


def score_rollout(model: Any, rollout: Rollout, cfg: TrainConfig, micro: int, *, policy: bool = True,
                  entropy: bool = False, critic: Critic | None = None, mtp: Any = None) -> RolloutScores:
    """Log-probs (entropy, MTP future log-probs) under `model` and the critic's values, one micro-batch at a time."""
    head = critic is not None and critic.needs_policy_hidden
    parts: list[RolloutScores] = []
    for rows in torch.arange(len(rollout)).split(micro):
        forward = None
        if policy or head:
            forward = policy_forward(model, rollout, rows=rows, temperature=cfg.temperature, with_entropy=entropy,
                                     with_hidden=head or (policy and mtp is not None))
        future = None
        if policy and mtp is not None:
            future = mtp.future_logprobs(model, forward, rollout.completion_ids[rows], temperature=cfg.temperature)
        values = critic.values(rollout, rows, forward) if critic is not None else None
        parts.append(RolloutScores(logp=forward.logp if policy else None, entropy=forward.entropy if entropy else None,
                                   values=values, future=future))

    def cat(name: str) -> Tensor | None:
        chunks = [getattr(p, name) for p in parts]
        return torch.cat(chunks) if chunks and chunks[0] is not None else None

    return RolloutScores(logp=cat("logp"), entropy=cat("entropy"), values=cat("values"), future=cat("future"))


def update_policy(cfg: TrainConfig, params: LossParams, model: Any, reference: Any, optimizer: torch.optim.Optimizer,
                  schedule: Any, batch: RolloutBatch, step: int, *, critic: Critic | None = None,
                  mtp: Any = None) -> dict[str, Any]:
    """Steps 4-5: `epochs` x `minibatches` clipped updates on one rollout batch; returns update metrics.

    With a critic, the per-token advantages are GAE over its values (the graded reward on each
    completion's last token), whitened over the batch, and the critic is updated on the same
    mini-batches (value clipping around the values it gave at rollout).
    """
    loss_fn = get_loss(cfg.algo).fn
    rollout, n = batch.rollout, len(batch.rollout)
    reused = cfg.epochs * cfg.minibatches > 1
    empirical = getattr(params, "criterion", None) == "empirical"
    kl_reward = critic is not None and params.kl_coef > 0
    need_old = reused or empirical
    micro = cfg.micro_batch_size or n
    device = batch.loss_mask.device  # the model's: rollouts are generated there; rewards are computed on CPU
    detach_backbone = getattr(params, "mtp_backbone", "detach") != "through"
    with_hidden = mtp is not None or (critic is not None and critic.needs_policy_hidden)
    with torch.no_grad():
        old = score_rollout(model, rollout, cfg, micro, policy=need_old or kl_reward, entropy=empirical,
                            critic=critic, mtp=mtp if need_old else None)
        ref = score_rollout(reference, rollout, cfg, micro).logp if reference is not None else None
        advantages = batch.advantages.to(device=device, dtype=torch.float32)
        returns = None
        if critic is not None:
            kl = old.logp - ref if kl_reward and ref is not None else None
            rewards = outcome_token_rewards(batch.rewards.to(device=device, dtype=torch.float32), batch.loss_mask,
                                            kl, params.kl_coef)
            advantages, returns = gae(rewards, old.values, batch.loss_mask, params.gamma, params.lam)
            if params.whiten:
                advantages = whiten(advantages, batch.loss_mask)
    totals: dict[str, float] = {}
    weights: dict[str, float] = {}

    def add(name: str, value: float | None, weight: float) -> None:
        if value is not None and math.isfinite(value):
            totals[name] = totals.get(name, 0.0) + value * weight
            weights[name] = weights.get(name, 0.0) + weight

    trainable = [p for group in optimizer.param_groups for p in group["params"]]
    value_coef = params.vf_coef if critic is not None and critic.mode == "head" else 1.0
    shuffle = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    for epoch in range(cfg.epochs):
        for rows in torch.randperm(n, generator=shuffle).chunk(cfg.minibatches):
            norm = Normalizer.of(batch.loss_mask[rows], max_len=cfg.max_new_tokens)
            optimizer.zero_grad(set_to_none=True)
            for part in rows.split(micro):
                mask = batch.loss_mask[part]
                forward = policy_forward(model, rollout, rows=part, temperature=cfg.temperature, with_entropy=True,
                                         with_hidden=with_hidden)
                logp, entropy = forward.logp, forward.entropy
                future = future_old = None
                if mtp is not None:
                    future = mtp.future_logprobs(model, forward, rollout.completion_ids[part],
                                                 temperature=cfg.temperature, detach_backbone=detach_backbone)
                    future_old = old.future[part] if old.future is not None else future.detach()
                tensors = PolicyTensors(
                    logp=logp, logp_old=old.logp[part] if need_old else logp.detach(), mask=mask,
                    advantages=advantages[part], logp_ref=ref[part] if ref is not None else None,
                    entropy=entropy, entropy_old=old.entropy[part] if old.entropy is not None else None,
                    future_logp=future, future_logp_old=future_old,
                )
                out = loss_fn(tensors, params, norm)
                total = out.loss
                tokens = float(mask.sum())
                if critic is not None:
                    values = critic.values(rollout, part, forward)
                    v_loss, v_clip = value_loss(values, old.values[part], returns[part], mask, params.value_clip, norm)
                    total = total + value_coef * v_loss
                    add("value_loss", v_loss.item(), 1.0)
                    add("value_clip_frac", v_clip, tokens)
                if total.requires_grad:
                    total.backward()
                add("loss", out.loss.item(), 1.0)
                for name in ("clip_low", "clip_high", "ratio_mean", "kl", "kl_mask_frac"):
                    add(name, getattr(out, name), tokens)
                add("ratio_sq_mean", out.ratio_var + out.ratio_mean ** 2, tokens)
                if epoch == 0:
                    add("entropy", float((entropy * mask).sum() / max(tokens, 1.0)), tokens)
                    if rollout.sampling_logprobs is not None:  # trainer vs sampler log-probs of the same tokens
                        behaviour = old.logp[part] if old.logp is not None else logp.detach()
                        gap = (behaviour - rollout.sampling_logprobs[part]).abs() * mask
                        add("sampler_logp_gap", float(gap.sum() / max(tokens, 1.0)), tokens)
            grad_norm = torch.nn.utils.clip_grad_norm_(trainable, cfg.max_grad_norm)
            add("grad_norm", float(grad_norm), 1.0)
            optimizer.step()
            schedule.step()
            if critic is not None:
                add("critic_grad_norm", critic.step(cfg.max_grad_norm), 1.0)
    result = {name: totals[name] / weights[name] for name in totals if weights[name] > 0}
    updates = cfg.epochs * cfg.minibatches
    result["loss"] = totals.get("loss", 0.0) / updates  # mean per optimizer step
    if "value_loss" in totals:
        result["value_loss"] = totals["value_loss"] / updates
    if "ratio_sq_mean" in result and "ratio_mean" in result:  # variance of the ratio over every update's tokens
        result["ratio_var"] = max(0.0, result.pop("ratio_sq_mean") - result["ratio_mean"] ** 2)
    if critic is not None:
        result["value_mean"] = float((old.values * batch.loss_mask).sum() / batch.loss_mask.sum().clamp(min=1))
    result["updates"] = updates
    result["lr"] = schedule.get_last_lr()[0]
    return result


# ----------------------------------------------------------------------------- 6: evaluation, logging, checkpoints


def evaluate(generator: Generator, task: Task, cfg: TrainConfig) -> dict[str, Any]:
    """Greedy accuracy on the first `eval_size` held-out prompts (graded by the same reward)."""
    start = time.perf_counter()
    examples = list(task.heldout_examples())[: cfg.eval_size]
    rollout = generator.generate([e.prompt for e in examples], 1, SamplingSettings(cfg.max_new_tokens, 0.0),
                                 add_special_tokens=task.add_special_tokens)
    correct = task.rewards(rollout.texts, [e.gold for e in examples])
    return {"heldout_accuracy": sum(correct) / len(correct), "heldout_n": len(correct),
            "heldout_len_mean": float(rollout.lengths.float().mean()), "time_eval_s": time.perf_counter() - start}


def format_step(entry: dict[str, Any], steps: int) -> str:
    def f(name: str, spec: str = ".3f") -> str:
        value = entry.get(name)
        return "-" if value is None else format(value, spec)

    text = (f"step {entry['step']}/{steps} reward {f('reward_mean')} acc {f('accuracy')} entropy {f('entropy')} "
            f"clip {f('clip_low')}/{f('clip_high')} kl {f('kl', '.4f')} len {f('completion_len_mean', '.1f')} "
            f"zero-var {f('zero_variance_frac', '.2f')} time gen/rew/upd {f('time_generation_s', '.1f')}/"
            f"{f('time_reward_s', '.1f')}/{f('time_update_s', '.1f')}s")
    if "value_loss" in entry:
        text += f" value-loss {f('value_loss', '.4f')}"
    if "sampler_logp_gap" in entry:
        text += f" sampler-gap {f('sampler_logp_gap', '.4f')}"
    if "heldout_accuracy" in entry:
        text += f" heldout {f('heldout_accuracy')}"
    return text


def save_checkpoint(model: Any, tokenizer: Any, path: Path, *, step: int, cfg: TrainConfig, mtp: Any = None) -> Path:
    """Hugging Face format (weights, config, generation config, tokenizer), so `evalkit run --model` loads it.

    MTP modules, when training has them, go to `path/mtp/` (mtp.save): the policy itself stays a
    plain model, the modules detached from it as for inference in the paper.
    """
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    if mtp is not None:
        from evalkit.train import mtp as mtp_lib

        mtp_lib.save(mtp, path)
    state = {"step": step, "algo": cfg.algo, "base_model": cfg.model, "benchmark": cfg.benchmark,
             "mtp_modules": len(mtp) if mtp is not None else 0}
    (path / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return path
