"""transformers engine: batched generation with left padding, on CPU or GPU.

Loads a local HF directory, a hub id, or a `.gguf` file (dequantised by transformers). Stop
sequences are applied with `stop_strings` during generation and cut from the text after.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from evalkit.engines.base import (
    Completion,
    Engine,
    EngineError,
    EngineOptions,
    Prompt,
    Request,
    SamplingParams,
    cut_at_stop,
)
from evalkit.models import ResolvedModel, load_hf_model


class HFEngine(Engine):
    name = "hf"

    @classmethod
    def create(cls, model: ResolvedModel | None, spec: str, options: EngineOptions) -> HFEngine:
        assert model is not None
        return cls(model, device=options.device, batch_size=options.batch_size, dtype=options.dtype)

    def __init__(self, model: ResolvedModel, *, device: str | None = None, batch_size: int = 8,
                 dtype: str | None = None) -> None:
        try:
            import torch
        except ImportError:
            raise EngineError("engine 'hf' needs transformers and torch: pip install 'evalkit[hf]'") from None
        self._torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        torch_dtype = getattr(torch, dtype) if dtype else None
        self.model, self.tokenizer = load_hf_model(model, device=self.device, dtype=torch_dtype)
        self.tokenizer.padding_side = "left"

    def render(self, prompt: Prompt) -> str:
        if not prompt.is_chat:
            return prompt.text or ""
        if not getattr(self.tokenizer, "chat_template", None):
            raise EngineError("this model has no chat template; pass --no-chat-template for plain prompts")
        return self.tokenizer.apply_chat_template(prompt.message_dicts(), tokenize=False,
                                                  add_generation_prompt=True)

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        # Expand each request into n rows, batch rows, then regroup by request.
        rows = [(i, j) for i, r in enumerate(requests) for j in range(r.n)]
        texts = {i: self.render(r.prompt) for i, r in enumerate(requests)}
        pending: dict[int, list[Completion]] = {}
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start:start + self.batch_size]
            seed = params.seed + start + requests[batch[0][0]].seed_offset
            chat = requests[batch[0][0]].prompt.is_chat
            outs = self._generate_batch([texts[i] for i, _ in batch], params, seed, add_special_tokens=not chat)
            for (i, _), completion in zip(batch, outs, strict=True):
                pending.setdefault(i, []).append(completion)
                if len(pending[i]) == requests[i].n:
                    yield i, pending.pop(i)

    def _generate_batch(self, texts: list[str], params: SamplingParams, seed: int,
                        add_special_tokens: bool) -> list[Completion]:
        # A rendered chat template already holds its special tokens; plain prompts get the BOS token.
        torch = self._torch
        torch.manual_seed(seed)
        enc = self.tokenizer(texts, return_tensors="pt", padding=True,
                             add_special_tokens=add_special_tokens).to(self.device)
        sampling = params.temperature > 0
        kwargs = dict(max_new_tokens=params.max_tokens, do_sample=sampling,
                      pad_token_id=self.tokenizer.pad_token_id)
        if sampling:
            kwargs.update(temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        with torch.no_grad():
            out = self.model.generate(**enc, **kwargs)
        new_tokens = out[:, enc["input_ids"].shape[1]:]
        eos_ids = self._eos_ids()
        results = []
        for row in new_tokens.tolist():
            n_tokens, hit_eos = len(row), False
            for k, tok in enumerate(row):
                if tok in eos_ids:
                    n_tokens, hit_eos = k, True
                    break
            text = self.tokenizer.decode(row[:n_tokens], skip_special_tokens=True)
            text, hit_stop = cut_at_stop(text, params.stop)
            stopped = hit_eos or hit_stop or n_tokens < params.max_tokens
            results.append(Completion(text=text, tokens=n_tokens + hit_eos,
                                      finish_reason="stop" if stopped else "length"))
        return results

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = ids if isinstance(ids, list) else [ids]
        ids = {i for i in ids if i is not None}
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        if self.tokenizer.pad_token_id is not None:
            ids.add(self.tokenizer.pad_token_id)
        return ids

    def close(self) -> None:
        del self.model
