"""A deterministic engine for testing the runner's bookkeeping (resume, storage, metrics) without a model.

It answers each problem from a script keyed by the question text and can sleep or crash on cue.
Real engines are tested against the real small model in test_engines.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence

from evalkit.engines.base import Completion, Engine, Prompt, Request, SamplingParams


class ScriptedEngine(Engine):
    name = "scripted"

    def __init__(self, answers: dict[str, str], *, crash_after: int | None = None, delay_s: float = 0.0) -> None:
        self.answers = answers
        self.crash_after = crash_after
        self.delay_s = delay_s
        self.generated: list[tuple[str, int]] = []  # (question, seed) of every sample produced
        self.closed = False

    def render(self, prompt: Prompt) -> str:
        return prompt.text if prompt.text is not None else "<chat>" + prompt.as_json()

    def _question(self, prompt: Prompt) -> str:
        if prompt.messages:
            return prompt.messages[-1][1]
        return prompt.text or ""

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        for i, r in enumerate(requests):
            if self.crash_after is not None and len(self.generated) >= self.crash_after:
                raise RuntimeError("scripted crash")
            time.sleep(self.delay_s)
            question = self._question(r.prompt)
            answer = next((a for q, a in self.answers.items() if q in question), "0")
            outs = []
            for j in range(r.n):
                seed = params.seed + r.seed_offset + j
                self.generated.append((question, seed))
                text = f"Reasoning with seed {seed}. The answer is \\boxed{{{answer}}}."
                outs.append(Completion(text=text, tokens=7 + j, finish_reason="stop"))
            yield i, outs

    def close(self) -> None:
        self.closed = True


def write_gsm8k(directory, rows: list[tuple[str, str]]) -> None:
    """A minimal local GSM8K layout (test and train) under `directory`."""
    d = directory / "gsm8k"
    d.mkdir(parents=True, exist_ok=True)
    for split in ("test", "train"):
        with (d / f"{split}.jsonl").open("w") as f:
            for q, a in rows:
                f.write(json.dumps({"question": f"{split}: {q}", "answer": f"Work <<1+1=2>>.\n#### {a}"}) + "\n")
