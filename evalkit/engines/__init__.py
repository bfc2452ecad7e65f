"""Engines that turn prompts into completions: hf, llamacpp, vllm and openai (any compatible server).

`ENGINES` names them (lazy targets: an engine's module, and the heavy library it wraps, load only
when it is chosen); third-party packages add engines through the entry-point group
`evalkit.engines` (the entry point names an `Engine` subclass). `create_engine` builds one;
`--engine auto` means vllm when it is importable and a GPU is present, llamacpp for a GGUF model,
otherwise hf.
"""

from __future__ import annotations

import importlib.util

from evalkit.engines.base import Completion, Engine, EngineError, EngineOptions, Prompt, Request, SamplingParams
from evalkit.models import ResolvedModel
from graders.registry import Registry

ENGINES: Registry[type[Engine]] = Registry("engine", entry_point_group="evalkit.engines", base=Engine)
ENGINES.register("hf", "evalkit.engines.hf_engine:HFEngine")
ENGINES.register("llamacpp", "evalkit.engines.llamacpp_engine:LlamaCppEngine")
ENGINES.register("vllm", "evalkit.engines.vllm_engine:VLLMEngine")
ENGINES.register("openai", "evalkit.engines.openai_engine:OpenAIEngine")

__all__ = ["ENGINES", "Completion", "Engine", "EngineError", "EngineOptions", "Prompt", "Request",
           "SamplingParams", "choose_engine", "create_engine", "engine_choices"]


def engine_choices() -> list[str]:
    """What `--engine` accepts: auto and every registered engine."""
    return ["auto", *ENGINES.names()]


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


def create_engine(name: str, model: ResolvedModel | None, spec: str, options: EngineOptions) -> Engine:
    """Build the engine `name` (already resolved from auto) for `model` (`spec`: what --model said)."""
    cls = ENGINES.get(name)
    if cls.loads_model and model is None:
        raise EngineError(f"engine {name!r} needs a local or hub model")
    return cls.create(model, spec, options)
