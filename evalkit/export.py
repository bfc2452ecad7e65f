"""A model spec saved as a plain Hugging Face checkpoint, for trainers that refuse quantized models.

    python -m evalkit.export smollm2-135m runs/smollm2-135m-hf

transformers loads a GGUF file (such as the `smollm2-135m` alias) by dequantizing its weights to
ordinary float tensors, yet keeps a GGUF "quantizer" on the model and a `quantization_config` in its
config: TRL then refuses to fine-tune it ("purely quantized models") and `save_pretrained` carries the
marker along. The weights are plain, so the marker is dropped and the checkpoint saved with its
tokenizer; `evalkit run --model`, `evalkit train --model` and TRL's `GRPOTrainer(model=...)` load it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evalkit.models import ModelSpecError, load_hf_model, release_gguf_loader, resolve_model


def export_checkpoint(spec: str, output: str | Path, *, dtype: str = "float32") -> Path:
    """Save the model `spec` names (alias, .gguf, HF directory or hub id) as a plain checkpoint in `output`."""
    import torch

    out = Path(output)
    if out.exists() and any(out.iterdir()):
        raise ModelSpecError(f"{out} exists and is not empty; pass a new directory")
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if torch_dtype is None:
        raise ModelSpecError(f"--dtype {dtype!r}: use float32, bfloat16 or float16")
    model, tokenizer = load_hf_model(resolve_model(spec), dtype=torch_dtype)
    release_gguf_loader(model)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evalkit.export", description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model spec: the smollm2-135m alias, a .gguf file, an HF directory or a hub id")
    parser.add_argument("output", help="new directory for the checkpoint")
    parser.add_argument("--dtype", default="float32", help="weights dtype: float32 (default), bfloat16 or float16")
    args = parser.parse_args(argv)
    try:
        out = export_checkpoint(args.model, args.output, dtype=args.dtype)
    except ModelSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
