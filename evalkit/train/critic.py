"""PPO's value model: the values of completion tokens, and their update.

Two shapes, chosen by the loss option `critic` (losses.CriticParams):

- `model` (default): a separate critic initialised from the policy, as verl and TRL build theirs:
  the policy's transformer body deep-copied, with a new scalar head (zero-initialised, so every
  value starts at 0), trained by its own AdamW at `critic_lr`.
- `head`: a scalar head on the policy's own last hidden state (one body for both); the value loss
  joins the policy loss with weight `vf_coef`, and the head is a parameter group of the policy's
  optimizer at `critic_lr`. Cheaper, but the value loss then shapes the policy's body too.

The value of completion token t is read at the position that predicts it (the state before the
token, as TRL's and verl's critics do). The critic is never part of a checkpoint that `evalkit run`
evaluates: checkpoints stay plain policies. It owns no arithmetic (GAE and the loss are in ppo.py).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from evalkit.errors import UsageError
from evalkit.train.losses import CriticParams
from evalkit.train.rollout import PolicyForward, Rollout, sequence_layout


def hidden_size(model: Any) -> int:
    size = getattr(model.config, "hidden_size", None)
    if not isinstance(size, int):
        raise UsageError(f"{type(model).__name__} has no config.hidden_size; a critic needs a transformers "
                         "decoder model")
    return size


def model_body(model: Any) -> nn.Module:
    """The transformer body of a causal LM (`LlamaForCausalLM.model`): hidden states without the LM head."""
    body = getattr(model, "base_model", None)
    if body is None or body is model:
        raise UsageError(f"{type(model).__name__} exposes no transformer body (base_model); the critic "
                         "initialised from the policy needs one; use --loss-option critic=head")
    return body


class ValueHead(nn.Module):
    """hidden `[N, L, H]` -> one scalar per position, in float32; zero-initialised (all values start at 0)."""

    def __init__(self, hidden: int, device: Any = None) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden, 1, device=device, dtype=torch.float32)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.linear(hidden.float()).squeeze(-1)


class ValueModel(nn.Module):
    """A critic initialised from the policy: a deep copy of its body with a new `ValueHead`."""

    def __init__(self, policy: Any) -> None:
        super().__init__()
        device = next(policy.parameters()).device
        self.body = copy.deepcopy(model_body(policy)).eval().requires_grad_(True)
        self.head = ValueHead(hidden_size(policy), device=device)

    def forward(self, rollout: Rollout) -> Tensor:
        """`[N, T]` values of the completion tokens of `rollout`."""
        input_ids, attention, positions = sequence_layout(rollout)
        hidden = self.body(input_ids=input_ids, attention_mask=attention, position_ids=positions).last_hidden_state
        return self.head(completion_states(hidden, rollout.completion_ids.shape[1]))


def completion_states(hidden: Tensor, width: int) -> Tensor:
    """The hidden states at the positions that predict the `width` completion tokens (the last is dropped)."""
    return hidden[:, -(width + 1):-1]


class Critic:
    """The value function the trainer calls: values of a rollout's rows, and (for `model`) its own optimizer step."""

    def __init__(self, params: CriticParams, policy: Any) -> None:
        self.mode = params.critic
        self.lr = params.critic_lr
        if self.mode == "model":
            self.module: nn.Module = ValueModel(policy)
            self.optimizer: torch.optim.Optimizer | None = torch.optim.AdamW(
                self.module.parameters(), lr=params.critic_lr, weight_decay=0.0)
        else:
            self.module = ValueHead(hidden_size(policy), device=next(policy.parameters()).device)
            self.optimizer = None

    @property
    def needs_policy_hidden(self) -> bool:
        """A value head reads the policy's hidden states, so the policy forward must return them."""
        return self.mode == "head"

    def param_groups(self) -> list[dict[str, Any]]:
        """Parameter groups to add to the policy's optimizer (the value head's, at the critic's learning rate)."""
        return [{"params": list(self.module.parameters()), "lr": self.lr}] if self.mode == "head" else []

    def values(self, rollout: Rollout, rows: Tensor, forward: PolicyForward | None = None) -> Tensor:
        """`[n, T]` values of `rollout`'s `rows`; a value head needs the policy `forward` of those rows."""
        if self.mode == "model":
            return self.module(rollout.select(rows))
        if forward is None or forward.hidden is None:
            raise ValueError("a value head needs the policy forward's hidden states (with_hidden=True)")
        return self.module(completion_states(forward.hidden, rollout.completion_ids.shape[1]))

    def step(self, max_grad_norm: float) -> float | None:
        """Clip and apply the separate critic's gradients; returns its gradient norm (None for a value head)."""
        if self.optimizer is None:
            return None
        grad_norm = torch.nn.utils.clip_grad_norm_(self.module.parameters(), max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(grad_norm)
