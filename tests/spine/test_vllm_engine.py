"""The vLLM engine's calls, checked against the signatures in vLLM's real source code.

vLLM cannot run without a GPU, but its source can be read: the test parses the installed package,
or an unpacked wheel (EVALKIT_VLLM_SRC, else vLLM VLLM_VERSION's wheel fetched once from PyPI into
~/.cache/evalkit without installing it), and stands in a stub
`vllm` module whose classes accept exactly the parameters the real ones declare. The engine is then
run end to end on that stub: every keyword it passes must exist, and outputs are read through the
real attribute names.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

import pytest

from evalkit.engines.base import Prompt, Request, SamplingParams
from evalkit.models import ResolvedModel

VLLM_VERSION = "0.33.0"
SOURCE_FILES = ("sampling_params.py", "entrypoints/llm.py", "outputs.py", "engine/arg_utils.py", "inputs/llm.py",
                "v1/engine/parallel_sampling.py")


def _fetch_vllm_source(dest: Path) -> Path | None:
    """Unpack the few source files we check from vLLM's wheel (downloaded, never installed)."""
    if (dest / "vllm" / "sampling_params.py").is_file():
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


def _vllm_source() -> Path:
    env = os.environ.get("EVALKIT_VLLM_SRC")
    if env and (Path(env) / "vllm" / "sampling_params.py").is_file():
        return Path(env) / "vllm"
    spec = importlib.util.find_spec("vllm")
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    fetched = _fetch_vllm_source(Path.home() / ".cache" / "evalkit" / f"vllm-{VLLM_VERSION}-src")
    if fetched is None:
        pytest.skip("vLLM source not available (no package index; set EVALKIT_VLLM_SRC to an unpacked vllm wheel)")
    return fetched


def _class(tree: ast.Module, name: str) -> ast.ClassDef:
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)


def _fields(cls: ast.ClassDef) -> set[str]:
    return {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}


def _params(cls: ast.ClassDef, method: str) -> set[str]:
    fn = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == method)
    args = fn.args
    return {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} - {"self"}


@pytest.fixture(scope="module")
def real_api() -> dict[str, set[str]]:
    src = _vllm_source()
    parse = lambda rel: ast.parse((src / rel).read_text())  # noqa: E731
    sampling = _class(parse("sampling_params.py"), "SamplingParams")
    llm = _class(parse("entrypoints/llm.py"), "LLM")
    outputs = parse("outputs.py")
    engine_args = _class(parse("engine/arg_utils.py"), "EngineArgs")
    return {
        "SamplingParams": _fields(sampling),
        "LLM.__init__": _params(llm, "__init__") | _fields(engine_args),  # extra kwargs go to EngineArgs
        "LLM.generate": _params(llm, "generate"),
        "LLM.methods": {n.name for n in llm.body if isinstance(n, ast.FunctionDef)},
        "CompletionOutput": _fields(_class(outputs, "CompletionOutput")),
        "TokensPrompt": _fields(_class(parse("inputs/llm.py"), "TokensPrompt")),
    }


class _Tokenizer:
    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"

    def encode(self, text, add_special_tokens):
        assert add_special_tokens is False
        return [ord(c) for c in text]


def _stub_vllm(api: dict[str, set[str]], calls: list) -> types.ModuleType:
    module = types.ModuleType("vllm")

    class SamplingParamsStub:
        def __init__(self, **kwargs):
            unknown = set(kwargs) - api["SamplingParams"]
            assert not unknown, f"vllm.SamplingParams has no parameter(s) {unknown}"
            self.kwargs = kwargs

    class LLMStub:
        def __init__(self, **kwargs):
            unknown = set(kwargs) - api["LLM.__init__"]
            assert not unknown, f"vllm.LLM has no parameter(s) {unknown}"
            calls.append(("LLM", kwargs))

        def get_tokenizer(self):
            assert "get_tokenizer" in api["LLM.methods"]
            return _Tokenizer()

        def generate(self, prompts, **kwargs):
            unknown = set(kwargs) - api["LLM.generate"]
            assert not unknown, f"vllm.LLM.generate has no parameter(s) {unknown}"
            calls.append(("generate", prompts, kwargs))
            outs = []
            for prompt, sp in zip(prompts, kwargs["sampling_params"], strict=True):
                if isinstance(prompt, dict):
                    assert set(prompt) <= api["TokensPrompt"]
                completions = [
                    types.SimpleNamespace(text=f"sample {j} seed {sp.kwargs['seed'] + j}", token_ids=[1] * (j + 2),
                                          finish_reason="length" if j == 0 else "stop")
                    for j in range(sp.kwargs["n"])
                ]
                for c in completions:
                    assert set(vars(c)) <= api["CompletionOutput"]
                outs.append(types.SimpleNamespace(outputs=completions))
            return outs

    module.SamplingParams = SamplingParamsStub
    module.LLM = LLMStub
    return module


def test_vllm_engine_uses_only_real_parameters(real_api, monkeypatch: pytest.MonkeyPatch):
    calls: list = []
    monkeypatch.setitem(sys.modules, "vllm", _stub_vllm(real_api, calls))
    from evalkit.engines.vllm_engine import VLLMEngine

    model = ResolvedModel(spec="org/model", path="org/model", name="org/model", is_local=False)
    engine = VLLMEngine(model, tensor_parallel_size=2, max_model_len=4096, dtype="bfloat16", seed=3)
    assert calls[0][1]["tensor_parallel_size"] == 2 and calls[0][1]["max_model_len"] == 4096
    requests = [Request(Prompt(messages=(("user", "2+2?"),)), n=3, seed_offset=0),
                Request(Prompt(text="Question: 1+1?\nAnswer:"), n=2, seed_offset=5)]
    results = dict(engine.generate(requests, SamplingParams(temperature=0.6, top_p=0.95, max_tokens=64, seed=10,
                                                            stop=("Question:",))))
    _, prompts, kwargs = calls[1]
    assert len([c for c in calls if c[0] == "generate"]) == 1  # one call over all prompts
    assert prompts[0] == {"prompt_token_ids": [ord(c) for c in "<user>2+2?<assistant>"]}
    assert prompts[1] == "Question: 1+1?\nAnswer:"
    sp = [p.kwargs for p in kwargs["sampling_params"]]
    assert [p["n"] for p in sp] == [3, 2] and [p["seed"] for p in sp] == [10, 15]
    assert sp[0]["stop"] == ["Question:"] and sp[0]["temperature"] == 0.6 and sp[0]["max_tokens"] == 64
    assert [c.text for c in results[1]] == ["sample 0 seed 15", "sample 1 seed 16"]
    assert [c.finish_reason for c in results[0]] == ["length", "stop", "stop"]
    assert [c.tokens for c in results[0]] == [2, 3, 4]


def test_child_samples_get_consecutive_seeds_in_real_vllm():
    """Our seed convention (sample j uses seed + j) is the one vLLM applies to the n children of a request."""
    text = (_vllm_source() / "v1" / "engine" / "parallel_sampling.py")
    if not text.is_file():
        pytest.skip("vLLM V1 parallel sampling source not present")
    assert "seed = seed + index" in text.read_text().replace("child_sampling_params.seed", "seed")
