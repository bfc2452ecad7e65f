"""evalkit run's overhead over the raw engine: the same prompts, the same greedy generations, one process.

    python tests/perf/bench_run_overhead.py [--data-dir ../shared/data] [--limit 10] [--max-tokens 128]

A: the engine's own `generate` on the rendered prompts (the anchor: no evalkit around it).
B: `evalkit.runner.run` with that same loaded engine: data loading, prompt rendering, grading,
   samples.jsonl appends with fsync, metrics. Greedy decoding makes both produce the same tokens,
   so B / A is evalkit's overhead. The rounds alternate A and B to spread machine noise. Goal: <= 1.05.
On a shared machine A and B swing with load, so the script also prints B's total time over the time
spent inside the engine's generate during B itself: the same pass, hence free of that noise.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import benchmarks
from evalkit.engines import EngineOptions, create_engine
from evalkit.engines.base import Request
from evalkit.models import resolve_model
from evalkit.prompts import build_prompt
from evalkit.runner import RunSettings, data_source, run
from evalkit.schema import PromptConfig, SamplingParams


class _KeepOpen:
    """The loaded engine, lent to the runner without letting it close the model; times its generate."""

    def __init__(self, engine):
        self._engine = engine
        self.generate_s = 0.0

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def generate(self, requests, params):
        it = self._engine.generate(requests, params)
        while True:
            start = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                self.generate_s += time.perf_counter() - start
            yield item

    def close(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--benchmark", default="gsm8k")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    model = resolve_model("smollm2-135m")
    engine = create_engine("llamacpp", model, "smollm2-135m", EngineOptions(max_model_len=2048))
    bench = benchmarks.get(args.benchmark)
    problems = bench.load(data_source(args.data_dir))[: args.limit]
    requests = [Request(build_prompt(bench, p, PromptConfig(), []), n=1) for p in problems]
    params = SamplingParams(temperature=0.0, max_tokens=args.max_tokens)
    settings = dict(model="smollm2-135m", benchmarks=[args.benchmark], engine="llamacpp", limit=args.limit,
                    sampling=SamplingParams(max_tokens=args.max_tokens), data_dir=args.data_dir)

    def raw_pass() -> tuple[float, float, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        outs = [c for _, cs in engine.generate(requests, params) for c in cs]
        return time.perf_counter() - wall, time.process_time() - cpu, sum(c.tokens for c in outs)

    inside: list[float] = []  # evalkit run's wall time / the engine's generate time within that same run

    def run_pass() -> tuple[float, float, int]:
        lent = _KeepOpen(engine)
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu = time.perf_counter(), time.process_time()
            result = run(RunSettings(**settings, output=Path(tmp) / "run"), engine_factory=lambda name, m: lent)
            elapsed = time.perf_counter() - wall, time.process_time() - cpu
        inside.append(elapsed[0] / lent.generate_s)
        return (*elapsed, round(result.metrics[args.benchmark].mean_tokens * result.generated))

    raw_pass()  # warm-up: page in the model, fill caches
    raw, full = [], []
    for i in range(args.rounds):
        # Alternate which goes first so slow drifts of the machine cancel.
        pair = (raw_pass(), run_pass()) if i % 2 == 0 else tuple(reversed((run_pass(), raw_pass())))
        assert pair[0][2] == pair[1][2], "greedy generations differ between the two paths"
        raw.append(pair[0])
        full.append(pair[1])
    wall_ratio = statistics.median(b[0] / a[0] for a, b in zip(raw, full, strict=True))
    cpu_ratio = sum(b[1] for b in full) / sum(a[1] for a in raw)
    print(f"prompts: {len(requests)} x {args.benchmark}, {raw[0][2]} generated tokens per pass, {args.rounds} rounds")
    print(f"raw engine generate (anchor): wall {statistics.median(a[0] for a in raw):.2f} s, "
          f"CPU {sum(a[1] for a in raw) / len(raw):.2f} s")
    print(f"evalkit run:                  wall {statistics.median(b[0] for b in full):.2f} s, "
          f"CPU {sum(b[1] for b in full) / len(full):.2f} s")
    print(f"ratio evalkit run / raw engine (separate passes): CPU time {cpu_ratio:.3f}, "
          f"wall {wall_ratio:.3f} (median of rounds; both swing with machine load)")
    print(f"ratio evalkit run / its own engine.generate time (same pass, load-independent): "
          f"{statistics.median(inside):.3f}  (goal <= 1.05)")
    engine.close()


if __name__ == "__main__":
    main()
