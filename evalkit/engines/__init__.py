"""Engines that turn prompts into completions: hf, llamacpp, vllm and openai (any compatible server).

`create_engine` picks and builds one; `--engine auto` means vllm when it is importable and a GPU
is present, llamacpp for a GGUF model, otherwise hf. Heavy libraries load only inside the chosen engine.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from evalkit.engines.base import Completion, Engine, EngineError, Prompt, Request, SamplingParams
from evalkit.models import ResolvedModel

ENGINES = ("auto", "hf", "llamacpp", "vllm", "openai")

__all__ = ["ENGINES", "Completion", "Engine", "EngineError", "EngineOptions", "Prompt", "Request",
           "SamplingParams", "choose_engine", "create_engine"]


@dataclass(frozen=True)
class EngineOptions:
    """Engine-specific settings; each engine reads the ones that apply to it."""

    base_url: str | None = None
    concurrency: int = 8
    batch_size: int = 8
    device: str | None = None
    dtype: str | None = None
    tensor_parallel_size: int = 1
    max_model_len: int | None = None
    seed: int = 0
    threads: int | None = None  # llamacpp: CPU threads (None: all cores)


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _gpu_available() -> bool:
    if not _has("torch"):
        return False
    import torch

    return torch.cuda.is_available()


def choose_engine(requested: str, model: ResolvedModel | None) -> str:
    """The concrete engine name for `requested` (resolving "auto")."""
    if requested != "auto":
        return requested
    if model is not None and model.gguf_file:
        return "llamacpp" if _has("llama_cpp") else "hf"
    if _has("vllm") and _gpu_available():
        return "vllm"
    return "hf"


def create_engine(name: str, model: ResolvedModel | None, served_model: str, options: EngineOptions) -> Engine:
    """Build the engine `name` (already resolved from auto) for `model`."""
    if name == "openai":
        from evalkit.engines.openai_engine import OpenAIEngine

        return OpenAIEngine(served_model, base_url=options.base_url, concurrency=options.concurrency)
    if model is None:
        raise EngineError(f"engine {name!r} needs a local or hub model")
    if name == "hf":
        from evalkit.engines.hf_engine import HFEngine

        return HFEngine(model, device=options.device, batch_size=options.batch_size, dtype=options.dtype)
    if name == "llamacpp":
        from evalkit.engines.llamacpp_engine import LlamaCppEngine

        return LlamaCppEngine(model, max_model_len=options.max_model_len or 4096, seed=options.seed,
                              threads=options.threads)
    if name == "vllm":
        from evalkit.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model, tensor_parallel_size=options.tensor_parallel_size,
                          max_model_len=options.max_model_len, dtype=options.dtype or "auto", seed=options.seed)
    raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
