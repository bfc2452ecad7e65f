"""vLLM's real source code, for tests that check our calls against it without a GPU.

vLLM cannot run here, but its source can be read: the installed package, or an unpacked wheel
(EVALKIT_VLLM_SRC, else vLLM VLLM_VERSION's wheel fetched once from PyPI into ~/.cache/evalkit without
installing it). `real_api` parses it into the parameter and field names the stand-ins accept.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

VLLM_VERSION = "0.33.0"
SOURCE_FILES = (
    "sampling_params.py", "entrypoints/llm.py", "outputs.py", "engine/arg_utils.py", "inputs/llm.py",
    "v1/engine/parallel_sampling.py", "logprobs.py", "config/model.py", "config/load.py",
    "v1/engine/llm_engine.py", "v1/executor/uniproc_executor.py", "v1/worker/worker_base.py",
    "v1/core/sched/utils.py", "model_executor/model_loader/default_loader.py",
    "model_executor/model_loader/__init__.py", "model_executor/models/llama.py", "envs.py",
)


def _fetch(dest: Path) -> Path | None:
    """Unpack the source files we check from vLLM's wheel (downloaded, never installed)."""
    if all((dest / "vllm" / rel).is_file() for rel in SOURCE_FILES):
        return dest / "vllm"
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", f"vllm=={VLLM_VERSION}", "--no-deps",
                               "-q", "-d", tmp], capture_output=True, timeout=600)
        wheels = list(Path(tmp).glob("vllm-*.whl"))
        if done.returncode != 0 or not wheels:
            return None
        with zipfile.ZipFile(wheels[0]) as wheel:
            for rel in SOURCE_FILES:
                wheel.extract(f"vllm/{rel}", dest)
    return dest / "vllm"


def vllm_source() -> Path:
    """The `vllm` package directory to read; skips the test when none can be had."""
    env = os.environ.get("EVALKIT_VLLM_SRC")
    if env and (Path(env) / "vllm" / "sampling_params.py").is_file():
        return Path(env) / "vllm"
    spec = importlib.util.find_spec("vllm")
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    fetched = _fetch(Path.home() / ".cache" / "evalkit" / f"vllm-{VLLM_VERSION}-src")
    if fetched is None:
        pytest.skip("vLLM source not available (no package index; set EVALKIT_VLLM_SRC to an unpacked vllm wheel)")
    return fetched


def parse(rel: str) -> ast.Module:
    return ast.parse((vllm_source() / rel).read_text())


def source_text(rel: str) -> str:
    return (vllm_source() / rel).read_text()


def find_class(tree: ast.Module, name: str) -> ast.ClassDef:
    return next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == name)


def fields(cls: ast.ClassDef) -> set[str]:
    return {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


def method(cls: ast.ClassDef, name: str) -> ast.FunctionDef:
    return next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name)


def params(cls: ast.ClassDef, name: str) -> set[str]:
    args = method(cls, name).args
    return {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} - {"self"}


def literal_values(tree: ast.Module, alias: str) -> set[str]:
    """The strings of a `Name = Literal["a", "b", ...]` type alias."""
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == alias:
            return {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    raise LookupError(alias)


def real_api() -> dict[str, set[str]]:
    """Parameter and field names of the vLLM classes and methods evalkit calls."""
    llm = find_class(parse("entrypoints/llm.py"), "LLM")
    engine_args = find_class(parse("engine/arg_utils.py"), "EngineArgs")
    return {
        "SamplingParams": fields(find_class(parse("sampling_params.py"), "SamplingParams")),
        "LLM.__init__": params(llm, "__init__") | fields(engine_args),  # extra kwargs go to EngineArgs
        "LLM.generate": params(llm, "generate"),
        "LLM.apply_model": params(llm, "apply_model"),
        "LLM.sleep": params(llm, "sleep"),
        "LLM.wake_up": params(llm, "wake_up"),
        "LLM.reset_prefix_cache": params(llm, "reset_prefix_cache"),
        "LLM.methods": {n.name for n in llm.body if isinstance(n, ast.FunctionDef)},
        "CompletionOutput": fields(find_class(parse("outputs.py"), "CompletionOutput")),
        "RequestOutput": params(find_class(parse("outputs.py"), "RequestOutput"), "__init__"),
        "Logprob": fields(find_class(parse("logprobs.py"), "Logprob")),
        "TokensPrompt": fields(find_class(parse("inputs/llm.py"), "TokensPrompt")),
        "LogprobsMode": literal_values(parse("config/model.py"), "LogprobsMode"),
        "sleep tags": {"weights", "kv_cache", "scheduling"},
    }
