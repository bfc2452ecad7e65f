"""Rewards -> advantages: group normalisation, and DAPO's reward-side pieces (dynamic sampling, overlong).

Owns what happens between the reward function and the loss. Rewards are `[B]` with the G samples
of each prompt contiguous (`B = n_prompts * G`), which is how `rollout` lays them out.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from evalkit.errors import UsageError

Scale = Literal["group", "batch", "none"]
SCALES: tuple[str, ...] = ("group", "batch", "none")


def _groups(rewards: Tensor, group_size: int) -> Tensor:
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not split into groups of {group_size}")
    return rewards.view(-1, group_size)


def group_advantages(rewards: Tensor, group_size: int, scale: str = "group", eps: float = 1e-4) -> Tensor:
    """GRPO's outcome advantage: reward minus its group mean, divided by a standard deviation.

    `scale="group"`: the group's std (Bessel-corrected, + eps, as TRL and verl); `"batch"`: the
    whole batch's std (TRL's option); `"none"`: no division (Dr.GRPO). A group whose rewards are
    all equal gets advantage 0 under every scale.
    """
    grouped = _groups(rewards, group_size)
    adv = grouped - grouped.mean(dim=1, keepdim=True)
    if scale == "group":
        std = grouped.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(grouped[:, :1])
        adv = adv / (std + eps)
    elif scale == "batch":
        std = rewards.std() if rewards.numel() > 1 else torch.zeros((), dtype=rewards.dtype)
        adv = adv / (std + eps)
    elif scale != "none":
        raise UsageError(f"unknown advantage scale {scale!r}; use one of {', '.join(SCALES)}")
    return adv.reshape(-1)


def informative_groups(rewards: Tensor, group_size: int) -> Tensor:
    """Boolean per group: rewards not all equal (DAPO's dynamic sampling keeps only these)."""
    grouped = _groups(rewards, group_size)
    return (grouped != grouped[:, :1]).any(dim=1)


def overlong_penalty(lengths: Tensor, max_len: int, buffer: int) -> Tensor:
    """DAPO's soft overlong punishment (Eq. 13), added to the reward.

    0 up to `max_len - buffer` tokens, then falling linearly to -1 at `max_len`, and -1 beyond.
    """
    if buffer <= 0 or buffer > max_len:
        raise UsageError(f"overlong buffer must be in 1..max_len ({max_len}); got {buffer}")
    lengths = lengths.to(torch.float64)
    start = max_len - buffer
    penalty = ((start - lengths) / buffer).clamp(max=0.0)
    return torch.where(lengths > max_len, torch.full_like(penalty, -1.0), penalty)
