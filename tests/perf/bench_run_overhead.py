"""evalkit run's overhead over the raw engine: the same prompts, the same greedy generations, one process.

    python tests/perf/bench_run_overhead.py [--data-dir ../shared/data] [--limit 10] [--max-tokens 128]

A: the engine's own `generate` on the rendered prompts (the anchor: no evalkit around it).
B: `evalkit.runner.run` with that same loaded engine: data loading, prompt rendering, grading,
   samples.jsonl appends with fsync, metrics. Greedy decoding makes both produce the same tokens,
   so B / A is evalkit's overhead. The rounds alternate A and B to spread machine noise. Goal: <= 1.05.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import benchmarks
from evalkit.engines import EngineOptions, create_engine
from evalkit.engines.base import Request, SamplingParams
from evalkit.models import resolve_model
from evalkit.prompts import build_prompt
from evalkit.runner import RunSettings, data_source, run
from evalkit.schema import PromptConfig, SamplingConfig


class _KeepOpen:
    """The loaded engine, lent to the runner without letting it close the model."""

    def __init__(self, engine):
        self._engine = engine

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--benchmark", default="gsm8k")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    model = resolve_model("smollm2-135m")
    engine = create_engine("llamacpp", model, "smollm2-135m", EngineOptions(max_model_len=2048))
    bench = benchmarks.get(args.benchmark)
    problems = bench.load(data_source(args.data_dir))[: args.limit]
    requests = [Request(build_prompt(bench, p, PromptConfig(), []), n=1) for p in problems]
    params = SamplingParams(temperature=0.0, max_tokens=args.max_tokens)
    settings = dict(model="smollm2-135m", benchmarks=[args.benchmark], engine="llamacpp", limit=args.limit,
                    sampling=SamplingConfig(max_tokens=args.max_tokens), data_dir=args.data_dir)

    raw_times, run_times, tokens = [], [], 0
    for _ in range(args.rounds):
        start = time.perf_counter()
        outs = [c for _, cs in engine.generate(requests, params) for c in cs]
        raw_times.append(time.perf_counter() - start)
        tokens = sum(c.tokens for c in outs)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = run(RunSettings(**settings, output=Path(tmp) / "run"),
                         engine_factory=lambda name, m: _KeepOpen(engine))
            run_times.append(time.perf_counter() - start)
        assert result.generated == len(requests)
    raw, full = statistics.median(raw_times), statistics.median(run_times)
    print(f"prompts: {len(requests)} x {args.benchmark}, {tokens} generated tokens per pass, {args.rounds} rounds")
    print(f"raw engine generate (anchor): {raw:.2f} s   evalkit run: {full:.2f} s")
    print(f"ratio evalkit run / raw engine = {full / raw:.3f}  (goal <= 1.05)")
    engine.close()


if __name__ == "__main__":
    main()
