"""llama.cpp engine: GGUF models on CPU through llama-cpp-python.

The chat template is the one stored in the GGUF file, rendered with llama-cpp-python's own
Jinja formatter, so the prompt text we record is the text the model sees. llama.cpp keeps the
KV cache of the previous prompt, so the n samples of one prompt share its prefill.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from evalkit.engines.base import Completion, Engine, EngineError, EngineOptions, Prompt, Request, SamplingParams
from evalkit.models import ResolvedModel


class LlamaCppEngine(Engine):
    name = "llamacpp"

    @classmethod
    def create(cls, model: ResolvedModel | None, spec: str, options: EngineOptions) -> LlamaCppEngine:
        assert model is not None
        return cls(model, max_model_len=options.max_model_len or 4096, seed=options.seed, threads=options.threads)

    def __init__(self, model: ResolvedModel, *, max_model_len: int = 4096, threads: int | None = None,
                 seed: int = 0) -> None:
        if not model.gguf_file:
            raise EngineError(f"engine 'llamacpp' needs a .gguf model, got {model.spec!r}; use --engine hf")
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise EngineError("engine 'llamacpp' needs llama-cpp-python: pip install 'evalkit[llamacpp]'") from None
        # --threads bounds prompt processing too: llama-cpp-python's n_threads_batch defaults to every core, so
        # replicas (or other jobs) sharing a machine spin on each other's cores while reading prompts.
        n_threads = threads or os.cpu_count()
        self.llm = Llama(model_path=model.gguf_file, n_ctx=max_model_len, n_threads=n_threads,
                         n_threads_batch=n_threads, seed=seed, verbose=False)
        template = self.llm.metadata.get("tokenizer.chat_template")
        self._formatter = None
        if template:
            eos = self._token_text(self.llm.token_eos())
            bos = self._token_text(self.llm.token_bos())
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                                                  add_generation_prompt=True)

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="replace")

    def render(self, prompt: Prompt) -> str:
        if not prompt.is_chat:
            return prompt.text or ""
        if self._formatter is None:
            raise EngineError("this GGUF has no chat template; pass --no-chat-template for plain prompts")
        return self._formatter(messages=prompt.message_dicts()).prompt

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        for i, request in enumerate(requests):
            text = self.render(request.prompt)
            completions = []
            for j in range(request.n):
                out = self.llm.create_completion(
                    prompt=text, max_tokens=params.max_tokens, temperature=params.temperature,
                    top_p=params.top_p, stop=list(params.stop) or None,
                    seed=params.seed + request.seed_offset + j,
                )
                choice = out["choices"][0]
                completions.append(Completion(
                    text=choice["text"], tokens=int(out["usage"]["completion_tokens"]),
                    finish_reason="length" if choice["finish_reason"] == "length" else "stop",
                ))
            yield i, completions

    def close(self) -> None:
        self.llm.close()
