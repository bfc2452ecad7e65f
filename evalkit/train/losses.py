"""Policy-gradient losses of the slim trainer: pure functions over per-token tensors, registered by name.

Owns the seven policy objectives (PPO, GRPO, DAPO, Dr.GRPO, GSPO, MPO, TEPO) and the pieces they
share, written once: PPO clipping, the k3 KL estimator, loss aggregation, clip statistics. Every loss
has the same signature, `loss(t: PolicyTensors, p: <its params dataclass>, norm: Normalizer | None)
-> LossOutput`, and its own frozen hyperparameter dataclass whose defaults are the paper's. It owns
nothing about advantages (advantages.py: group advantages; ppo.py: GAE and the value loss), sampling
or models.

Shapes: `[B, T]` per completion token (completions left-aligned, padding masked out), `[B]` per
sequence; advantages are `[B]` (one per sequence, group-relative) or `[B, T]` (per token, GAE).
Gradients flow through `PolicyTensors.logp` and, for MPO with MTP modules, `future_logp`; every
other tensor is treated as data.

Fidelity. GRPO, DAPO, Dr.GRPO and GSPO follow their papers and are cross-checked against TRL's
GRPOTrainer in value and gradient (tests/train/test_train_trl_crosscheck.py). MPO follows the text of
arXiv 2602.14386v1 (equations 9-11, cited where they are implemented); the choices it leaves open are
parameters. TEPO (arXiv 2510.09369 / 2604.12736) is a reconstruction from abstracts: every choice the
public text leaves open is a parameter, and the defaults are documented below.
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
from graders.registry import Registry

AggMode = Literal["seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm"]
AGG_MODES: tuple[str, ...] = ("seq-mean-token-mean", "token-mean", "seq-mean-token-sum-norm")


@dataclass(frozen=True)
class PolicyTensors:
    """What a loss sees for one (micro-)batch of completions.

    `logp`: log-prob of each sampled token under the policy being trained (carries the gradient).
    `logp_old`: the same under the policy that sampled the batch. `logp_ref`: under the frozen
    reference policy (needed when a KL coefficient is non-zero). `entropy`: the current policy's
    entropy at each position; `entropy_old`: at rollout time (TEPO's empirical criterion only).
    `advantages`: `[B]` (group-relative, one per sequence) or `[B, T]` (per token, from a critic).
    """

    logp: Tensor
    logp_old: Tensor
    mask: Tensor
    advantages: Tensor
    logp_ref: Tensor | None = None
    entropy: Tensor | None = None
    entropy_old: Tensor | None = None
    #: `[B, T, K-1]` MPO with MTP modules: at position t, module n's log-prob of token t+n-1 (n = 2..K),
    #: under the policy being trained (may carry a gradient) and under the rollout policy
    future_logp: Tensor | None = None
    future_logp_old: Tensor | None = None


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
    ratio_var: float = 0.0  # variance of the (clipped) importance ratio over the units above (MPO Fig. 4)
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


def check_aggregation(mode: str) -> None:
    if mode not in AGG_MODES:
        raise UsageError(f"unknown loss aggregation {mode!r}; use one of {', '.join(AGG_MODES)}")


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


def masked_var(x: Tensor, mask: Tensor) -> Tensor:
    """Population variance of the masked entries."""
    mean = masked_mean(x, mask)
    return masked_mean((x - mean) ** 2, mask)


def _per_sequence(advantages: Tensor) -> Tensor:
    if advantages.dim() != 1:
        raise ValueError(f"advantages must be one per sequence, shape [B]; got {tuple(advantages.shape)}")
    return advantages


def _advantage_grid(advantages: Tensor, mask: Tensor) -> Tensor:
    """Advantages broadcastable against `[B, T]`: `[B]` -> `[B, 1]`; per-token `[B, T]` as they are."""
    if advantages.dim() == 1:
        return advantages[:, None]
    if advantages.shape != mask.shape:
        raise ValueError(f"per-token advantages must have the mask's shape {tuple(mask.shape)}; "
                         f"got {tuple(advantages.shape)}")
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
                 norm: Normalizer | None, kl_mask: Tensor | None = None,
                 kl_target: Tensor | None = None) -> LossOutput:
    """PPO-clip on a per-token log-ratio plus beta x k3 KL inside the token sum (GRPO's form), aggregated.

    The KL penalty is to the reference (`logp_ref`) unless `kl_target` names other log-probs (TEPO's
    option); the logged `kl` is always to the reference when there is one.
    """
    adv = _advantage_grid(t.advantages, t.mask)
    per_token = clipped_surrogate(log_ratio, adv, eps_low, eps_high)
    kl = _kl_term(t, beta if kl_target is None else 0.0)
    if beta != 0:
        penalty = kl if kl_target is None else k3_kl(t.logp, kl_target)
        per_token = per_token + beta * (penalty if kl_mask is None else penalty * kl_mask)
    loss = aggregate(per_token, t.mask, agg, norm)
    with torch.no_grad():
        ratio = log_ratio.detach().exp()
        low, high = _clip_fractions(ratio, adv.expand_as(ratio), t.mask, eps_low, eps_high)
        return LossOutput(
            loss=loss, clip_low=low, clip_high=high, ratio_mean=float(masked_mean(ratio, t.mask)),
            ratio_var=float(masked_var(ratio, t.mask)),
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

    @property
    def uses_critic(self) -> bool:
        """True when advantages come from a value model (GAE), False for group-relative advantages."""
        return False

    @property
    def needs_reference(self) -> bool:
        """Whether the loss needs the frozen reference policy's log-probs."""
        return self.beta > 0

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


#: The algorithms by name; third-party packages add losses through the entry-point group `evalkit.losses`
#: (the entry point names a `LossSpec`).
LOSSES: Registry[LossSpec] = Registry("algorithm", entry_point_group="evalkit.losses", unknown=UsageError)


def register_loss(name: str, params: type[LossParams], summary: str) -> Callable[[LossFn], LossFn]:
    """Register `fn` under `name` with its hyperparameter dataclass (lm-eval / verl style registry)."""

    def decorate(fn: LossFn) -> LossFn:
        if name in LOSSES:
            raise ValueError(f"loss {name!r} is registered twice")
        LOSSES.register(name, LossSpec(name=name, fn=fn, params=params, summary=summary))
        return fn

    return decorate


def get_loss(name: str) -> LossSpec:
    """The loss registered as `name`; an unknown name is a one-line error (exit 2) with a suggestion."""
    return LOSSES.get(name)


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


# ----------------------------------------------------------------------------- PPO


@dataclass(frozen=True)
class CriticParams(LossParams):
    """How the trainer estimates per-token advantages with a value model (GAE); read by evalkit/train/critic.py.

    - `critic`: `model` (default; a separate value model initialised from the policy: its body
      deep-copied with a new scalar head, trained by its own AdamW at `critic_lr`, as verl and TRL
      do) or `head` (a scalar head on the policy's own last hidden state; the value loss is added
      to the policy loss with weight `vf_coef`, the head trained at `critic_lr`).
    - `critic_lr` 1e-5: the MPO paper's Table 5 critic learning rate (the actor's, 1e-6, is `--lr`).
    - `gamma` 1.0, `lam` 1.0: GAE's discount and lambda; verl's defaults (the MPO paper does not state
      them; TRL's PPO used lam 0.95).
    - `value_clip` 0.5: new values are clipped to old +- this before the squared error (verl's
      `cliprange_value`; TRL's PPO used 0.2).
    - `whiten` True: advantages are whitened over the batch's tokens (verl's and TRL's GAE do).
    - `kl_coef` 0.0: a per-token KL-to-reference penalty in the reward (InstructGPT style; TRL's PPO
      used 0.05). Off in verl's defaults and in the MPO paper, whose Eq. 11 has no KL term.
    """

    critic: str = "model"
    critic_lr: float = 1e-5
    gamma: float = 1.0
    lam: float = 1.0
    value_clip: float = 0.5
    vf_coef: float = 0.5
    whiten: bool = True
    kl_coef: float = 0.0

    def validate(self) -> None:
        super().validate()
        if self.critic not in ("model", "head"):
            raise UsageError(f"critic must be 'model' (a separate value model) or 'head' (a value head on the "
                             f"policy); got {self.critic!r}")
        if not (0 <= self.gamma <= 1 and 0 <= self.lam <= 1):
            raise UsageError(f"GAE gamma and lam must be in [0, 1]; got gamma={self.gamma}, lam={self.lam}")
        if self.critic_lr <= 0 or self.value_clip <= 0 or self.vf_coef < 0 or self.kl_coef < 0:
            raise UsageError("critic_lr and value_clip must be > 0, vf_coef and kl_coef >= 0")

    @property
    def uses_critic(self) -> bool:
        return True

    @property
    def needs_reference(self) -> bool:
        return self.beta > 0 or self.kl_coef > 0


@dataclass(frozen=True)
class PPOParams(CriticParams):
    """PPO with a critic (Schulman et al. 2017), as the MPO paper runs its PPO baseline (verl's defaults).

    Per-token advantages A_t from GAE over the critic's values, the graded outcome as the reward of
    the last completion token; the clipped surrogate on the token ratio (eps 0.2 both sides), a token
    mean over all tokens of the batch, no KL (beta 0). One sample per prompt (G = 1) is enough.
    """

    agg: str = "token-mean"

    def validate(self) -> None:
        super().validate()
        check_aggregation(self.agg)


@register_loss("ppo", PPOParams, "per-token GAE advantages from a critic, token ratio, PPO clip, token mean, no KL")
def ppo_loss(t: PolicyTensors, p: PPOParams, norm: Normalizer | None = None) -> LossOutput:
    return _token_level(t, t.logp - t.logp_old, p.eps_low, p.eps_high, p.beta, p.agg, norm)


# ----------------------------------------------------------------------------- GRPO, DAPO, Dr.GRPO


@dataclass(frozen=True)
class GRPOParams(LossParams):
    """DeepSeekMath: eps 0.2, beta 0.04 (k3 KL inside the token sum), per-sequence token mean."""

    beta: float = 0.04
    agg: str = "seq-mean-token-mean"

    def validate(self) -> None:
        super().validate()
        check_aggregation(self.agg)


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
                          ratio_var=float(masked_var(ratio, seq_mask)),
                          kl=None if kl is None else float(masked_mean(kl.detach(), t.mask)))


# ----------------------------------------------------------------------------- MPO


MPO_BASES = ("ppo", "grpo")
MPO_FUTURES = ("backbone", "mtp")
MPO_MTP_BACKBONE = ("detach", "through", "frozen")
#: defaults that depend on MPO's base algorithm: the paper's (PPO) and the earlier GRPO reconstruction
_MPO_BASE_DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {"beta": 0.0, "agg": "token-mean", "weights": "beta2:0.06,lambda:0.8"},
    "grpo": {"beta": 0.04, "agg": "seq-mean-token-mean", "weights": "future:0.2"},
}


@dataclass(frozen=True)
class MPOParams(CriticParams):
    """MPO (Xu et al., arXiv 2602.14386v1): a block of `k` consecutive tokens is one action.

    The paper's method, the default (`base="ppo"`): PPO with a critic and one sample per prompt
    (Sec. 5.1), the block ratio of Eq. 9, `R~_t = exp(sum_{n=1..K} beta_n log r_{t+n})` with
    `r_{t+n} = pi(o_{t+n} | o_{1:t+n-1}) / pi_old(...)`, the weights of Eq. 10, `beta_n = beta_2 *
    lambda^(n-2)` for n >= 2 and beta_1 the rest (best grid point K = 5, beta_2 = 0.06, lambda = 0.8:
    a future share of 17.7%; the paper advises keeping it under 30%, best at 10-20%), and the
    objective of Eq. 11: the clipped surrogate on R~ with per-token advantages, a token mean over
    all tokens of the batch, no KL term (beta 0). eps is not stated; symmetric 0.2 here.

    Options:
    - `base`: `ppo` (default) or `grpo`, the earlier GRPO-based reconstruction (the paper names
      GRPO-based MPO future work): group advantages, k3 KL 0.04, per-sequence token mean,
      weights `future:0.2`. `beta`, `agg` and `weights` default per base; set them to override.
    - `weights`: `beta2:B,lambda:L` (Eq. 10), `uniform` (1/K each) or `future:p` (beta_1 = 1-p,
      the rest p/(K-1)), all summing to 1.
    - `future`: where the future terms log r_{t+n}, n >= 2, come from. `backbone` (default):
      the policy's own log-prob of token t+n at position t+n-1, which is what Eq. 9 writes. `mtp`:
      the paper's multi-token prediction modules (Sec. 3.2, App. A.1; evalkit/train/mtp.py):
      module n's log-prob of token t+n read at position t, under the current and the rollout
      policy (`PolicyTensors.future_logp`, `future_logp_old`).
    - `mtp_backbone` (with `future="mtp"`): what MPO fine-tuning trains. The paper is ambiguous:
      App. A.1 says gradients are not sent to the backbone and only the MTP modules train, while
      Sec. 4 fine-tunes the policy. `detach` (default) reads both statements as: the future terms'
      gradient stops at the backbone (the modules see a detached hidden state) while the
      backbone learns from its own token's term; `through` lets the future terms' gradient reach
      the backbone; `frozen` is App. A.1 read literally: the backbone is not updated at all.
    - `layout`: `sliding` (default; the paper's: token t's block is t..t+K-1) or `chunk` (fixed
      blocks 0..K-1, K..2K-1, ..., each token carrying its block's ratio; backbone only).
    - `ratio`: `geometric` (default, Eq. 9) or `product` (Eq. 8, every weight 1: the exact joint
      ratio, which the paper rejects for its variance).
    - `tail`: a block cut by the end of the completion. `renormalize` (default) rescales the weights
      of the terms present to sum 1; `pad` counts missing terms as log-ratio 0. Not stated in the paper.
    - The critic options of `CriticParams` apply with `base="ppo"`.
    """

    beta: float | None = None  # type: ignore[assignment]
    agg: str | None = None
    weights: str | None = None
    k: int = 5
    base: str = "ppo"
    future: str = "backbone"
    mtp_backbone: str = "detach"
    layout: str = "sliding"
    ratio: str = "geometric"
    tail: str = "renormalize"

    def __post_init__(self) -> None:
        if self.base not in MPO_BASES:
            raise UsageError(f"MPO base must be one of {', '.join(MPO_BASES)}; got {self.base!r}")
        for name, value in _MPO_BASE_DEFAULTS[self.base].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def validate(self) -> None:
        super().validate()
        check_aggregation(self.agg)
        if self.k < 1:
            raise UsageError(f"MPO block size k must be >= 1; got {self.k}")
        for name, value, allowed in (("layout", self.layout, ("sliding", "chunk")),
                                     ("ratio", self.ratio, ("geometric", "product")),
                                     ("tail", self.tail, ("renormalize", "pad")),
                                     ("future", self.future, MPO_FUTURES),
                                     ("mtp_backbone", self.mtp_backbone, MPO_MTP_BACKBONE)):
            if value not in allowed:
                raise UsageError(f"MPO {name} must be one of {', '.join(allowed)}; got {value!r}")
        if self.ratio == "product" and self.weights != "uniform":
            raise UsageError("MPO ratio='product' is the exact joint ratio (every weight 1, Eq. 8); "
                             "set weights='uniform' or use ratio='geometric'")
        if self.future == "mtp" and self.layout != "sliding":
            raise UsageError("MPO future='mtp' reads each position's own block from the MTP modules: "
                             "use layout='sliding'")
        block_weights(self.k, self.weights)

    @property
    def uses_critic(self) -> bool:
        return self.base == "ppo"

    @property
    def needs_reference(self) -> bool:
        return self.beta > 0 or (self.uses_critic and self.kl_coef > 0)

    @property
    def mtp_modules(self) -> int:
        """How many MTP modules the trainer must build (K - 1 with `future="mtp"`, else 0)."""
        return self.k - 1 if self.future == "mtp" else 0

    def block_weights(self) -> list[float]:
        return [1.0] * self.k if self.ratio == "product" else block_weights(self.k, self.weights)


def block_weights(k: int, spec: str) -> list[float]:
    """The weights beta_1..beta_K of a block's tokens (summing to 1) from a weights spec.

    `beta2:B,lambda:L` is Eq. 10 (beta_n = B * L^(n-2) for n >= 2, beta_1 the rest); `uniform` is 1/K
    each; `future:p` gives beta_1 = 1-p and the rest p/(K-1) each.
    """
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
    if spec.startswith("beta2:") or spec.startswith("lambda:"):
        values = _eq10_values(spec)
        beta2, lam = values["beta2"], values["lambda"]
        future = [beta2 * lam ** (n - 2) for n in range(2, k + 1)]
        if sum(future) > 1 + 1e-12:
            raise UsageError(f"MPO weights {spec!r}: with k={k} the future weights sum to {sum(future):.3f} > 1; "
                             "lower beta2 or lambda")
        return [max(0.0, 1 - sum(future)), *future]
    raise UsageError(f"MPO weights must be 'beta2:B,lambda:L' (Eq. 10), 'uniform' or 'future:p'; got {spec!r}")


def _eq10_values(spec: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for part in spec.split(","):
        name, _, raw = part.partition(":")
        try:
            values[name.strip()] = float(raw)
        except ValueError:
            raise UsageError(f"MPO weights {spec!r}: {part!r} is not NAME:NUMBER") from None
    if set(values) != {"beta2", "lambda"}:
        raise UsageError(f"MPO weights {spec!r}: Eq. 10 needs exactly beta2:B and lambda:L")
    if not 0 <= values["beta2"] <= 1 or not 0 <= values["lambda"] <= 1:
        raise UsageError(f"MPO weights {spec!r}: beta2 and lambda must be in [0, 1] (Eq. 10)")
    return values


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


def future_mask(mask: Tensor, k: int) -> Tensor:
    """`[B, T, k-1]`: whether the token n-1 places after t (n = 2..k) is a completion token."""
    return F.pad(mask, (0, k - 1)).unfold(-1, k, 1)[..., 1:]


def mtp_block_log_ratio(own_log_ratio: Tensor, future_log_ratio: Tensor, mask: Tensor, weights: list[float], *,
                        renormalize: bool = True) -> Tensor:
    """Eq. 9 with the future terms from MTP modules: `beta_1 log r_t + sum_{n>=2} beta_n log r^(n)_t`, `[B, T]`.

    `own_log_ratio` `[B, T]` is the backbone's token ratio; `future_log_ratio` `[B, T, K-1]` holds,
    at position t, module n's log-ratio of token t+n-1. Terms whose token lies past the completion
    are dropped (and, with `renormalize`, the remaining weights rescaled to sum 1).
    """
    k = len(weights)
    if future_log_ratio.shape[:2] != mask.shape or future_log_ratio.shape[-1] != k - 1:
        raise ValueError(f"future log-ratios must be [B, T, {k - 1}] for mask {tuple(mask.shape)}; "
                         f"got {tuple(future_log_ratio.shape)}")
    w = torch.tensor(weights, dtype=own_log_ratio.dtype, device=own_log_ratio.device)
    m = mask.to(own_log_ratio.dtype)
    valid = future_mask(m, k)
    num = w[0] * own_log_ratio * m + (future_log_ratio * valid * w[1:]).sum(-1)
    if not renormalize:
        return num
    den = w[0] * m + (valid * w[1:]).sum(-1)
    return num / den.clamp(min=torch.finfo(own_log_ratio.dtype).tiny)


@register_loss("mpo", MPOParams, "MPO (Eq. 9-11): K-token block ratio, PPO with a critic by default, token mean")
def mpo_loss(t: PolicyTensors, p: MPOParams, norm: Normalizer | None = None) -> LossOutput:
    renormalize = p.ratio == "geometric" and p.tail == "renormalize"
    own = t.logp - t.logp_old
    if p.future == "mtp" and p.k > 1:
        if t.future_logp is None or t.future_logp_old is None:
            raise ValueError("MPO future='mtp' needs the MTP modules' log-probs (PolicyTensors.future_logp "
                             "and future_logp_old)")
        log_r = mtp_block_log_ratio(own, t.future_logp - t.future_logp_old, t.mask, p.block_weights(),
                                    renormalize=renormalize)
    else:
        log_r = block_log_ratio(own, t.mask, p.k, p.block_weights(), layout=p.layout, renormalize=renormalize)
    return _token_level(t, log_r, p.eps_low, p.eps_high, p.beta, p.agg, norm)


# ----------------------------------------------------------------------------- TEPO


@dataclass(frozen=True)
class TEPOParams(LossParams):
    """TEPO (reconstruction): sequence likelihood carried per token, token-level mean, masked KL.

    Each token's ratio is its sequence's geometric-mean ratio (GSPO-token form), clipped DAPO-style
    (0.2 / 0.28) and aggregated per token over the batch. The k3 KL (beta 0.04) applies only where
    the advantage is positive and entropy is decreasing, per `criterion`:

    - `analytic` (default): log pi(y_t) + H_t > 0. For a softmax policy dH/dz_a = -pi_a (log pi_a
      + H), so raising the sampled token's logit lowers the entropy exactly when this holds.
    - `empirical`: H_t now is lower than at rollout (`entropy_old`); empty with one update per rollout.

    `kl_target`, unresolved: the masked KL's target is the frozen reference policy (`reference`,
    default, as GRPO's KL) or the rollout policy (`old`): TEPO's Algorithm 1 calls it the
    "pre-update (reference) policy", which reads either way, and no code is public. With `old` and
    one update per rollout the penalty and its gradient are zero (the policy equals the old one).
    """

    eps_high: float = 0.28
    beta: float = 0.04
    criterion: str = "analytic"
    kl_target: str = "reference"

    def validate(self) -> None:
        super().validate()
        if self.criterion not in ("analytic", "empirical"):
            raise UsageError(f"TEPO criterion must be 'analytic' or 'empirical'; got {self.criterion!r}")
        if self.kl_target not in ("reference", "old"):
            raise UsageError(f"TEPO kl_target must be 'reference' or 'old'; got {self.kl_target!r}")

    @property
    def needs_reference(self) -> bool:
        return self.beta > 0 and self.kl_target == "reference"


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
    positive = _advantage_grid(t.advantages, t.mask) > 0
    return (positive & entropy_decreasing(t, criterion) & (t.mask > 0)).to(t.logp.dtype)


@register_loss("tepo", TEPOParams, "sequence-likelihood ratio per token, token mean, KL masked to A>0 & H falling")
def tepo_loss(t: PolicyTensors, p: TEPOParams, norm: Normalizer | None = None) -> LossOutput:
    kl_mask = tepo_kl_mask(t, p.criterion) if p.beta != 0 else None
    return _token_level(t, sequence_ratio_per_token(t), p.eps_low, p.eps_high, p.beta, "token-mean", norm,
                        kl_mask=kl_mask, kl_target=t.logp_old if p.kl_target == "old" else None)
