"""vLLM rollouts for the trainer: vLLM colocated with the policy on one GPU, weights pushed in process.

The policy being trained is a transformers model; vLLM keeps its own copy of the weights to sample from.
The trainer calls `policy_changed()` after every update, and the next `generate` pushes the policy's
parameters into vLLM through the model's own checkpoint-name loader (`LLM.apply_model(lambda m:
m.load_weights(...))`, what TRL's colocate mode calls), then resets vLLM's prefix cache, whose KV entries
were computed with the old weights. vLLM is started with `VLLM_ENABLE_V1_MULTIPROCESSING=0`, so its engine
and worker live in this process and a push is a device-to-device copy: no serialization, no second process.

vLLM starts from `load_format="dummy"` (random weights, nothing read from disk) and receives the policy's
weights by the same push before its first generation. Every push must cover every vLLM parameter (the
check vLLM's own loader makes on an unquantized checkpoint), so a sync that silently skips a weight is an
error rather than rollouts from a half-random model.

The behaviour policy is the one `token_logprobs` scores: softmax(logits / T) with top-p. Top-k, min-p and
penalties are set off explicitly and the model's generation_config defaults are ignored
(`generation_config="vllm"`). vLLM also returns the log-prob of each sampled token after temperature and
top-p (`logprobs_mode="processed_logprobs"`); the trainer logs its gap to its own log-probs (the
train/inference mismatch, `sampler_logp_gap`), which should stay near 0 (expected small in bf16;
not yet measured on a GPU).

Sleep mode (`sleep=True`) frees the GPU for the update: after each generation vLLM discards its weights
and KV cache (level 2); before the next one the weights are woken and re-pushed, then the KV cache.
tests/train/test_train_vllm_rollout.py runs this class on a stand-in that accepts exactly the parameters
vLLM 0.33.0's source declares.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

import torch

from evalkit.errors import UsageError
from evalkit.schema import SamplingParams
from evalkit.train.rollout import Rollout, eos_token_ids


def import_vllm() -> Any:
    """The vllm module, or a one-line UsageError saying how to get it."""
    try:
        import vllm
    except ImportError:
        raise UsageError("--rollout-engine vllm needs vLLM on a GPU machine: pip install 'evalkit[vllm]'") from None
    return vllm


class VLLMGenerator:
    """Samples rollouts with an in-process vLLM engine whose weights follow the trained `model`."""

    def __init__(self, model: Any, tokenizer: Any, *, gpu_memory_utilization: float = 0.3,
                 max_model_len: int | None = None, sleep: bool = False, seed: int = 0) -> None:
        vllm = import_vllm()
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token before training")
        self._vllm = vllm
        self.model = model
        self.tokenizer = tokenizer
        self.sleep = sleep
        self.eos_ids = eos_token_ids(model, tokenizer)
        self.pushes = 0  # weight syncs so far (logged, and checked by the tests)
        # The engine core and its worker run in this process, so pushes are plain tensor copies.
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        # vLLM reads the config and tokenizer from a directory; the weights come from the first push.
        self._model_dir = tempfile.TemporaryDirectory(prefix="evalkit-vllm-")
        model.config.save_pretrained(self._model_dir.name)
        tokenizer.save_pretrained(self._model_dir.name)
        kwargs: dict[str, Any] = dict(
            model=self._model_dir.name, dtype=str(model.dtype).removeprefix("torch."), load_format="dummy",
            gpu_memory_utilization=gpu_memory_utilization, seed=seed, enable_sleep_mode=sleep,
            generation_config="vllm", logprobs_mode="processed_logprobs",
        )
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.llm = vllm.LLM(**kwargs)
        self._stale = True  # dummy weights until the first push
        self._asleep = False
        if sleep:
            self.llm.sleep(level=2)
            self._asleep = True

    def policy_changed(self) -> None:
        self._stale = True

    def generate(self, prompts: Sequence[str], n: int, sampling: SamplingParams, *,
                 add_special_tokens: bool = False) -> Rollout:
        self._ready()
        encoded = self.tokenizer(list(prompts), add_special_tokens=add_special_tokens)["input_ids"]
        params = self.sampling_params(n, sampling)
        outputs = self.llm.generate([{"prompt_token_ids": ids} for ids in encoded], sampling_params=params,
                                    use_tqdm=False)
        if self.sleep:
            self.llm.sleep(level=2)
            self._asleep = True
        prompt_rows, completion_rows, logprob_rows = [], [], []
        for ids, out in zip(encoded, outputs, strict=True):
            samples = sorted(out.outputs, key=lambda c: c.index)
            if len(samples) != n:
                raise RuntimeError(f"vLLM returned {len(samples)} completions for a prompt, expected {n}")
            for c in samples:
                tokens = list(c.token_ids)
                prompt_rows.append(ids)
                completion_rows.append(tokens)
                logprob_rows.append(None if c.logprobs is None else
                                    [position[token].logprob for position, token in zip(c.logprobs, tokens,
                                                                                        strict=True)])
        return build_rollout(prompt_rows, completion_rows, logprob_rows, self.tokenizer, self.eos_ids,
                             device=next(self.model.parameters()).device)

    def sampling_params(self, n: int, sampling: SamplingParams) -> Any:
        """Exactly softmax(logits / T) with top-p (temperature 0: greedy); stops at any EOS id, which is kept."""
        greedy = sampling.temperature <= 0
        return self._vllm.SamplingParams(
            n=n, temperature=0.0 if greedy else sampling.temperature, top_p=1.0 if greedy else sampling.top_p,
            top_k=0, min_p=0.0, repetition_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0,
            max_tokens=sampling.max_tokens, stop_token_ids=list(self.eos_ids), skip_special_tokens=True,
            logprobs=None if greedy else 0,
        )

    # ------------------------------------------------------------------------- weights and sleep

    def _ready(self) -> None:
        """Wake the engine and push the policy's weights if they changed (or were discarded by sleep)."""
        if self._asleep:
            torch.cuda.empty_cache()
            self.llm.wake_up(tags=["weights"])
            self._stale = True  # level 2 discarded them
        if self._stale:
            self.push_weights()
        if self._asleep:
            self.llm.wake_up(tags=["kv_cache"])
            self._asleep = False

    @torch.no_grad()
    def push_weights(self) -> None:
        """Copy every policy parameter into vLLM under its checkpoint name; drop KV computed with old weights."""
        weights = [(name, param.detach()) for name, param in self.model.named_parameters()]

        def load(vllm_model: Any) -> list[str]:
            loaded = vllm_model.load_weights(weights)
            if loaded is None:  # a model whose loader does not report what it loaded
                return []
            return sorted({name for name, _ in vllm_model.named_parameters()} - set(loaded))

        missing = sorted({name for per_worker in self.llm.apply_model(load) for name in per_worker})
        if missing:
            raise RuntimeError(f"the policy's weights did not reach vLLM's parameter(s) {', '.join(missing[:5])}"
                               f"{' ...' if len(missing) > 5 else ''}: names differ from the checkpoint's")
        self.llm.reset_prefix_cache()
        self._stale = False
        self.pushes += 1


def build_rollout(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]],
                  logprobs: Sequence[Sequence[float] | None], tokenizer: Any, eos_ids: Sequence[int], *,
                  device: Any = "cpu") -> Rollout:
    """A `Rollout` from ragged token lists: prompts padded left, completions right.

    The completion mask runs to the row's own length (vLLM stops at the first EOS and keeps it), so padding
    is never mistaken for an EOS even when the pad token is the EOS token; truncated = no EOS at the end.
    """
    pad, n = tokenizer.pad_token_id, len(prompts)
    p_width = max(len(p) for p in prompts)
    c_width = max(1, max(len(c) for c in completions))
    prompt_ids = torch.full((n, p_width), pad, dtype=torch.long)
    prompt_mask = torch.zeros((n, p_width), dtype=torch.long)
    completion_ids = torch.full((n, c_width), pad, dtype=torch.long)
    completion_mask = torch.zeros((n, c_width), dtype=torch.long)
    truncated = torch.ones(n, dtype=torch.bool)
    sampled = torch.zeros((n, c_width), dtype=torch.float32)
    eos = set(eos_ids)
    for i, (p, c, lp) in enumerate(zip(prompts, completions, logprobs, strict=True)):
        if p:
            prompt_ids[i, p_width - len(p):] = torch.tensor(p)
            prompt_mask[i, p_width - len(p):] = 1
        if c:
            completion_ids[i, :len(c)] = torch.tensor(c)
            completion_mask[i, :len(c)] = 1
            truncated[i] = c[-1] not in eos
        if lp is not None and c:
            sampled[i, :len(c)] = torch.tensor(lp, dtype=torch.float32)
    texts = [tokenizer.decode(c, skip_special_tokens=True) for c in completions]
    has_logprobs = all(lp is not None for lp in logprobs)
    return Rollout(prompt_ids.to(device), prompt_mask.to(device), completion_ids.to(device),
                   completion_mask.to(device), truncated.to(device), texts,
                   sampled.to(device) if has_logprobs else None)
