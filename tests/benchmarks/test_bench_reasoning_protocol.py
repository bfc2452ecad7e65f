"""The reasoning-model protocol: `--preset reasoning`, avg@n and its sampling error (checked by simulation),
the truncation split for `</think>` models, thinking opened by the prompt, and the `reasoning` group."""

from __future__ import annotations

import json
import math
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

import benchmarks
from benchmarks.base import Problem
from evalkit.cli import app
from evalkit.engines.base import Completion, Prompt, Request
from evalkit.metrics import compute_metrics, sampling_standard_error
from evalkit.options import PRESETS
from evalkit.prompts import graded_text, opens_thinking
from evalkit.runner import RunSettings, resolve_benchmarks, run
from evalkit.schema import BenchmarkMetrics, SampleRecord, SamplingParams

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from scripted import ScriptedEngine, write_gsm8k  # noqa: E402

runner = CliRunner()


# -- the group ---------------------------------------------------------------------------------------


def test_the_reasoning_group():
    assert benchmarks.GROUPS["reasoning"] == ("aime24", "aime25", "amc23", "math500", "olympiadbench", "minerva_math")
    assert resolve_benchmarks(["reasoning"]) == list(benchmarks.GROUPS["reasoning"])
    assert resolve_benchmarks(["gsm8k", "reasoning", "math500"]) == ["gsm8k", *benchmarks.GROUPS["reasoning"]]
    from evalkit.errors import UsageError

    with pytest.raises(UsageError, match="unknown benchmark 'reasonin'; did you mean 'reasoning'"):
        resolve_benchmarks(["reasonin"])


# -- the preset --------------------------------------------------------------------------------------


def _fake_model(tmp_path: Path) -> str:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return str(path)


def test_preset_sets_the_protocol_and_explicit_flags_win(tmp_path: Path):
    assert PRESETS["reasoning"] == {"temperature": 0.6, "top_p": 0.95, "n": 16, "max_tokens": 32768}
    # the preset's n = 16 with an explicit greedy temperature is refused: the preset applied, the flag won
    result = runner.invoke(app, ["run", "-m", _fake_model(tmp_path), "--preset", "reasoning", "--temperature", "0",
                                 "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "--n 16 with --temperature 0" in result.output, result.output
    result = runner.invoke(app, ["run", "-m", _fake_model(tmp_path), "--preset", "fast", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--preset 'fast' is not one of reasoning" in result.output
    assert len(result.output.strip().splitlines()) == 1
    help_text = " ".join(runner.invoke(app, ["run", "--help"]).output.split())
    assert "--preset" in help_text and "0.6" in help_text


# -- avg@n and its sampling error ---------------------------------------------------------------------


def test_sampling_error_matches_a_simulation():
    """The spread of avg@n between reruns on the same 30 problems, against our estimate from one run."""
    rng = random.Random(0)
    p = [rng.random() for _ in range(30)]
    for n in (4, 16):
        runs = []
        estimates = []
        for _ in range(2000):
            counts = [(n, sum(rng.random() < pi for _ in range(n))) for pi in p]
            runs.append(sum(c / k for k, c in counts) / len(counts))
            estimates.append(sampling_standard_error(counts))
        mean = sum(runs) / len(runs)
        observed = math.sqrt(sum((r - mean) ** 2 for r in runs) / (len(runs) - 1))
        truth = math.sqrt(sum(pi * (1 - pi) / n for pi in p)) / len(p)
        assert observed == pytest.approx(truth, rel=0.06)
        # the estimate is unbiased for the variance: its root-mean-square matches the truth
        assert math.sqrt(sum(e * e for e in estimates) / len(estimates)) == pytest.approx(truth, rel=0.03)
    assert sampling_standard_error([(1, 1), (4, 2)]) is None  # needs two samples per problem


def small_n_spread(problems: int, n: int, solve_rates: Sequence[float]) -> float:
    """Standard deviation of avg@n between reruns on a fixed problem set (percentage points)."""
    mean_var = sum(p * (1 - p) for p in solve_rates) / len(solve_rates)
    return 100 * math.sqrt(mean_var / (problems * n))


def test_the_readme_figures_for_a_30_problem_set():
    worst = [0.5] * 30
    spread = [(i + 0.5) / 30 for i in range(30)]  # solve rates spread evenly over [0, 1]
    assert [round(small_n_spread(30, n, worst), 1) for n in (1, 4, 16, 64)] == [9.1, 4.6, 2.3, 1.1]
    assert [round(small_n_spread(30, n, spread), 1) for n in (1, 4, 16, 64)] == [7.5, 3.7, 1.9, 0.9]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for figure in ("9.1", "4.6", "2.3", "1.1", "7.5", "3.7", "1.9", "0.9"):
        assert f"{figure} pp" in readme or f"{figure}," in readme or f"{figure} " in readme, figure


# -- truncation for reasoning models -----------------------------------------------------------------


def _s(pid: str, j: int, completion: str, finish: str, prompt_hash: str = "h") -> SampleRecord:
    return SampleRecord(benchmark="b", problem_id=pid, sample_index=j, prompt_hash=prompt_hash, completion=completion,
                        extracted=None, correct=False, reason="", finish_reason=finish, tokens=5)


def test_truncation_is_split_at_think_for_reasoning_models():
    problems = [Problem("a", "q", "1")]
    samples = [_s("a", 0, "<think>long", "length"), _s("a", 1, "<think>x</think> the answer", "length"),
               _s("a", 2, "<think>x</think> \\boxed{1}", "stop"), _s("a", 3, "<think>still", "length")]
    m = compute_metrics(samples, problems)
    assert m.truncation_rate == 0.75 and m.truncated_thinking_rate == 0.5 and m.truncated_after_thinking_rate == 0.25
    written = m.to_dict()
    assert written["truncated_thinking_rate"] == 0.5 and BenchmarkMetrics.from_dict(written) == m


def test_models_without_think_keep_todays_truncation():
    samples = [_s("a", 0, "plain text", "length"), _s("a", 1, "\\boxed{1}", "stop")]
    m = compute_metrics(samples, [Problem("a", "q", "1")])
    assert m.truncation_rate == 0.5 and m.truncated_thinking_rate is None and m.truncated_after_thinking_rate is None
    assert "truncated_thinking_rate" not in m.to_dict()


def test_a_prompt_that_opens_think_makes_its_samples_a_reasoning_models():
    assert opens_thinking("<|User|>q<|Assistant|><think>\n") and not opens_thinking("<think>\n\n</think>\n\nq")
    assert graded_text("so \\boxed{5}", True) == "<think>so \\boxed{5}" and graded_text("x", False) == "x"
    samples = [_s("a", 0, "hmm, 5?", "length", prompt_hash="opened"), _s("a", 1, "ok</think> \\boxed{1}", "stop",
                                                                       prompt_hash="opened")]
    m = compute_metrics(samples, [Problem("a", "q", "1")], thinking_prompts={"opened"})
    assert m.truncated_thinking_rate == 0.5 and m.truncated_after_thinking_rate == 0.0


class ThinkingEngine(ScriptedEngine):
    """Renders a chat template that opens `<think>` (as DeepSeek-R1's does) and is cut while thinking on cue."""

    def render(self, prompt: Prompt) -> str:
        return super().render(prompt) + "<|Assistant|><think>\n"

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> Iterator[tuple[int, list[Completion]]]:
        for i, r in enumerate(requests):
            question = self._question(r.prompt)
            if "1 plus 1" in question:  # thinks, closes, answers
                text, finish = "1 and 1 make 2.</think>\nThe answer is \\boxed{2}.", "stop"
            else:  # cut while thinking, with the right number in its thoughts
                text, finish = "Is it 4? Let me check 4 again", "length"
            yield i, [Completion(text=text, tokens=8, finish_reason=finish) for _ in range(r.n)]


def test_a_run_with_a_thinking_template(tmp_path: Path):
    write_gsm8k(tmp_path / "data", [("What is 1 plus 1?", "2"), ("What is 2 plus 2?", "4")])
    settings = RunSettings(model="m", benchmarks=["gsm8k"], engine="openai", data_dir=tmp_path / "data",
                           output=tmp_path / "run", sampling=SamplingParams(n=2, temperature=0.6, max_tokens=8))
    result = run(settings, engine_factory=lambda *_: ThinkingEngine({}))
    m = result.metrics["gsm8k"]
    # the cut sample names 4 in its thoughts, but thinking never closed: no answer (not a lucky pass)
    assert m.accuracy == 0.5 and m.truncated_thinking_rate == 0.5 and m.truncated_after_thinking_rate == 0.0
    samples = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    cut = [s for s in samples if s["finish_reason"] == "length"]
    assert cut and all(s["reason"] == "no_answer" and not s["completion"].startswith("<think>") for s in cut)
    from evalkit.runner import regrade

    assert regrade(tmp_path / "run").metrics["gsm8k"] == m  # regrading reads the prompts again
