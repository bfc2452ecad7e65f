"""How long `evalkit report` takes on 100 runs x 4 benchmarks x 5000 samples (2M samples).

Writes the runs into a temporary directory (samples.jsonl with ~600-character completions, as
`evalkit run` writes them, plus a metrics.json with maj@k and a MATH level breakdown), then times:

- ours: the whole report (read, statistics, 99 paired tests against a baseline, markdown, CSV),
  and separately the plots;
- reference: reading the same samples.jsonl files with the stdlib (json.loads per line into the
  SampleRecord dataclass, i.e. evalkit.store.read_samples), the floor of a straightforward
  implementation before it computes anything. No anchor harness has a multi-run report to time
  (lm-eval's scripts/model_comparator.py reads two aggregated results files, not samples).

Run: python tests/perf/bench_report.py [--runs 100] [--problems 500] [--n 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from evalkit.schema import (
    CONFIG_FILE,
    METRICS_FILE,
    SAMPLES_FILE,
    DataInfo,
    ModelConfig,
    PromptConfig,
    RunConfig,
    SamplingParams,
)
from evalkit.store import RunStore

BENCHMARKS = ("gsm8k", "math500", "humaneval", "mbpp")
FILLER = ("Let me think step by step. We have the equation and we simplify both sides carefully, checking each "
          "term. ") * 6


def write_runs(root: Path, runs: int, problems: int, n: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    dirs = []
    for r in range(runs):
        d = root / f"ckpt/step-{(r + 1) * 100}"
        d.mkdir(parents=True)
        config = RunConfig(
            model=ModelConfig(spec=str(d), path=str(d), engine="vllm", name=f"ckpt/step-{(r + 1) * 100}",
                              checkpoint_step=(r + 1) * 100),
            benchmarks=list(BENCHMARKS), sampling=SamplingParams(n=n, temperature=0.6), prompt=PromptConfig(),
            limit=None,
            data={b: DataInfo("hub", "hash-" + b, problems, problems) for b in BENCHMARKS},
            graders={b: f"graders.{b}@1" for b in BENCHMARKS}, versions={"python": "3.11"},
            created="2025-01-01T00:00:00+00:00",
        )
        (d / CONFIG_FILE).write_text(json.dumps(config.to_dict()))
        lines = []
        metrics = {}
        for b in BENCHMARKS:
            skill = rng.beta(2, 2, size=problems) * (0.5 + r / (2 * runs))
            correct = rng.random((problems, n)) < skill[:, None]
            truncated = rng.random((problems, n)) < 0.05
            tokens = rng.integers(100, 2000, size=(problems, n))
            subs = ', "subscores": {"base": %s, "plus": %s}' if b in ("humaneval", "mbpp") else ""
            for p in range(problems):
                for j in range(n):
                    ok = "true" if correct[p, j] else "false"
                    sub = subs % (ok, ok) if subs else ""
                    lines.append(
                        f'{{"benchmark": "{b}", "problem_id": "{b}/{p}", "sample_index": {j}, "prompt_hash": '
                        f'"h{p}", "completion": "{FILLER} \\\\boxed{{{p % 7}}}", "extracted": "{p % 7}", '
                        f'"correct": {ok}, "reason": "{"correct" if correct[p, j] else "wrong"}", "finish_reason": '
                        f'"{"length" if truncated[p, j] else "stop"}", "tokens": {tokens[p, j]}{sub}}}\n')
            entry = {"n_problems": problems, "n_samples": problems * n, "maj@1": float(correct.mean()),
                     f"maj@{n}": float(correct.mean())}
            if b == "math500":
                levels = np.arange(problems) % 5 + 1
                entry["breakdown"] = {"level": {str(v): {"n_problems": int((levels == v).sum()),
                                                         "accuracy": float(correct[levels == v].mean())}
                                                for v in range(1, 6)}}
            metrics[b] = entry
        (d / SAMPLES_FILE).write_text("".join(lines))
        (d / METRICS_FILE).write_text(json.dumps(metrics))
        dirs.append(d)
    return dirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--problems", type=int, default=500)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()

    from reports.build import build_report
    from reports.load import load_runs
    from reports.plots import write_plots
    from reports.tables import render_csv, render_markdown

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        dirs = write_runs(root, args.runs, args.problems, args.n)
        size = sum((d / SAMPLES_FILE).stat().st_size for d in dirs)
        total = args.runs * len(BENCHMARKS) * args.problems * args.n
        print(f"wrote {args.runs} runs x {len(BENCHMARKS)} benchmarks x {args.problems * args.n} samples = "
              f"{total:,} samples, {size / 1e9:.2f} GB, in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        runs = load_runs(dirs)
        t_load = time.perf_counter() - t0
        report = build_report(runs, runs[0])
        markdown = render_markdown(report)
        csv = render_csv(report)
        ours = time.perf_counter() - t0
        print(f"ours: report (markdown {len(markdown) / 1e3:.0f} kB, CSV {len(csv) / 1e6:.1f} MB, "
              f"{len(report.comparisons)} paired tests): {ours:.2f} s (reading {t_load:.2f} s)")

        t0 = time.perf_counter()
        plots = write_plots(report, root / "plots")
        print(f"ours: {len(plots)} plots: {time.perf_counter() - t0:.2f} s")

        t0 = time.perf_counter()
        n_read = sum(len(RunStore(d).read_samples()) for d in dirs)
        reference = time.perf_counter() - t0
        assert n_read == total
        print(f"reference: stdlib json + SampleRecord read of the same samples: {reference:.2f} s")
        print(f"ratio: the whole report takes {ours / reference:.2f}x the time of the stdlib read alone")


if __name__ == "__main__":
    main()
