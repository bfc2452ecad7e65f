"""OpenAI-compatible server engine (vLLM serve, llama.cpp server, SGLang, hosted APIs).

Each sample is one request with n=1, so token counts and finish reasons are exact per sample
(servers that share prefixes, like vLLM, cache the prompt across the n requests anyway).
Requests run concurrently in threads; the client retries transient failures itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from evalkit.engines.base import Completion, Engine, EngineError, EngineOptions, Prompt, Request, SamplingParams
from evalkit.models import ResolvedModel


class OpenAIEngine(Engine):
    name = "openai"
    loads_model = False

    @classmethod
    def create(cls, model: ResolvedModel | None, spec: str, options: EngineOptions) -> OpenAIEngine:
        return cls(spec, base_url=options.base_url, concurrency=options.concurrency)

    def __init__(self, model: str, *, base_url: str | None, api_key: str | None = None,
                 concurrency: int = 8, max_retries: int = 3, timeout_s: float = 600.0) -> None:
        try:
            import openai
        except ImportError:
            raise EngineError("engine 'openai' needs the openai client: pip install 'evalkit[openai]'") from None
        if not base_url and not os.environ.get("OPENAI_BASE_URL") and not os.environ.get("OPENAI_API_KEY"):
            raise EngineError("engine 'openai' needs --base-url URL (e.g. http://localhost:8000/v1) or OPENAI_API_KEY")
        self.model = model
        self.concurrency = concurrency
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY", "EMPTY"),
                                    max_retries=max_retries, timeout=timeout_s)

    def render(self, prompt: Prompt) -> str:
        return prompt.as_json() if prompt.is_chat else (prompt.text or "")

    def _one(self, prompt: Prompt, params: SamplingParams, seed: int) -> Completion:
        common = dict(model=self.model, max_tokens=params.max_tokens, temperature=params.temperature,
                      top_p=params.top_p, seed=seed, n=1)
        if params.stop:
            common["stop"] = list(params.stop)
        if prompt.is_chat:
            resp = self.client.chat.completions.create(messages=prompt.message_dicts(), **common)
            text = resp.choices[0].message.content or ""
        else:
            resp = self.client.completions.create(prompt=prompt.text, **common)
            text = resp.choices[0].text
        finish = resp.choices[0].finish_reason
        tokens = resp.usage.completion_tokens if resp.usage else 0
        return Completion(text=text, tokens=tokens, finish_reason="length" if finish == "length" else "stop")

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        results: dict[int, list[Completion | None]] = {i: [None] * r.n for i, r in enumerate(requests)}
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {
                pool.submit(self._one, r.prompt, params, params.seed + r.seed_offset + j): (i, j)
                for i, r in enumerate(requests) for j in range(r.n)
            }
            try:
                for future in as_completed(futures):
                    i, j = futures[future]
                    results[i][j] = future.result()
                    if all(c is not None for c in results[i]):
                        yield i, [c for c in results.pop(i) if c is not None]
            finally:
                for f in futures:
                    f.cancel()

    def close(self) -> None:
        self.client.close()
