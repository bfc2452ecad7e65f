"""Rollouts: sample G completions per prompt, and score sampled tokens under a policy.

Owns the token-level view of a batch: left-padded prompts, right-padded completions, the
completion mask (every token up to and including the first end-of-sequence token) and the
truncation flag. `HFGenerator` samples with `model.generate` and no hidden sampling defaults
(top-k off, no repetition penalty) so that the behaviour policy is exactly softmax(logits / T),
which is what `token_logprobs` scores; `VLLMGenerator` (evalkit/train/vllm_rollout.py) samples the
same policy with vLLM. It owns nothing about rewards or losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from evalkit.schema import SamplingParams


def SamplingSettings(max_new_tokens: int, temperature: float = 1.0, top_p: float = 1.0) -> SamplingParams:  # noqa: N802
    """Rollout sampling as the one sampling dataclass, `SamplingParams`, with the trainer's default temperature 1.

    Temperature 0 means greedy decoding (evaluation). The group size is `generate`'s `n`.
    """
    return SamplingParams(max_tokens=max_new_tokens, temperature=temperature, top_p=top_p)


@dataclass
class Rollout:
    """N = prompts x G completions, each prompt's G samples contiguous."""

    prompt_ids: Tensor  # [N, P] left-padded
    prompt_mask: Tensor  # [N, P]
    completion_ids: Tensor  # [N, T] right-padded
    completion_mask: Tensor  # [N, T] 1 up to and including the first EOS
    truncated: Tensor  # [N] bool: no EOS within max_new_tokens
    texts: list[str]  # decoded completions, special tokens removed
    #: [N, T] log-prob of each sampled token as the sampler computed it (vLLM), 0 past the mask; None if unknown
    sampling_logprobs: Tensor | None = None

    def __len__(self) -> int:
        return int(self.completion_ids.shape[0])

    @property
    def lengths(self) -> Tensor:
        return self.completion_mask.sum(-1)

    def to(self, device: Any) -> Rollout:
        """The same rollout with its tensors on `device`."""
        sampled = self.sampling_logprobs.to(device) if self.sampling_logprobs is not None else None
        return Rollout(self.prompt_ids.to(device), self.prompt_mask.to(device), self.completion_ids.to(device),
                       self.completion_mask.to(device), self.truncated.to(device), self.texts, sampled)

    def select(self, rows: Tensor) -> Rollout:
        """The rows `rows` (an index tensor), in that order."""
        idx = rows.tolist()
        sampled = self.sampling_logprobs[rows] if self.sampling_logprobs is not None else None
        return Rollout(self.prompt_ids[rows], self.prompt_mask[rows], self.completion_ids[rows],
                       self.completion_mask[rows], self.truncated[rows], [self.texts[i] for i in idx], sampled)

    @staticmethod
    def cat(parts: Sequence[Rollout], pad_id: int) -> Rollout:
        """Concatenate rollouts of different widths (prompts padded left, completions right)."""
        p_width = max(r.prompt_ids.shape[1] for r in parts)
        c_width = max(r.completion_ids.shape[1] for r in parts)

        def left(x: Tensor, value: int) -> Tensor:
            return F.pad(x, (p_width - x.shape[1], 0), value=value)

        def right(x: Tensor, value: float) -> Tensor:
            return F.pad(x, (0, c_width - x.shape[1]), value=value)

        sampled = None
        if all(r.sampling_logprobs is not None for r in parts):
            sampled = torch.cat([right(r.sampling_logprobs, 0.0) for r in parts])

        return Rollout(
            prompt_ids=torch.cat([left(r.prompt_ids, pad_id) for r in parts]),
            prompt_mask=torch.cat([left(r.prompt_mask, 0) for r in parts]),
            completion_ids=torch.cat([right(r.completion_ids, pad_id) for r in parts]),
            completion_mask=torch.cat([right(r.completion_mask, 0) for r in parts]),
            truncated=torch.cat([r.truncated for r in parts]),
            texts=[t for r in parts for t in r.texts],
            sampling_logprobs=sampled,
        )


class Generator(Protocol):
    """Anything that samples `n` completions for each prompt text (HF generate, vLLM...)."""

    def generate(self, prompts: Sequence[str], n: int, sampling: SamplingParams, *,
                 add_special_tokens: bool = False) -> Rollout: ...

    def policy_changed(self) -> None:
        """The trainer updated the policy's weights; a generator with its own copy must reload them."""


def completion_mask(ids: Tensor, eos_ids: Sequence[int]) -> tuple[Tensor, Tensor]:
    """(mask of tokens up to and including the first EOS, truncated flag) for `[N, T]` ids."""
    is_eos = torch.isin(ids, torch.tensor(sorted(eos_ids), dtype=ids.dtype, device=ids.device))
    has_eos = is_eos.any(dim=1)
    first = torch.where(has_eos, is_eos.int().argmax(dim=1), torch.full_like(has_eos, ids.shape[1], dtype=torch.long))
    positions = torch.arange(ids.shape[1], device=ids.device)[None, :]
    return (positions <= first[:, None]).long() * (positions < ids.shape[1]).long(), ~has_eos


def eos_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every id that ends a completion: the generation config's EOS ids and the tokenizer's."""
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = list(ids) if isinstance(ids, (list, tuple)) else [ids]
    ids.append(tokenizer.eos_token_id)
    return sorted({int(i) for i in ids if i is not None})


class HFGenerator:
    """Sampling with transformers `generate`, `batch_size` prompts x n rows at a time."""

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 64) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.eos_ids = eos_token_ids(model, tokenizer)
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token before training")

    def policy_changed(self) -> None:
        """Nothing to do: `generate` samples from the live model."""

    @torch.no_grad()
    def generate(self, prompts: Sequence[str], n: int, sampling: SamplingParams, *,
                 add_special_tokens: bool = False) -> Rollout:
        from transformers import GenerationConfig

        rows = [p for p in prompts for _ in range(n)]
        greedy = sampling.temperature <= 0
        config = GenerationConfig(
            max_new_tokens=sampling.max_tokens, do_sample=not greedy,
            temperature=None if greedy else sampling.temperature, top_p=None if greedy else sampling.top_p,
            top_k=None if greedy else 0, pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.eos_ids,
            bos_token_id=self.tokenizer.bos_token_id,
        )
        self.tokenizer.padding_side = "left"
        device = next(self.model.parameters()).device
        parts = []
        for start in range(0, len(rows), self.batch_size):
            enc = self.tokenizer(rows[start:start + self.batch_size], return_tensors="pt", padding=True,
                                 add_special_tokens=add_special_tokens).to(device)
            out = self.model.generate(**enc, generation_config=config)
            ids = out[:, enc["input_ids"].shape[1]:]
            mask, truncated = completion_mask(ids, self.eos_ids)
            ids = ids.masked_fill(mask == 0, self.tokenizer.pad_token_id)
            texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
            parts.append(Rollout(enc["input_ids"], enc["attention_mask"], ids, mask, truncated, texts))
        return Rollout.cat(parts, self.tokenizer.pad_token_id) if len(parts) > 1 else parts[0]


@dataclass
class PolicyForward:
    """One teacher-forced forward of the policy over prompt + completion.

    `logp` `[N, T]`: log-prob of each completion token (softmax of logits / temperature); `entropy`
    `[N, T]` when asked for; `hidden` `[N, P + T, H]`: the last hidden states (after the final norm,
    what the LM head reads) when asked for, which the value head and the MTP modules consume;
    `input_ids`, `attention`, `positions`: the layout the forward used.
    """

    logp: Tensor
    entropy: Tensor | None
    hidden: Tensor | None
    input_ids: Tensor
    attention: Tensor
    positions: Tensor


def sequence_layout(rollout: Rollout) -> tuple[Tensor, Tensor, Tensor]:
    """(input ids, attention mask, position ids) of prompt + completion; positions follow the attention mask."""
    input_ids = torch.cat([rollout.prompt_ids, rollout.completion_ids], dim=1)
    attention = torch.cat([rollout.prompt_mask, rollout.completion_mask], dim=1)
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    return input_ids, attention, positions


def policy_forward(model: Any, rollout: Rollout, *, temperature: float = 1.0, with_entropy: bool = False,
                   with_hidden: bool = False, rows: Tensor | None = None) -> PolicyForward:
    """Score the completion tokens of `rollout` (or its `rows`) under `model`; see `PolicyForward`.

    Positions follow the attention mask (as in `generate`), so left padding does not shift them.
    """
    if rows is not None:
        rollout = rollout.select(rows)
    input_ids, attention, positions = sequence_layout(rollout)
    width = rollout.completion_ids.shape[1]
    out = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, logits_to_keep=width + 1,
                output_hidden_states=with_hidden)
    logits = out.logits[:, :-1].float() / temperature
    logp_all = logits.log_softmax(-1)
    logp = logp_all.gather(-1, rollout.completion_ids.unsqueeze(-1)).squeeze(-1)
    entropy = None
    if with_entropy:
        with torch.no_grad():  # a statistic and TEPO's mask criterion: never differentiated
            entropy = -(logp_all.exp() * logp_all).sum(-1)
    hidden = out.hidden_states[-1] if with_hidden else None
    return PolicyForward(logp, entropy, hidden, input_ids, attention, positions)


def token_logprobs(model: Any, rollout: Rollout, *, temperature: float = 1.0, with_entropy: bool = False,
                   rows: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """Log-prob of each completion token under `model` (softmax of logits / temperature), `[N, T]`.

    With `with_entropy`, also the policy's entropy at each completion position.
    """
    out = policy_forward(model, rollout, temperature=temperature, with_entropy=with_entropy, rows=rows)
    return out.logp, out.entropy
