"""The vLLM engine's calls, checked against the signatures in vLLM's real source code.

vLLM cannot run without a GPU, but its source can be read (tests/vllm_source.py: the installed package,
or an unpacked wheel fetched once from PyPI without installing it). The test stands in a stub `vllm`
module whose classes accept exactly the parameters the real ones declare. The engine is then run end to
end on that stub: every keyword it passes must exist, and outputs are read through the real attribute names.
"""

from __future__ import annotations

import sys
import types

import pytest
from vllm_source import real_api as read_real_api
from vllm_source import vllm_source

from evalkit.engines.base import Prompt, Request, SamplingParams
from evalkit.models import ResolvedModel


@pytest.fixture(scope="module")
def real_api() -> dict[str, set[str]]:
    return read_real_api()


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
    text = vllm_source() / "v1" / "engine" / "parallel_sampling.py"
    if not text.is_file():
        pytest.skip("vLLM V1 parallel sampling source not present")
    assert "seed = seed + index" in text.read_text().replace("child_sampling_params.seed", "seed")
