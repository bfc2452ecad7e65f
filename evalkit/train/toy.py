"""A tiny Hugging Face causal LM for CPU-scale experiments: a character tokenizer and a 2-layer Llama.

Both are ordinary transformers objects, so the trainer, `generate`, `save_pretrained` and
checkpoint loading treat them exactly like a real model. `supervised_warm_start` gives RL a
policy that is sometimes right (RL from a random init gets no reward signal at this scale).
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from typing import Any

import torch

from evalkit.train.tasks import Example

PAD, EOS = "<pad>", "<eos>"
ARITHMETIC_CHARS = "0123456789+="
#: enough for English prompts (and for transformers' stop-string matching, which probes with "abcdef")
TEXT_CHARS = string.ascii_letters + string.digits + string.punctuation + " "


def char_tokenizer(chars: str = ARITHMETIC_CHARS) -> Any:
    """A fast tokenizer with one token per character, plus <pad> and <eos>; decoding joins characters."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {PAD: 0, EOS: 1, **{c: i + 2 for i, c in enumerate(chars)}}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=PAD))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS, padding_side="left")


def tiny_llama(tokenizer: Any, *, hidden: int = 128, layers: int = 2, heads: int = 4, context: int = 32,
               seed: int = 0) -> Any:
    """A randomly initialised Llama of about 0.4M parameters (hidden 128, 2 layers) for `tokenizer`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=context,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model.eval()


def supervised_warm_start(model: Any, tokenizer: Any, examples: Sequence[Example], *, steps: int,
                          batch_size: int = 64, lr: float = 3e-3, seed: int = 0, decay: bool = True,
                          optimizer: torch.optim.Optimizer | None = None) -> list[float]:
    """Teacher-forced training on `prompt + gold + <eos>`, loss on the answer tokens only; returns losses.

    `decay=False` keeps the learning rate constant after warm-up, and passing the `optimizer` back in
    continues a warm start in chunks (to stop once an accuracy target is reached).
    """
    rng = random.Random(seed)
    fresh = optimizer is None
    optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    warmup = 20 if fresh else 0

    def factor(s: int) -> float:
        return min(1.0, (s + 1) / warmup if warmup else 1.0) * ((1 - s / steps) if decay else 1.0)

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    history = []
    tokenizer.padding_side = "right"
    try:
        for _ in range(steps):
            batch = rng.choices(examples, k=batch_size)
            prompts = tokenizer([e.prompt for e in batch], add_special_tokens=False)["input_ids"]
            full = tokenizer([e.prompt + e.gold + EOS for e in batch], add_special_tokens=False, padding=True,
                             return_tensors="pt")
            labels = full["input_ids"].masked_fill(full["attention_mask"] == 0, -100)
            for i, p in enumerate(prompts):
                labels[i, :len(p)] = -100
            loss = model(**full, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            history.append(loss.item())
    finally:
        tokenizer.padding_side = "left"
    model.eval()
    return history
