"""Issue 12, class 2 (and the exception-name item of class 6): candidate bytes never crash the evaluator.

Before issue 12 a reply frame forged with a lone surrogate in the exception message made the write to
samples.jsonl raise UnicodeEncodeError: `evalkit run` died, nothing was saved, and every resume died on
the same sample again. Everything that crosses from the candidate or judge is now untrusted: frames are
size-capped and strictly parsed (a malformed one fails the sample), results are typed, text is valid
UTF-8 without control characters and length-capped, and the run store writes any str.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import sandbox
from evalkit.engines.base import Completion, Engine, Prompt, Request, SamplingParams
from evalkit.runner import RunSettings, run
from evalkit.schema import PromptConfig, SamplingConfig
from evalkit.store import _append_lines, read_jsonl_records
from sandbox.pool import WorkerLost, _typed_result

sys.path.insert(0, str(Path(__file__).parent))
from hostile import ATTACKS, CONTEXT, FORGED_FRAMES, HONEST_ADD, JUDGE_BOMBS, TEST  # noqa: E402

HOSTILE = {
    **FORGED_FRAMES,
    "surrogates_in_exception": ATTACKS["surrogates_in_exception"].format(),
    "long_exception_type_name": ATTACKS["long_exception_type_name"].format(),
    "huge_output": ATTACKS["huge_output"].format(),
    "sixty_megabyte_reply": JUDGE_BOMBS["ten_million_empty_sets"][0].replace("def f():", "def add(a, b):"),
}


def _clean(text: str) -> bool:
    text.encode("utf-8")  # no lone surrogates
    return all(c.isprintable() or c in "\n\t" for c in text)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_replies_fail_the_sample_with_a_clean_reason(isolated, name):
    job = {"solution": HOSTILE[name], "test": TEST, "entry_point": "add", "context": CONTEXT}
    hostile, honest = sandbox.run_many([job, {**job, "solution": HONEST_ADD}], workers=1)
    assert hostile.status == "failed", hostile
    assert _clean(hostile.detail) and len(hostile.detail) <= 1000, hostile.detail[:200]
    assert honest.passed, honest  # the same worker judges the next sample as usual


def test_a_worker_result_is_typed_and_its_text_cleaned():
    result = _typed_result({"status": "failed", "detail": "bad \ud800\x1b[2J" + "x" * 5000, "trust": "strong",
                            "duration": float("nan"), "id": None})
    assert result["detail"].startswith("bad \ufffd\ufffd[2J") and len(result["detail"]) == 1000
    assert result["duration"] == 0.0 and result["retire"] is False and result["infra"] is False
    for raw in (None, [], {"status": "won"}, {"status": "passed", "trust": "total"},
                {"status": "passed", "outputs": [1], "times": "0"}):
        with pytest.raises(WorkerLost):
            _typed_result(raw)


def test_the_run_store_writes_any_str_and_reads_it_back(tmp_path):
    path = tmp_path / "samples.jsonl"
    records = [{"completion": "lone \ud800 and \udfff, pair \U0001f600, nul \x00, ansi \x1b[31m", "reason": "\ud83d"},
               {"completion": "plain"}]
    _append_lines(path, records)
    path.read_bytes().decode("utf-8")  # valid UTF-8 on disk
    assert read_jsonl_records(path) == records  # and the very same strs in memory


class HostileEngine(Engine):
    """Sample 0 of each problem is the canonical solution; the others are the hostile completions."""

    name = "hostile"

    def __init__(self, problems: dict[str, tuple[str, str]]):
        self.problems = problems  # entry point -> (canonical program, prompt marker)
        self.generate_calls = 0

    def render(self, prompt: Prompt) -> str:
        return prompt.text if prompt.text is not None else prompt.as_json()

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        self.generate_calls += 1
        names = sorted(HOSTILE)
        for i, r in enumerate(requests):
            text = self.render(r.prompt)
            entry_point = next(ep for ep in self.problems if f"def {ep}(" in text)
            outs = []
            for j in range(r.n):
                k = r.seed_offset + j
                if k == 0:
                    code = self.problems[entry_point]
                else:
                    code = HOSTILE[names[(k - 1) % len(names)]].replace("def add(a, b):", f"def {entry_point}(*args):")
                outs.append(Completion(text=f"Here \ud800 is\x00 my \x1b[2J answer:\n```python\n{code}\n```", tokens=9,
                                       finish_reason="stop"))
            yield i, outs

    def close(self) -> None:
        pass


def test_evalkit_run_survives_hostile_candidates_and_resumes(isolated, shared_data, tmp_path):
    import benchmarks
    from benchmarks.base import DataSource

    problems = benchmarks.get("humaneval").load(DataSource(shared_data))[:2]
    engine = HostileEngine({p.metadata["entry_point"]: p.gold for p in problems})
    n = len(HOSTILE) + 1
    settings = RunSettings(model="hostile", benchmarks=["humaneval"], engine="openai", limit=2,
                           sampling=SamplingConfig(n=n, temperature=0.8, max_tokens=64), data_dir=shared_data,
                           output=tmp_path / "run", prompt=PromptConfig(chat=True))
    first = run(settings, engine_factory=lambda name, model: engine)
    assert first.generated == 2 * n
    raw = (tmp_path / "run" / "samples.jsonl").read_bytes()
    samples = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert len(samples) == 2 * n
    for s in samples:
        assert _clean(s["reason"]), s["reason"][:200]
        assert s["correct"] == (s["sample_index"] == 0), s["reason"][:200]
        assert "\ud800" in s["completion"]  # the model's text is kept exactly, surrogate and all
    assert first.metrics["humaneval"].pass_at_k[1] == pytest.approx(1 / n)

    again = HostileEngine(engine.problems)
    second = run(settings, engine_factory=lambda name, model: again)
    assert second.generated == 0 and second.resumed == 2 * n and again.generate_calls == 0
    assert second.metrics["humaneval"].pass_at_k[1] == pytest.approx(first.metrics["humaneval"].pass_at_k[1])
