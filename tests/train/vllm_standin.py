"""A stand-in `vllm` module for the rollout tests: vLLM's real parameter names, a real tiny model behind them.

Every call and keyword is checked against vLLM's source (tests/vllm_source.py), and behind the API sits a
transformers model built from the config directory that `LLM(model=...)` names, randomly initialised as
`load_format="dummy"` does. It keeps vLLM's contracts that the trainer relies on:
- `apply_model(fn)` runs `fn` on the model in process; its `load_weights` copies checkpoint-named tensors
  and returns the names it loaded;
- `generate` samples token by token from softmax(logits / T) (temperature 0: greedy), stops at the first
  `stop_token_ids` token and keeps it, caps at `max_tokens`, and with `logprobs=0` returns the sampled
  token's log-prob after temperature (`logprobs_mode="processed_logprobs"`);
- sleep level 2 discards the weights (NaN here, garbage on a GPU) and the KV cache; generating before both
  are woken and the weights pushed again fails, as does generating with a prefix cache left from old weights.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


def _check(names: set[str] | dict, allowed: set[str], what: str) -> None:
    unknown = set(names) - allowed
    assert not unknown, f"{what} has no parameter(s) {sorted(unknown)}"


def standin_vllm(api: dict[str, set[str]], *, skip_on_load: str | None = None) -> types.ModuleType:
    """A module to put in sys.modules["vllm"]; `module.instances` holds every LLM it made."""
    module = types.ModuleType("vllm")
    module.instances = []
    assert set(Logprob.__dataclass_fields__) <= api["Logprob"]

    class SamplingParams:
        def __init__(self, **kwargs: Any) -> None:
            _check(kwargs, api["SamplingParams"], "vllm.SamplingParams")
            self.kwargs = kwargs

        def __getattr__(self, name: str) -> Any:
            defaults = {"n": 1, "temperature": 1.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0,
                        "repetition_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0,
                        "max_tokens": 16, "stop_token_ids": None, "logprobs": None, "ignore_eos": False}
            if name == "kwargs" or name not in defaults:
                raise AttributeError(name)
            return self.kwargs.get(name, defaults[name])

    class ModelView:
        """What `apply_model` hands over: the engine's model, with vLLM's `load_weights` contract."""

        def __init__(self, llm: LLM) -> None:
            self.llm = llm

        def named_parameters(self):
            return self.llm.model.named_parameters()

        def load_weights(self, weights):
            assert self.llm.weights_awake, "load_weights into discarded memory: wake_up(tags=['weights']) first"
            params = dict(self.llm.model.named_parameters())
            loaded = set()
            with torch.no_grad():
                for name, tensor in weights:
                    if name == skip_on_load:
                        continue
                    params[name].copy_(tensor)
                    loaded.add(name)
            self.llm.calls.append(("load_weights", len(loaded)))
            if loaded == set(params):
                self.llm.weights_valid = True
            self.llm.prefix_cache_stale = True
            return loaded

    class LLM:
        def __init__(self, **kwargs: Any) -> None:
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

            _check(kwargs, api["LLM.__init__"], "vllm.LLM")
            assert kwargs.get("logprobs_mode", "raw_logprobs") in api["LogprobsMode"]
            assert os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") == "0", "apply_model would not run in process"
            self.kwargs = kwargs
            self.calls: list[tuple] = [("LLM",)]
            config = AutoConfig.from_pretrained(kwargs["model"])
            self.tokenizer = AutoTokenizer.from_pretrained(kwargs["model"])
            torch.manual_seed(1234)  # "dummy" weights: random, unrelated to the policy
            self.model = AutoModelForCausalLM.from_config(config, torch_dtype=getattr(torch, kwargs["dtype"])).eval()
            self.weights_valid = kwargs.get("load_format") != "dummy"
            self.weights_awake = self.kv_awake = True
            self.prefix_cache_stale = False
            self.rng = torch.Generator().manual_seed(kwargs.get("seed", 0))
            self.sampled: list[list[int]] = []
            module.instances.append(self)

        # --------------------------------------------------------------------- weights, cache, sleep

        def apply_model(self, func, **kwargs):
            _check(kwargs, api["LLM.apply_model"], "vllm.LLM.apply_model")
            self.calls.append(("apply_model",))
            return [func(ModelView(self))]  # one worker, in process

        def reset_prefix_cache(self, **kwargs) -> bool:
            _check(kwargs, api["LLM.reset_prefix_cache"], "vllm.LLM.reset_prefix_cache")
            self.calls.append(("reset_prefix_cache",))
            self.prefix_cache_stale = False
            return True

        def sleep(self, level: int = 1, **kwargs) -> None:
            _check(kwargs, api["LLM.sleep"] - {"level"}, "vllm.LLM.sleep")
            assert self.kwargs.get("enable_sleep_mode"), "sleep needs LLM(enable_sleep_mode=True)"
            self.calls.append(("sleep", level))
            self.kv_awake = False
            if level == 2:
                self.weights_awake = self.weights_valid = False
                with torch.no_grad():
                    for p in self.model.parameters():
                        p.fill_(float("nan"))

        def wake_up(self, tags: list[str] | None = None) -> bool:
            assert "tags" in api["LLM.wake_up"] and set(tags or ()) <= api["sleep tags"]
            self.calls.append(("wake_up", tuple(tags) if tags else None))
            if tags is None or "weights" in tags:
                self.weights_awake = True
            if tags is None or "kv_cache" in tags:
                self.kv_awake = True
            return self.weights_awake and self.kv_awake

        # --------------------------------------------------------------------- generation

        def generate(self, prompts, **kwargs):
            _check(kwargs, api["LLM.generate"], "vllm.LLM.generate")
            assert self.weights_awake and self.kv_awake, "generate while asleep"
            assert self.weights_valid, "generate with weights that were never pushed (dummy or discarded)"
            assert not self.prefix_cache_stale, "generate with a prefix cache computed from old weights"
            self.calls.append(("generate", len(prompts)))
            self.generated_with = {name: p.detach().clone() for name, p in self.model.named_parameters()}
            params = kwargs["sampling_params"]
            params = params if isinstance(params, list) else [params] * len(prompts)
            outputs = []
            for index, (prompt, sp) in enumerate(zip(prompts, params, strict=True)):
                _check(prompt, api["TokensPrompt"], "vllm.TokensPrompt")
                completions = [self._sample(list(prompt["prompt_token_ids"]), sp, j) for j in range(sp.n)]
                outputs.append(self._request_output(index, prompt, completions))
            return outputs

        @torch.no_grad()
        def _sample(self, prompt: list[int], sp: SamplingParams, index: int):
            assert sp.top_k in (0, -1) and sp.min_p == 0 and sp.repetition_penalty == 1 and sp.top_p == 1
            assert sp.presence_penalty == 0 and sp.frequency_penalty == 0
            stop = set(sp.stop_token_ids or ()) | ({self.tokenizer.eos_token_id} if not sp.ignore_eos else set())
            tokens: list[int] = []
            logprobs: list[dict[int, Logprob]] = []
            finish = "length"
            while len(tokens) < sp.max_tokens:
                logits = self.model(input_ids=torch.tensor([prompt + tokens])).logits[0, -1].float()
                if sp.temperature == 0:
                    token = int(logits.argmax())
                    logp = logits.log_softmax(-1)
                else:
                    logp = (logits / sp.temperature).log_softmax(-1)
                    token = int(torch.multinomial(logp.exp(), 1, generator=self.rng))
                tokens.append(token)
                rank = int((logp > logp[token]).sum()) + 1
                logprobs.append({token: Logprob(float(logp[token]), rank=rank)})
                if token in stop:
                    finish = "stop"
                    break
            self.sampled.append(tokens)
            fields = dict(index=index, text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                          token_ids=tokens, cumulative_logprob=None,
                          logprobs=logprobs if sp.logprobs is not None else None, finish_reason=finish,
                          stop_reason=tokens[-1] if finish == "stop" and tokens[-1] != self.tokenizer.eos_token_id
                          else None)
            _check(fields, api["CompletionOutput"], "vllm.CompletionOutput")
            return types.SimpleNamespace(**fields)

        def _request_output(self, index: int, prompt: dict, completions: list) -> Any:
            fields = dict(request_id=str(index), prompt=None, prompt_token_ids=prompt["prompt_token_ids"],
                          prompt_logprobs=None, outputs=completions[::-1], finished=True)  # callers order by .index
            _check(fields, api["RequestOutput"], "vllm.RequestOutput")
            return types.SimpleNamespace(**fields)

    module.SamplingParams = SamplingParams
    module.LLM = LLM
    return module
