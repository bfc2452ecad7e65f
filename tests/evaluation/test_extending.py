"""Extending evalkit from outside the package, as the README's "Extending evalkit" section says.

A toy plugin distribution (installed the way pip installs one: a package and its `.dist-info` with
`entry_points.txt`, on the path of a fresh interpreter) adds one of each extension point: a
benchmark, an engine, a grader (which the benchmark looks up by name) and a loss. `evalkit list`,
`evalkit run` and `evalkit train` then use them like built-ins. The same objects also register as
lazy `"module:Object"` targets from code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = {
    "evalkit_toy_plugin/__init__.py": '"""A toy evalkit plugin (tests/evaluation/test_extending.py)."""\n',
    "evalkit_toy_plugin/grader.py": '''
        from dataclasses import dataclass

        from graders.protocol import Reference, as_references
        from graders.verdict import Verdict


        @dataclass(frozen=True)
        class ExactGrader:
            """The last word of the completion, compared with the gold as a string."""

            version = "evalkit_toy_plugin.exact@1"

            def grade_batch(self, completions, references):
                out = []
                for text, ref in zip(completions, as_references(references), strict=True):
                    words = text.replace(".", " ").split()
                    answer = words[-1] if words else None
                    out.append(Verdict(answer == ref.gold, answer, "equal" if answer == ref.gold else "different"))
                return out

            def same_answer(self, a, b):
                return a == b
    ''',
    "evalkit_toy_plugin/bench.py": '''
        from benchmarks.base import Problem
        from benchmarks.math_bench import MathBenchmark
        from graders.protocol import GRADERS


        class ParityBenchmark(MathBenchmark):
            name = "parity"
            description = "Is the number even? (a toy plugin benchmark)"
            grader = GRADERS.get("exact")()

            def load(self, source):
                return [Problem(f"test/{n}", f"Is {n} even?", "yes" if n % 2 == 0 else "no") for n in (4, 7, 10)]

            def fewshot_pool(self, source):
                return [Problem(f"train/{n}", f"Is {n} even?", "yes" if n % 2 == 0 else "no") for n in range(20)]

            def completion_prompt(self, problem, shots):
                return problem.question + " Answer:"
    ''',
    "evalkit_toy_plugin/engine.py": '''
        import re

        from evalkit.engines.base import Completion, Engine


        class ParityEngine(Engine):
            """Answers parity questions right, except for multiples of 5 (so the score is not trivially 1)."""

            name = "parity-engine"
            loads_model = False

            @classmethod
            def create(cls, model, spec, options):
                return cls()

            def render(self, prompt):
                return prompt.as_json() if prompt.is_chat else prompt.text

            def generate(self, requests, params):
                for i, r in enumerate(requests):
                    n = int(re.findall(r"Is (\\d+) even", self.render(r.prompt))[-1])
                    answer = "yes" if (n % 2 == 0) != (n % 5 == 0) else "no"
                    yield i, [Completion(f"The answer is {answer}.", 5, "stop") for _ in range(r.n)]
    ''',
    "evalkit_toy_plugin/loss.py": '''
        from evalkit.train.losses import LossOutput, LossParams, LossSpec


        def plain_policy_gradient(t, p, norm=None):
            """REINFORCE with the group advantage: -A log pi, averaged over completion tokens."""
            per_token = -(t.advantages[:, None] * t.logp) * t.mask
            loss = per_token.sum() / t.mask.sum().clamp(min=1)
            return LossOutput(loss=loss, clip_low=0.0, clip_high=0.0, ratio_mean=1.0)


        LOSS = LossSpec(name="plain_pg", fn=plain_policy_gradient, params=LossParams, summary="plain policy gradient")
    ''',
    "evalkit_toy_plugin-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: evalkit-toy-plugin\nVersion: 0.1\n",
    "evalkit_toy_plugin-0.1.dist-info/entry_points.txt": '''
        [evalkit.benchmarks]
        parity = evalkit_toy_plugin.bench:ParityBenchmark

        [evalkit.engines]
        parity-engine = evalkit_toy_plugin.engine:ParityEngine

        [evalkit.graders]
        exact = evalkit_toy_plugin.grader:ExactGrader

        [evalkit.losses]
        plain_pg = evalkit_toy_plugin.loss:LOSS
    ''',
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("site"), PLUGIN)


def evalkit(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "evalkit.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_plugin_benchmark_engine_and_grader_run_like_builtins(plugin: Path, tmp_path: Path):
    listed = evalkit(plugin, "list")
    assert listed.returncode == 0, listed.stderr
    assert "parity" in listed.stdout and "toy plugin benchmark" in listed.stdout
    out = tmp_path / "run"
    done = evalkit(plugin, "run", "-m", "served-parity", "--engine", "parity-engine", "-b", "parity",
                   "--n", "2", "--temperature", "0.5", "-o", str(out))
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())["parity"]
    assert metrics["accuracy"] == pytest.approx(2 / 3) and metrics["maj@2"] == pytest.approx(2 / 3)  # 10 is wrong
    config = json.loads((out / "config.json").read_text())
    assert config["graders"] == {"parity": "evalkit_toy_plugin.exact@1"}
    assert config["model"]["engine"] == "parity-engine"


def test_a_plugin_loss_trains_from_the_command_line(plugin: Path, tmp_path: Path):
    from evalkit.train.toy import TEXT_CHARS, char_tokenizer, tiny_llama

    tokenizer = char_tokenizer(TEXT_CHARS)
    model_dir = tmp_path / "model"
    tiny_llama(tokenizer, hidden=32, layers=1, heads=2, context=48).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "train"
    done = evalkit(plugin, "train", "--algo", "plain_pg", "-m", str(model_dir), "-b", "parity", "--no-chat-template",
                   "--steps", "2", "--n", "2", "--prompts-per-step", "2", "--max-tokens", "3", "-o", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2] and {r["algo"] for r in records} == {"plain_pg"}
    assert all(0.0 <= r["reward_mean"] <= 1.0 for r in records)


def test_the_same_objects_register_as_lazy_targets_from_code(plugin: Path):
    code = textwrap.dedent("""
        import sys
        import benchmarks
        from evalkit.engines import ENGINES
        from evalkit.train.losses import LOSSES, register_loss
        from graders.protocol import GRADERS

        benchmarks.BENCHMARKS.register("parity2", "evalkit_toy_plugin.bench:ParityBenchmark")
        ENGINES.register("parity2", "evalkit_toy_plugin.engine:ParityEngine")
        GRADERS.register("exact2", "evalkit_toy_plugin.grader:ExactGrader")
        LOSSES.register("plain_pg2", "evalkit_toy_plugin.loss:LOSS")
        assert "evalkit_toy_plugin.bench" not in sys.modules  # registering imports nothing
        bench = benchmarks.get("parity2")
        verdicts = bench.grade_many(bench.load(None), ["yes", "yes", "no"])
        assert [v.correct for v in verdicts] == [True, False, False]
        assert ENGINES.get("parity2").__name__ == "ParityEngine"
        assert GRADERS.get("exact2")().version == "evalkit_toy_plugin.exact@1"
        assert LOSSES.get("plain_pg2").summary == "plain policy gradient"
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), str(ROOT)])}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_broken_plugin_is_one_line_with_exit_2(tmp_path: Path):
    site = _write(tmp_path / "site", {
        "evalkit_broken-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: evalkit-broken\nVersion: 0.1\n",
        "evalkit_broken-0.1.dist-info/entry_points.txt": "[evalkit.benchmarks]\nbroken = evalkit_broken.nope:Missing\n",
    })
    done = evalkit(site, "list")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: cannot load benchmark 'broken' from entry point 'evalkit_broken.nope:Missing' of evalkit.benchmarks "
        "(ModuleNotFoundError: No module named 'evalkit_broken')"]
