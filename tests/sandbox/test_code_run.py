"""`evalkit run` on the code benchmarks end to end, with an engine that answers from the datasets."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from evalkit.engines.base import Completion, Engine, Prompt, Request, SamplingParams
from evalkit.runner import RunSettings, run
from evalkit.schema import PromptConfig, SamplingConfig


class CanonicalEngine(Engine):
    """Answers the first sample of each request with the reference solution, the others wrongly."""

    name = "canonical"

    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    def render(self, prompt: Prompt) -> str:
        return prompt.text if prompt.text is not None else prompt.as_json()

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        for i, r in enumerate(requests):
            text = self.render(r.prompt)
            answer = next(a for key, a in self.answers.items() if key in text)
            outs = [Completion(text=answer if r.seed_offset + j == 0 else "```python\npass\n```", tokens=5,
                               finish_reason="stop") for j in range(r.n)]
            yield i, outs

    def close(self) -> None:
        pass


@pytest.mark.parametrize("chat", [False, True])
def test_run_humaneval_and_mbppplus_reports_pass_at_k_and_subscores(isolated, shared_data, tmp_path, chat,
                                                                     monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    import benchmarks
    from benchmarks.base import DataSource

    answers = {}
    for name in ("humaneval", "mbppplus"):
        for p in benchmarks.get(name).load(DataSource(shared_data))[:3]:
            body = p.gold[len(p.metadata["prompt"]):]
            answers[p.metadata["entry_point"]] = f"```python\n{p.gold}\n```" if chat else body
    settings = RunSettings(model="canonical", benchmarks=["humaneval", "mbppplus"], engine="openai", limit=3,
                           sampling=SamplingConfig(n=2, temperature=0.8, max_tokens=64), data_dir=shared_data,
                           output=tmp_path / "run", prompt=PromptConfig(chat=chat))
    result = run(settings, engine_factory=lambda name, model: CanonicalEngine(answers))
    humaneval, mbppplus = result.metrics["humaneval"], result.metrics["mbppplus"]
    assert humaneval.pass_at_k[1] == pytest.approx(0.5) and humaneval.pass_at_k[2] == pytest.approx(1.0)
    assert mbppplus.subscores["base"].pass_at_k[2] == pytest.approx(1.0)
    assert mbppplus.subscores["plus"].pass_at_k[2] == pytest.approx(1.0)
    samples = [json.loads(line) for line in Path(tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    right = [s for s in samples if s["correct"]]
    assert len(right) == 6 and all(s["extracted"] and s["completion"] for s in right)
    assert {tuple(sorted(s["subscores"])) for s in samples if s["benchmark"] == "mbppplus"} == {("base", "plus")}
    config = json.loads(Path(tmp_path / "run" / "config.json").read_text())
    assert config["graders"]["humaneval"].startswith("graders.code@")
