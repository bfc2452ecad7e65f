"""How fast `evalkit view` opens the sample table of a 100k-sample run, against reading the file with json.loads.

Writes one run directory (12,500 MATH-style problems x 8 samples = 100,000 samples) whose completions are the
real Qwen2.5-Math responses of ../shared/data (cycled; about 1.4 kB each, so samples.jsonl is ~160 MB), with
problems.jsonl and prompts.jsonl as `evalkit run` writes them. Then, in one process:

- anchor: read samples.jsonl line by line with json.loads (what any tool must at least do to show the table
  without an index);
- ours: start the viewer's server on the run and time, over HTTP, the first page of the samples table (the
  index is built inside this request), then the next pages, a filter, a sort, a search, the problems table
  and one sample.

Run: python tests/perf/bench_view.py [--problems 12500] [--n 8] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from evalkit.schema import (  # noqa: E402
    CONFIG_FILE,
    PROBLEMS_FILE,
    PROMPTS_FILE,
    SAMPLES_FILE,
    DataInfo,
    ModelConfig,
    PromptConfig,
    RunConfig,
    SamplingConfig,
)

QWEN = "labeled_outputs/math_qwen25math_rm_maj/math_cot_100.jsonl"


def write_run(directory: Path, data: Path, problems: int, n: int) -> int:
    """The run directory; returns the size of samples.jsonl in bytes."""
    rows = [json.loads(line) for line in (data / QWEN).read_text(encoding="utf-8").splitlines()]
    directory.mkdir(parents=True)
    config = RunConfig(
        model=ModelConfig(spec="bench", path="bench", engine="vllm", name="bench-model"), benchmarks=["math"],
        sampling=SamplingConfig(n=n, temperature=0.6), prompt=PromptConfig(), limit=None,
        data={"math": DataInfo("hub", "hash", problems, problems)}, graders={"math": "graders.math@1"},
        versions={"python": "3.11"}, created="2025-01-01T00:00:00+00:00")
    (directory / CONFIG_FILE).write_text(json.dumps(config.to_dict()))
    with (directory / PROBLEMS_FILE).open("w", encoding="utf-8") as probs, \
            (directory / PROMPTS_FILE).open("w", encoding="utf-8") as prompts, \
            (directory / SAMPLES_FILE).open("w", encoding="utf-8") as samples:
        for p in range(problems):
            row = rows[p % len(rows)]
            pid = f"test/{row['level'].split()[-1]}/{p}.json"
            probs.write(json.dumps({"benchmark": "math", "problem_id": pid, "question": row["question"],
                                    "gold": row["gt"], "labels": {"level": int(row["level"].split()[-1])}},
                                   ensure_ascii=False) + "\n")
            prompts.write(json.dumps({"prompt_hash": f"h{p}", "benchmark": "math", "problem_id": pid,
                                      "prompt": row["question"]}, ensure_ascii=False) + "\n")
            for j in range(n):
                k = (p + j) % 8
                samples.write(json.dumps({
                    "benchmark": "math", "problem_id": pid, "sample_index": j, "prompt_hash": f"h{p}",
                    "completion": row["code"][k], "extracted": row["pred"][k], "correct": bool(row["score"][k]),
                    "reason": "equal" if row["score"][k] else "different",
                    "finish_reason": "length" if len(row["code"][k]) > 3000 else "stop",
                    "tokens": len(row["code"][k]) // 4, "subscores": {}}, ensure_ascii=False) + "\n")
    return (directory / SAMPLES_FILE).stat().st_size


def json_loads_reading(path: Path) -> float:
    start = time.perf_counter()
    with path.open("rb") as f:
        records = [json.loads(line) for line in f]
    assert records
    return time.perf_counter() - start


def get(url: str) -> tuple[float, dict]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as response:
        body = json.loads(response.read())
    return time.perf_counter() - start, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=12_500)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    from reports.view.discover import discover
    from reports.view.server import start

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "bench-run"
        size = write_run(run, args.data, args.problems, args.n)
        samples = args.problems * args.n
        anchor = min(json_loads_reading(run / SAMPLES_FILE) for _ in range(2))
        server = start(discover([str(run)]), port=0, warm=False)
        api = f"{server.url}api/samples?run=bench-run&bench=math"
        try:
            first, body = get(api)
            assert body["total"] == samples, body["total"]
            pages = [get(f"{api}&page={p}")[0] for p in (2, 3, 50, 1000, body["pages"])]
            timings = {
                "filter wrong, first page": get(f"{api}&verdict=wrong")[0],
                "filter wrong, next page": get(f"{api}&verdict=wrong&page=2")[0],
                "sort by tokens, first page": get(f"{api}&sort=tokens&order=desc")[0],
                "search 'modulo' (cold)": get(f"{api}&q=modulo")[0],
                "search 'modulo', page 2 (cached)": get(f"{api}&q=modulo&page=2")[0],
                "problems table (pass@k, majority), first page": get(f"{api}&view=problems&k=4")[0],
                "one sample": get(f"{server.url}api/sample?run=bench-run&bench=math&index=0&problem="
                                  f"{quote(body['rows'][0]['problem_id'], safe='')}")[0],
            }
        finally:
            server.stop()
    print(f"run: {samples:,} samples, samples.jsonl {size / 1e6:.0f} MB")
    print(f"{'measure':<50} {'seconds':>9}")
    print(f"{'anchor: read samples.jsonl with json.loads':<50} {anchor:>9.3f}")
    print(f"{'ours: first page of the samples table (indexes)':<50} {first:>9.3f}")
    print(f"{'ours: another page (median of 5)':<50} {statistics.median(pages):>9.4f}")
    for name, seconds in timings.items():
        print(f"{'ours: ' + name:<50} {seconds:>9.4f}")
    print(f"time to first page / json.loads reading: {first / anchor:.2f} (goal: first page under 2 s: "
          f"{'met' if first < 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
