"""PPO's critic-side arithmetic: outcome rewards per token, GAE, whitening, and the clipped value loss.

Pure tensor functions over `[B, T]` completion tokens (completions left-aligned, padding masked
out), cross-checked against verl's `compute_gae_advantage_return` and `compute_value_loss`
(tests/train/test_train_ppo.py). The value model itself lives in critic.py; the policy loss in
losses.py. Everything here is data: nothing carries a gradient except `values` in `value_loss`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from evalkit.train.losses import Normalizer, aggregate


def outcome_token_rewards(scores: Tensor, mask: Tensor, kl: Tensor | None = None, kl_coef: float = 0.0) -> Tensor:
    """`[B, T]` rewards: each sequence's graded score on its last completion token, minus `kl_coef` x KL per token.

    The per-token KL term (log pi_old - log pi_ref, as TRL's and verl's PPO put it in the reward) is
    optional; the MPO paper and verl's defaults leave it out.
    """
    lengths = mask.sum(-1).long()
    rewards = torch.zeros_like(mask, dtype=scores.dtype)
    rows = torch.nonzero(lengths > 0).flatten()
    rewards[rows, lengths[rows] - 1] = scores[rows]
    if kl is not None and kl_coef:
        rewards = rewards - kl_coef * kl * mask
    return rewards


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float = 1.0, lam: float = 1.0) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over each completion: (advantages, returns).

    delta_t = r_t + gamma V_{t+1} - V_t with V past the last completion token = 0, and
    A_t = delta_t + gamma lam A_{t+1}; returns = A + V (the critic's regression target). Masked
    positions neither contribute nor receive (as verl skips non-response tokens).
    """
    with torch.no_grad():
        m = mask.to(values.dtype)
        next_value = torch.zeros_like(values[:, 0])
        next_adv = torch.zeros_like(values[:, 0])
        advantages = torch.zeros_like(values)
        for t in reversed(range(values.shape[1])):
            delta = rewards[:, t] + gamma * next_value - values[:, t]
            adv = delta + gamma * lam * next_adv
            next_value = torch.where(m[:, t] > 0, values[:, t], next_value)
            next_adv = torch.where(m[:, t] > 0, adv, next_adv)
            advantages[:, t] = adv * m[:, t]
        return advantages, (advantages + values) * m


def whiten(x: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    """(x - mean) / sqrt(var + eps) over the masked entries, Bessel-corrected var (TRL's and verl's `masked_whiten`)."""
    m = mask.to(x.dtype)
    count = m.sum()
    if count < 2:
        return (x - (x * m).sum() / count.clamp(min=1)) * m
    mean = (x * m).sum() / count
    var = (((x - mean) ** 2) * m).sum() / count * (count / (count - 1))
    return (x - mean) * torch.rsqrt(var + eps) * m


def value_loss(values: Tensor, values_old: Tensor, returns: Tensor, mask: Tensor, clip: float,
               norm: Normalizer | None = None) -> tuple[Tensor, float]:
    """PPO's clipped value loss and the fraction of tokens where the clipped term was the larger.

    `0.5 * token-mean(max((V - R)^2, (clip(V, V_old - clip, V_old + clip) - R)^2))`; the token mean
    uses `norm` (the optimizer batch's token count) so micro-batches add up.
    """
    clipped = values_old + (values - values_old).clamp(-clip, clip)
    unclipped_loss = (values - returns) ** 2
    clipped_loss = (clipped - returns) ** 2
    loss = 0.5 * aggregate(torch.maximum(unclipped_loss, clipped_loss), mask, "token-mean", norm)
    with torch.no_grad():
        m = mask.to(values.dtype)
        clip_frac = float(((clipped_loss > unclipped_loss).to(values.dtype) * m).sum() / m.sum().clamp(min=1))
    return loss, clip_frac
