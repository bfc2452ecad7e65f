"""Shared fixtures for the trainer tests: a small off-policy batch in float64."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import torch

from evalkit.train.losses import PolicyTensors


def make_batch(seed: int = 0, batch: int = 6, length: int = 7, drift: float = 0.3,
               lengths: list[int] | None = None) -> PolicyTensors:
    """Random log-probs of sampled tokens with ragged lengths; `drift` moves old/ref away from new."""
    g = torch.Generator().manual_seed(seed)
    lengths = lengths or [length - (i % 4) for i in range(batch)]
    mask = torch.zeros(batch, length, dtype=torch.float64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    logits = torch.randn(batch, length, 5, generator=g, dtype=torch.float64)
    logp_all = logits.log_softmax(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    logp = logp_all[..., 0].clone().requires_grad_(True)
    logp_old = logp.detach() + drift * torch.randn(batch, length, generator=g, dtype=torch.float64)
    logp_ref = logp.detach() + drift * torch.randn(batch, length, generator=g, dtype=torch.float64)
    adv = torch.randn(batch, generator=g, dtype=torch.float64)
    entropy_old = entropy + 0.1 * torch.randn(batch, length, generator=g, dtype=torch.float64)
    return PolicyTensors(logp=logp, logp_old=logp_old, mask=mask, advantages=adv, logp_ref=logp_ref,
                         entropy=entropy, entropy_old=entropy_old)


@pytest.fixture
def batch_factory() -> Callable[..., PolicyTensors]:
    return make_batch


def _value_and_grad(fn: Callable[[PolicyTensors], torch.Tensor], t: PolicyTensors) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss value and d loss / d logp for a fresh copy of `t.logp` (so calls do not share .grad)."""
    logp = t.logp.detach().clone().requires_grad_(True)
    fresh = dataclasses.replace(t, logp=logp)
    loss = fn(fresh)
    (grad,) = torch.autograd.grad(loss, logp)
    return loss.detach(), grad


@pytest.fixture
def value_and_grad() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    return _value_and_grad
