"""vLLM engine: one `LLM.generate` call over all prompts, `SamplingParams(n=...)` per prompt.

With n in SamplingParams the n samples of a prompt share one prefill; vLLM gives child sample j
the seed `seed + j`, the same seeds the other engines use. vLLM is imported only when this
engine is created, so evalkit installs and runs without it. tests/evaluation/test_vllm_engine.py
checks every call against the signatures in vLLM's own source.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from evalkit.engines.base import Completion, Engine, EngineError, EngineOptions, Prompt, Request, SamplingParams
from evalkit.models import ResolvedModel


class VLLMEngine(Engine):
    name = "vllm"

    @classmethod
    def create(cls, model: ResolvedModel | None, spec: str, options: EngineOptions) -> VLLMEngine:
        assert model is not None
        return cls(model, tensor_parallel_size=options.tensor_parallel_size, max_model_len=options.max_model_len,
                   dtype=options.dtype or "auto", seed=options.seed)

    def __init__(self, model: ResolvedModel, *, tensor_parallel_size: int = 1, max_model_len: int | None = None,
                 gpu_memory_utilization: float = 0.9, dtype: str = "auto", seed: int = 0,
                 distributed_executor_backend: str | None = None) -> None:
        """`distributed_executor_backend="mp"` keeps tensor parallelism in local processes (inside a Ray
        actor vLLM would otherwise start Ray workers of its own); None leaves vLLM's choice."""
        try:
            import vllm
        except ImportError:
            raise EngineError("engine 'vllm' needs vLLM on a GPU machine: pip install 'evalkit[vllm]'") from None
        self._vllm = vllm
        kwargs = dict(model=model.gguf_file or model.path, tensor_parallel_size=tensor_parallel_size,
                      gpu_memory_utilization=gpu_memory_utilization, dtype=dtype, seed=seed)
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        if distributed_executor_backend:
            kwargs["distributed_executor_backend"] = distributed_executor_backend
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, prompt: Prompt) -> str:
        if not prompt.is_chat:
            return prompt.text or ""
        return self.tokenizer.apply_chat_template(prompt.message_dicts(), tokenize=False,
                                                  add_generation_prompt=True)

    def sampling_params(self, request: Request, params: SamplingParams):
        return self._vllm.SamplingParams(
            n=request.n, temperature=params.temperature, top_p=params.top_p, max_tokens=params.max_tokens,
            seed=params.seed + request.seed_offset, stop=list(params.stop) or None,
        )

    def engine_prompt(self, prompt: Prompt) -> str | dict[str, list[int]]:
        """Plain text as is (vLLM adds the BOS token); chat text pre-tokenised, since the template has its own."""
        if not prompt.is_chat:
            return prompt.text or ""
        return {"prompt_token_ids": self.tokenizer.encode(self.render(prompt), add_special_tokens=False)}

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        if not requests:
            return
        prompts = [self.engine_prompt(r.prompt) for r in requests]
        outputs = self.llm.generate(prompts, sampling_params=[self.sampling_params(r, params) for r in requests],
                                    use_tqdm=True)
        for i, out in enumerate(outputs):
            yield i, [
                Completion(text=c.text, tokens=len(c.token_ids),
                           finish_reason="length" if c.finish_reason == "length" else "stop")
                for c in out.outputs
            ]
