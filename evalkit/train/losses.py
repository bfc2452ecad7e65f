"""Policy-gradient losses of the slim trainer: pure functions over per-token tensors, registered by name.

Owns the six objectives (GRPO, DAPO, Dr.GRPO, GSPO, MPO, TEPO) and the pieces they share, written
once: PPO clipping, the k3 KL estimator, loss aggregation, clip statistics. Every loss has the same
signature, `loss(t: PolicyTensors, p: <its params dataclass>, norm: Normalizer | None) -> LossOutput`,
and its own frozen hyperparameter dataclass whose defaults are the paper's. It owns nothing about
advantages (advantages.py), sampling or models.

Shapes: `[B, T]` per completion token (completions left-aligned, padding masked out), `[B]` per
sequence. Gradients flow through `PolicyTensors.logp` only; every other tensor is treated as data.

Fidelity. GRPO, DAPO, Dr.GRPO and GSPO follow their papers and are cross-checked against TRL's
GRPOTrainer in value and gradient (tests/train/test_train_trl_crosscheck.py). MPO (arXiv 2602.14386)
and TEPO (arXiv 2510.09369 / 2604.12736) are reconstructions from abstracts and reviews: every
choice the public text leaves open is a parameter, and the defaults are documented below.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from evalkit.errors import UsageError

AggMode = Literal["seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm"]
AGG_MODES: tuple[str, ...] = ("seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm")


@dataclass(frozen=True)
class PolicyTensors:
    """What a loss sees for one (micro-)batch of completions.

    `logp`: log-prob of each sampled token under the policy being trained (carries the gradient).
    `logp_old`: the same under the policy that sampled the batch. `logp_ref`: under the frozen
    reference policy (needed when a KL coefficient is non-zero). `entropy`: the current policy's
    entropy at each position; `entropy_old`: at rollout time (TEPO's empirical criterion only).
    """

    logp: Tensor
    logp_old: Tensor
    mask: Tensor
    advantages: Tensor
    logp_ref: Tensor | None = None
    entropy: Tensor | None = None
    entropy_old: Tensor | None = None


@dataclass(frozen=True)
class Normalizer:
    """Counts over the whole optimizer batch, so that micro-batch losses add up to the full-batch loss.

    `max_len` is Dr.GRPO's constant (the generation budget); without it the padded width is used.
    Leave the normalizer out (None) when the micro-batch is the optimizer batch.
    """

    num_seqs: int
    num_tokens: float
    max_len: int | None = None

    @classmethod
    def of(cls, mask: Tensor, max_len: int | None = None) -> Normalizer:
        return cls(num_seqs=int(mask.shape[0]), num_tokens=float(mask.sum().item()), max_len=max_len)


@dataclass(frozen=True)
class LossOutput:
    """The scalar loss to back-propagate, and statistics (detached floats) for the metrics log.

    Clip fractions count the units whose gradient clipping removed (token ratios for token-level
    losses, sequences for GSPO, blocks' tokens for MPO), as TRL does: ratio below 1-eps with a
    negative advantage (`clip_low`) or above 1+eps with a positive one (`clip_high`).
    """

    loss: Tensor
    clip_low: float
    clip_high: float
    ratio_mean: float
    kl: float | None = None
    kl_mask_frac: float | None = None


# ----------------------------------------------------------------------------- shared pieces


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


def sequence_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Per-sequence mean over the completion tokens, `[B, T] -> [B]`."""
    return (x * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def clipped_surrogate(log_ratio: Tensor, advantages: Tensor, eps_low: float, eps_high: float) -> Tensor:
    """PPO's pessimistic surrogate as a loss, `-min(r A, clip(r, 1-eps_low, 1+eps_high) A)`, elementwise."""
    ratio = log_ratio.exp()
    return -torch.minimum(ratio * advantages, ratio.clamp(1 - eps_low, 1 + eps_high) * advantages)


def k3_kl(logp: Tensor, logp_ref: Tensor) -> Tensor:
    """Schulman's k3 estimator of KL(pi || pi_ref) per token: `pi_ref/pi - log(pi_ref/pi) - 1` (GRPO's)."""
    d = logp_ref - logp
    return d.exp() - d - 1


def aggregate(x: Tensor, mask: Tensor, mode: str, norm: Normalizer | None = None) -> Tensor:
    """Reduce per-token losses to a scalar (verl's names for the three ways the papers do it).

    - `seq-mean-token-mean`: mean over sequences of each sequence's token mean (GRPO paper).
    - `token-mean`: sum over all tokens of the batch / their count (DAPO).
    - `seq-mean-token-sum-norm`: sum over all tokens / (sequences x max_len), a constant (Dr.GRPO).
    """
    num_seqs = norm.num_seqs if norm is not None else mask.shape[0]
    if mode == "seq-mean-token-mean":
        return sequence_mean(x, mask).sum() / num_seqs
    if mode == "token-mean":
        denom = max(norm.num_tokens, 1.0) if norm is not None else mask.sum().clamp(min=1)
        return (x * mask).sum() / denom
    if mode == "seq-mean-token-sum-norm":
        max_len = norm.max_len if norm is not None and norm.max_len is not None else mask.shape[1]
        return (x * mask).sum() / (num_seqs * max_len)
    raise UsageError(f"unknown loss aggregation {mode!r}; use one of {', '.join(AGG_MODES)}")


def _per_sequence(advantages: Tensor) -> Tensor:
    if advantages.dim() != 1:
        raise ValueError(f"advantages must be one per sequence, shape [B]; got {tuple(advantages.shape)}")
    return advantages


def _clip_fractions(ratio: Tensor, adv: Tensor, mask: Tensor, eps_low: float, eps_high: float) -> tuple[float, float]:
    low = ((ratio < 1 - eps_low) & (adv < 0)).float()
    high = ((ratio > 1 + eps_high) & (adv > 0)).float()
    return float(masked_mean(low, mask)), float(masked_mean(high, mask))


def _kl_term(t: PolicyTensors, beta: float) -> Tensor | None:
    """Per-token k3 KL to the reference, or None when there is no reference to compare with."""
    if t.logp_ref is None:
        if beta != 0:
            raise ValueError("a KL coefficient beta != 0 needs logp_ref (the reference policy's log-probs)")
        return None
    return k3_kl(t.logp, t.logp_ref)


def _token_level(t: PolicyTensors, log_ratio: Tensor, eps_low: float, eps_high: float, beta: float, agg: str,
                 norm: Normalizer | None, kl_mask: Tensor | None = None) -> LossOutput:
    """PPO-clip on a per-token log-ratio plus beta x k3 KL inside the token sum (GRPO's form), aggregated."""
    adv = _per_sequence(t.advantages)[:, None]
    per_token = clipped_surrogate(log_ratio, adv, eps_low, eps_high)
    kl = _kl_term(t, beta)
    if kl is not None and beta != 0:
        per_token = per_token + beta * (kl if kl_mask is None else kl * kl_mask)
    loss = aggregate(per_token, t.mask, agg, norm)
    with torch.no_grad():
        ratio = log_ratio.detach().exp()
        low, high = _clip_fractions(ratio, adv.expand_as(ratio), t.mask, eps_low, eps_high)
        return LossOutput(
            loss=loss, clip_low=low, clip_high=high, ratio_mean=float(masked_mean(ratio, t.mask)),
            kl=None if kl is None else float(masked_mean(kl.detach(), t.mask)),
            kl_mask_frac=None if kl_mask is None else float(masked_mean(kl_mask.float(), t.mask)),
        )


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class LossParams:
    """Hyperparameters every loss has: the PPO clip range and the KL-to-reference coefficient."""

    eps_low: float = 0.2
    eps_high: float = 0.2
    beta: float = 0.0

    def validate(self) -> None:
        if not (0 <= self.eps_low < 1 and self.eps_high >= 0):
            raise UsageError(f"clip range must satisfy 0 <= eps_low < 1 and eps_high >= 0; got "
                             f"eps_low={self.eps_low}, eps_high={self.eps_high}")
        if self.beta < 0:
            raise UsageError(f"KL coefficient beta must be >= 0; got {self.beta}")


LossFn = Callable[[PolicyTensors, Any, "Normalizer | None"], LossOutput]


@dataclass(frozen=True)
class LossSpec:
    name: str
    fn: LossFn
    params: type[LossParams]
    summary: str


LOSSES: dict[str, LossSpec] = {}


def register_loss(name: str, params: type[LossParams], summary: str) -> Callable[[LossFn], LossFn]:
    """Register `fn` under `name` with its hyperparameter dataclass (lm-eval / verl style registry)."""

    def decorate(fn: LossFn) -> LossFn:
        if name in LOSSES:
            raise ValueError(f"loss {name!r} is registered twice")
        LOSSES[name] = LossSpec(name=name, fn=fn, params=params, summary=summary)
        return fn

    return decorate


def get_loss(name: str) -> LossSpec:
    try:
        return LOSSES[name]
    except KeyError:
        raise UsageError(f"unknown algorithm {name!r}; use one of {', '.join(LOSSES)}") from None


def make_params(name: str, overrides: Mapping[str, Any] | None = None) -> LossParams:
    """The paper defaults of loss `name`, with `overrides` applied; unknown keys are errors."""
    spec = get_loss(name)
    fields = {f.name for f in dataclasses.fields(spec.params)}
    unknown = sorted(set(overrides or {}) - fields)
    if unknown:
        raise UsageError(f"unknown {name} loss option(s) {', '.join(unknown)}; "
                         f"{name} accepts: {', '.join(sorted(fields))}")
    params = spec.params(**dict(overrides or {}))
    params.validate()
    return params


def compute_loss(name: str, t: PolicyTensors, params: LossParams | None = None,
                 norm: Normalizer | None = None) -> LossOutput:
    spec = get_loss(name)
    return spec.fn(t, params if params is not None else spec.params(), norm)


# ----------------------------------------------------------------------------- GRPO, DAPO, Dr.GRPO


@dataclass(frozen=True)
class GRPOParams(LossParams):
    """DeepSeekMath: eps 0.2, beta 0.04 (k3 KL inside the token sum), per-sequence token mean."""

    beta: float = 0.04
    agg: str = "seq-mean-token-mean"

    def validate(self) -> None:
        super().validate()
        if self.agg not in AGG_MODES:
            raise UsageError(f"unknown loss aggregation {self.agg!r}; use one of {', '.join(AGG_MODES)}")


@register_loss("grpo", GRPOParams, "group-normalised advantage, token ratio, PPO clip, k3 KL, sequence mean")
def grpo_loss(t: PolicyTensors, p: GRPOParams, norm: Normalizer | None = None) -> LossOutput:
    return _token_level(t, t.logp - t.logp_old, p.eps_low, p.eps_high, p.beta, p.agg, norm)


@dataclass(frozen=True)
class DAPOParams(GRPOParams):
    """DAPO: clip-higher (0.2 / 0.28), no KL, token-level mean over the batch.

    Dynamic sampling and overlong shaping act on rewards and batches, so they live in the trainer
    (`TrainConfig.dynamic_sampling`, `overlong_buffer`, `mask_truncated`), not here.
    """

    eps_high: float = 0.28
    beta: float = 0.0
    agg: str = "token-mean"


@register_loss("dapo", DAPOParams, "clip-higher 0.2/0.28, token-level mean, no KL (+ dynamic sampling in trainer)")
def dapo_loss(t: PolicyTensors, p: DAPOParams, norm: Normalizer | None = None) -> LossOutput:
    return grpo_loss(t, p, norm)


@dataclass(frozen=True)
class DrGRPOParams(GRPOParams):
    """Dr.GRPO: no KL, token sum divided by a constant (batch x max_len); no std scaling of advantages."""

    beta: float = 0.0
    agg: str = "seq-mean-token-sum-norm"


@register_loss("dr_grpo", DrGRPOParams, "token sum / (batch x max length), mean-centred advantages, no KL")
def dr_grpo_loss(t: PolicyTensors, p: DrGRPOParams, norm: Normalizer | None = None) -> LossOutput:
    return grpo_loss(t, p, norm)


# ----------------------------------------------------------------------------- GSPO


@dataclass(frozen=True)
class GSPOParams(LossParams):
    """GSPO: sequence ratio = geometric mean of token ratios, clipped per sequence (3e-4 / 4e-4), no KL.

    `variant="token"` is GSPO-token: each token carries its sequence's ratio value with its own
    gradient, aggregated per-sequence token mean; equal to `sequence` for sequence-level advantages.
    """

    eps_low: float = 3e-4
    eps_high: float = 4e-4
    variant: str = "sequence"

    def validate(self) -> None:
        super().validate()
        if self.variant not in ("sequence", "token"):
            raise UsageError(f"GSPO variant must be 'sequence' or 'token'; got {self.variant!r}")


def sequence_log_ratio(t: PolicyTensors) -> Tensor:
    """log s_i = mean_t log(pi/pi_old): the log of the geometric mean of the token ratios, `[B]`."""
    return sequence_mean(t.logp - t.logp_old, t.mask)


def sequence_ratio_per_token(t: PolicyTensors) -> Tensor:
    """GSPO-token's log ratio: value log s_i at every token, gradient d log pi(y_t) (stop-gradient trick)."""
    log_s = sequence_log_ratio(t).detach()[:, None]
    return t.logp - t.logp.detach() + log_s


@register_loss("gspo", GSPOParams, "sequence-level geometric-mean ratio, sequence-level clip 3e-4/4e-4")
def gspo_loss(t: PolicyTensors, p: GSPOParams, norm: Normalizer | None = None) -> LossOutput:
    if p.variant == "token":
        return _token_level(t, sequence_ratio_per_token(t), p.eps_low, p.eps_high, p.beta,
                            "seq-mean-token-mean", norm)
    adv = _per_sequence(t.advantages)
    log_s = sequence_log_ratio(t)
    per_seq = clipped_surrogate(log_s, adv, p.eps_low, p.eps_high)
    num_seqs = norm.num_seqs if norm is not None else t.mask.shape[0]
    loss = per_seq.sum() / num_seqs
    kl = _kl_term(t, p.beta)
    if kl is not None and p.beta != 0:
        loss = loss + p.beta * aggregate(kl, t.mask, "seq-mean-token-mean", norm)
    with torch.no_grad():
        ratio = log_s.detach().exp()
        seq_mask = (t.mask.sum(-1) > 0).float()
        low, high = _clip_fractions(ratio, adv, seq_mask, p.eps_low, p.eps_high)
        return LossOutput(loss=loss, clip_low=low, clip_high=high, ratio_mean=float(masked_mean(ratio, seq_mask)),
                          kl=None if kl is None else float(masked_mean(kl.detach(), t.mask)))


# ----------------------------------------------------------------------------- MPO


@dataclass(frozen=True)
class MPOParams(GRPOParams):
    """MPO (reconstruction): a block of `k` consecutive tokens is one action with one importance ratio.

    Everything else is GRPO's (PPO clip 0.2, k3 KL 0.04, per-sequence token mean): MPO "only
    modifies the importance sampling ratio". The options the public text leaves open:

    - `layout`: `sliding` (default; token t's block is t..t+k-1, its own and k-1 future tokens,
      which is what the paper's "future information share" ablation implies) or `chunk` (the
      completion is cut into fixed blocks 0..k-1, k..2k-1, ...; each token gets its block's ratio).
    - `ratio`: `geometric` (default; the paper's Eq. 12 surrogate, exp(sum_n w_n log r_n) with
      sum w_n = 1) or `product` (Eq. 11, the exact joint ratio, every weight 1).
    - `weights` (geometric only): `uniform` (1/k each) or `future:p` (the block's first token
      1-p, each later token p/(k-1)). Default `future:0.2`: it keeps each token's own ratio
      dominant, and reviewers name 10-40% future shares as the paper's ablation.
    - `tail`: a block cut short by the end of the completion. `renormalize` (default) rescales the
      weights of the tokens present to sum 1; `pad` counts missing tokens as ratio 1 (log 0).
      For `ratio="product"` both are the same.
    """

    k: int = 5
    layout: str = "sliding"
    ratio: str = "geometric"
    weights: str = "future:0.2"
    tail: str = "renormalize"

    def validate(self) -> None:
        super().validate()
        if self.k < 1:
            raise UsageError(f"MPO block size k must be >= 1; got {self.k}")
        for name, value, allowed in (("layout", self.layout, ("sliding", "chunk")),
                                     ("ratio", self.ratio, ("geometric", "product")),
                                     ("tail", self.tail, ("renormalize", "pad"))):
            if value not in allowed:
                raise UsageError(f"MPO {name} must be one of {', '.join(allowed)}; got {value!r}")
        if self.ratio == "product" and self.weights != "uniform":
            raise UsageError("MPO ratio='product' is the exact joint ratio (every weight 1); "
                             "set weights='uniform' or use ratio='geometric'")
        block_weights(self.k, self.weights)

    def block_weights(self) -> list[float]:
        return [1.0] * self.k if self.ratio == "product" else block_weights(self.k, self.weights)


def block_weights(k: int, spec: str) -> list[float]:
    """The weights w_0..w_{k-1} of a block's tokens (summing to 1) from `uniform` or `future:p`."""
    if spec == "uniform":
        return [1.0 / k] * k
    if spec.startswith("future:"):
        try:
            p = float(spec.split(":", 1)[1])
        except ValueError:
            p = -1.0
        if not 0 <= p <= 1:
            raise UsageError(f"MPO weights {spec!r}: p in future:p must be a number in [0, 1]")
        return [1.0] if k == 1 else [1 - p] + [p / (k - 1)] * (k - 1)
    raise UsageError(f"MPO weights must be 'uniform' or 'future:p' (p in [0, 1]); got {spec!r}")


def block_log_ratio(log_ratio: Tensor, mask: Tensor, k: int, weights: list[float], *, layout: str = "sliding",
                    renormalize: bool = True) -> Tensor:
    """Per-token log of the block importance ratio, `[B, T]`: sum_n w_n log r_n over the token's block.

    With `renormalize`, weights are rescaled over the block's tokens that exist (mask 1), so a
    block cut by the end of the completion is still a weighted geometric mean.
    """
    w = torch.tensor(weights, dtype=log_ratio.dtype, device=log_ratio.device)
    lr = log_ratio * mask
    m = mask.to(log_ratio.dtype)
    if layout == "sliding":
        lr_win = F.pad(lr, (0, k - 1)).unfold(-1, k, 1)  # [B, T, k]: tokens t..t+k-1
        m_win = F.pad(m, (0, k - 1)).unfold(-1, k, 1)
        num = (lr_win * w).sum(-1)
        if not renormalize:
            return num
        return num / (m_win * w).sum(-1).clamp(min=torch.finfo(log_ratio.dtype).tiny)
    if layout == "chunk":
        batch, length = lr.shape
        n_chunks = -(-length // k)
        pad = n_chunks * k - length
        lr_c = F.pad(lr, (0, pad)).view(batch, n_chunks, k)
        m_c = F.pad(m, (0, pad)).view(batch, n_chunks, k)
        num = (lr_c * w).sum(-1)
        if renormalize:
            num = num / (m_c * w).sum(-1).clamp(min=torch.finfo(log_ratio.dtype).tiny)
        return num.repeat_interleave(k, dim=1)[:, :length]
    raise UsageError(f"MPO layout must be 'sliding' or 'chunk'; got {layout!r}")


@register_loss("mpo", MPOParams, "block of k tokens = one action; block ratio from its tokens' ratios, PPO clip")
def mpo_loss(t: PolicyTensors, p: MPOParams, norm: Normalizer | None = None) -> LossOutput:
    log_r = block_log_ratio(t.logp - t.logp_old, t.mask, p.k, p.block_weights(), layout=p.layout,
                            renormalize=p.ratio == "geometric" and p.tail == "renormalize")
    return _token_level(t, log_r, p.eps_low, p.eps_high, p.beta, p.agg, norm)


# ----------------------------------------------------------------------------- TEPO


@dataclass(frozen=True)
class TEPOParams(LossParams):
    """TEPO (reconstruction): sequence likelihood carried per token, token-level mean, masked KL.

    Each token's ratio is its sequence's geometric-mean ratio (GSPO-token form), clipped DAPO-style
    (0.2 / 0.28) and aggregated per token over the batch. The k3 KL to the reference (beta 0.04)
    applies only where the advantage is positive and entropy is decreasing, per `criterion`:

    - `analytic` (default): log pi(y_t) + H_t > 0. For a softmax policy dH/dz_a = -pi_a (log pi_a
      + H), so raising the sampled token's logit lowers the entropy exactly when this holds.
    - `empirical`: H_t now is lower than at rollout (`entropy_old`); empty with one update per rollout.
    """

    eps_high: float = 0.28
    beta: float = 0.04
    criterion: str = "analytic"

    def validate(self) -> None:
        super().validate()
        if self.criterion not in ("analytic", "empirical"):
            raise UsageError(f"TEPO criterion must be 'analytic' or 'empirical'; got {self.criterion!r}")


def entropy_decreasing(t: PolicyTensors, criterion: str) -> Tensor:
    """Boolean `[B, T]`: tokens whose entropy is falling under the update, by TEPO's `criterion`."""
    if t.entropy is None:
        raise ValueError("TEPO needs the current policy's per-token entropy (PolicyTensors.entropy)")
    if criterion == "analytic":
        return (t.logp.detach() + t.entropy.detach()) > 0
    if t.entropy_old is None:
        raise ValueError("TEPO criterion 'empirical' needs the entropy at rollout (PolicyTensors.entropy_old)")
    return t.entropy.detach() < t.entropy_old


def tepo_kl_mask(t: PolicyTensors, criterion: str) -> Tensor:
    """Where TEPO's KL applies: completion tokens of positive-advantage sequences with decreasing entropy."""
    positive = (_per_sequence(t.advantages) > 0)[:, None]
    return (positive & entropy_decreasing(t, criterion) & (t.mask > 0)).to(t.logp.dtype)


@register_loss("tepo", TEPOParams, "sequence-likelihood ratio per token, token mean, KL masked to A>0 & H falling")
def tepo_loss(t: PolicyTensors, p: TEPOParams, norm: Normalizer | None = None) -> LossOutput:
    kl_mask = tepo_kl_mask(t, p.criterion) if p.beta != 0 else None
    return _token_level(t, sequence_ratio_per_token(t), p.eps_low, p.eps_high, p.beta, "token-mean", norm,
                        kl_mask=kl_mask)
