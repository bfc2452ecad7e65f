"""Agreement of evalkit's code verdicts with evalplus's recorded verdicts on real model outputs.

Run:  nice python tests/perf/agreement_code.py [--data ../shared/data] [--workers N] [--limit N]

Data: ../shared/data/labeled_outputs/evalplus_pr247 (6 models x HumanEval+ 164 and MBPP+ 378 greedy
samples, each with evalplus's `base_status` and `plus_status`). Every recorded `solution` (the full
sanitised program evalplus ran) is executed as-is in the sandbox against HumanEval+ v0.1.10 /
MBPP+ v0.2.0 base and plus inputs with evalplus's rules, and both verdicts are compared with the
labels. Every disagreement is printed with the task, the label, our verdict and its detail.
The canonical solutions of both benchmarks are checked first (all must pass).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import benchmarks  # noqa: E402
import sandbox  # noqa: E402
from benchmarks.base import DataSource  # noqa: E402

BENCH = {"humaneval": "humanevalplus", "mbpp": "mbppplus"}
SHARED_DATA = Path(os.environ.get("EVALKIT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def _jobs(task, solution: str) -> list[dict]:
    common = {"solution": solution, "entry_point": task.entry_point, "memory_mb": task.memory_mb}
    return [{**common, "test": task.base, "timeout_s": task.base_timeout_s},
            {**common, "test": task.plus, "timeout_s": task.plus_timeout_s}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--workers", type=int, default=None, help="sandbox workers (default: CPU count)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks per file (quick look)")
    args = parser.parse_args()
    root = args.data / "labeled_outputs" / "evalplus_pr247"
    totals: Counter = Counter()
    disagreements: list[str] = []
    for folder, bench_name in BENCH.items():
        bench = benchmarks.get(bench_name)
        problems = bench.load(DataSource(args.data))
        start = time.perf_counter()
        tasks = bench.tasks(problems)
        canon_jobs = [j for p in problems for j in _jobs(tasks[p.id], p.gold)]
        canon = sandbox.run_many(canon_jobs, workers=args.workers)
        n_canon = sum(a.passed and b.passed for a, b in zip(canon[::2], canon[1::2], strict=True))
        print(f"{bench_name}: canonical solutions passing base and plus: {n_canon}/{len(problems)} "
              f"(expected outputs and canonical check {time.perf_counter() - start:.1f} s)")
        for path in sorted((root / folder).glob("*.json")):
            records = json.loads(path.read_text())["eval"]
            ids = [pid for pid in (p.id for p in problems) if pid in records][: args.limit]
            samples = [records[pid][0] for pid in ids]
            jobs = [j for pid, s in zip(ids, samples, strict=True) for j in _jobs(tasks[pid], s["solution"])]
            start = time.perf_counter()
            results = sandbox.run_many(jobs, workers=args.workers)
            elapsed = time.perf_counter() - start
            counts: Counter = Counter()
            for pid, s, base, plus in zip(ids, samples, results[::2], results[1::2], strict=True):
                for split, label, ours in (("base", s["base_status"], base), ("plus", s["plus_status"], plus)):
                    agree = (label == "pass") == ours.passed
                    counts[f"{split}_agree"] += agree
                    if not agree:
                        disagreements.append(f"{folder}/{path.name[:48]} {pid} {split}: evalplus={label} "
                                             f"evalkit={ours.status} ({ours.detail[:90]})")
            n = len(ids)
            totals.update({"n": n, **counts})
            print(f"  {path.name[:60]:60s} base {counts['base_agree']}/{n}  plus {counts['plus_agree']}/{n}  "
                  f"({2 * n / elapsed:.0f} jobs/s)")
    n = totals["n"]
    print(f"TOTAL {n} samples: base agreement {totals['base_agree']}/{n} ({totals['base_agree'] / n:.2%}), "
          f"plus agreement {totals['plus_agree']}/{n} ({totals['plus_agree'] / n:.2%})")
    print(f"{len(disagreements)} disagreements:")
    for line in disagreements:
        print("  " + line)


if __name__ == "__main__":
    main()
