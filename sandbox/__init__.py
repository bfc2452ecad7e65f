"""Isolated execution of untrusted (model-written) code, with verdicts the code cannot forge.

- `run_tests(solution, test, entry_point, ...)`: run one program against one test.
- `run_many(jobs, workers=None)`: many jobs (dicts with run_tests' keyword names) across the worker
  pool, results in input order.
- `run_reference(solution, entry_point, inputs)`: outputs and timings of a trusted reference
  solution (to build evalplus-style `IOTest`s); `outputs_to_json` / `outputs_from_json` store them.

Three ideas, all needed (isolation alone still lets forged verdicts through):
1. Isolation protects the host: workers live in bubblewrap namespaces (no network, own pid/ipc/mount,
   only system libraries visible); each candidate is a fresh process forked from a pristine zygote,
   under a per-worker non-root uid, rlimits and a seccomp filter, killed with everything it left.
2. Isolation between samples: each candidate has pid, mount and IPC namespaces of its own (a private
   tmpfs /tmp and /proc), joins its worker's memory cgroup, and is gone before the next one starts,
   so nothing it leaves (files, IPC objects, pids, memory) is visible to a later candidate.
3. Only the candidate runs in the sandbox. The test runs in a trusted judge against a proxy
   `candidate` that exchanges plain values with it (exact built-in types, per-call nonce and
   deadline). A pass means the trusted test returned; exit codes and output are ignored. The judge
   has limits of its own (reply size, items, deadline, memory): exceeding one fails the sample.
Tests that need the candidate's own objects fall back to running inside the candidate process;
such verdicts carry `trust="weak"`. Everything that comes back is typed and its text cleaned.

This package owns execution only: it knows no benchmark. Code extraction is `graders.code`'s, and a
benchmark's comparison rules arrive as data (`OutputCheck`). Errors: `sandbox.errors`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from sandbox import _codec
from sandbox.errors import IsolationUnavailable, SandboxError, WorkerError
from sandbox.isolation import Isolation, resolve
from sandbox.pool import default_pool
from sandbox.result import ExecResult, IOTest, OutputCheck, ReferenceRun

__all__ = ["ExecResult", "IOTest", "IsolationUnavailable", "OutputCheck", "ReferenceRun", "SandboxError",
           "WorkerError", "outputs_from_json", "outputs_to_json", "require_isolation", "run_many", "run_reference",
           "run_references", "run_tests"]

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 2048
_JOB_KEYS = {"solution", "test", "entry_point", "timeout_s", "memory_mb", "context", "call_timeout_s",
             "allow_inproc"}


def require_isolation(unsafe: bool | None = None) -> Isolation:
    """The isolation jobs will run under; IsolationUnavailable (with what to install) when none is available."""
    return resolve(unsafe)


def outputs_to_json(outputs: Sequence[Any]) -> list[Any]:
    """Reference outputs (`ReferenceRun.outputs`) as JSON-able data, e.g. to cache them on disk."""
    return [_codec.encode(o) for o in outputs]


def outputs_from_json(data: object) -> list[Any]:
    """The inverse of `outputs_to_json`; ValueError when `data` is not such a list."""
    if type(data) is not list:
        raise ValueError("reference outputs must be a list")
    return [_codec.decode(o, allow_digest=True) for o in data]


def _wire_job(job: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(job) - _JOB_KEYS
    if unknown:
        raise TypeError(f"unknown sandbox job field(s): {', '.join(sorted(unknown))}")
    timeout_s = float(job.get("timeout_s", DEFAULT_TIMEOUT_S))
    memory_mb = int(job.get("memory_mb", DEFAULT_MEMORY_MB))
    if not (timeout_s > 0 and math.isfinite(timeout_s)) or memory_mb < 64:
        raise ValueError(f"timeout_s must be > 0 and memory_mb >= 64 (got {timeout_s}, {memory_mb})")
    wire: dict[str, Any] = {
        "solution": str(job["solution"]), "entry_point": str(job["entry_point"]), "timeout_s": timeout_s,
        "memory_mb": memory_mb, "context": str(job.get("context") or ""),
        "call_timeout_s": job.get("call_timeout_s"), "allow_inproc": bool(job.get("allow_inproc", True)),
    }
    test = job["test"]
    if isinstance(test, IOTest):
        wire["kind"] = "io"
        wire["io"] = {"inputs": _codec.encode(test.inputs), "expected": _codec.encode(test.expected),
                      "time_limits": test.time_limits, "check": _wire_check(test.check)}
    else:
        wire["kind"] = "script"
        wire["test"] = str(test)
    return wire


def _wire_check(check: OutputCheck) -> dict[str, Any]:
    tolerances = check.tolerances
    return {"kind": check.kind, "rtol": float(check.rtol),
            "tolerances": [float(t) for t in tolerances] if isinstance(tolerances, list) else float(tolerances),
            "alternatives": None if check.alternatives is None else _codec.encode(check.alternatives),
            "alternative_atol": None if check.alternative_atol is None else float(check.alternative_atol)}


def _result(raw: Mapping[str, Any], isolated: bool) -> ExecResult:
    """`raw` was typed and cleaned by the pool (`pool._typed_result`)."""
    status = raw["status"]
    return ExecResult(passed=status == "passed", status=status, detail=raw["detail"], duration=raw["duration"],
                      trust=raw["trust"], isolated=isolated)


def _concurrency(workers: int | None) -> int:
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1 (got {workers})")
    return workers or os.cpu_count() or 1


def run_many(jobs: Sequence[Mapping[str, Any]], *, workers: int | None = None,
             unsafe: bool | None = None) -> list[ExecResult]:
    """Run every job (keys as in `run_tests`) on up to `workers` sandbox workers; input order kept."""
    if not jobs:
        return []
    iso = resolve(unsafe)
    wire = [_wire_job(j) for j in jobs]
    n = _concurrency(workers)
    raw = default_pool(iso, n).run(wire, n)
    return [_result(r, iso.isolated) for r in raw]


def run_tests(solution: str, test: str | IOTest, entry_point: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
              memory_mb: int = DEFAULT_MEMORY_MB, context: str = "", call_timeout_s: float | None = None,
              allow_inproc: bool = True, unsafe: bool | None = None) -> ExecResult:
    """Run `solution` (a whole program) against `test`, judging outside the candidate process.

    `test` is Python code that calls `entry_point` by name (HumanEval's `check` plus the
    `check(entry_point)` line, MBPP's asserts) or an `IOTest`. `context` is trusted code run in the
    judge before the test (HumanEval's prompt, whose helpers some tests use). `timeout_s` bounds the
    whole job (wall clock), `call_timeout_s` each call; `memory_mb` is the candidate's address space.
    `allow_inproc=False` turns tests that cannot be proxied into errors instead of weak verdicts.
    """
    job = {"solution": solution, "test": test, "entry_point": entry_point, "timeout_s": timeout_s,
           "memory_mb": memory_mb, "context": context, "call_timeout_s": call_timeout_s,
           "allow_inproc": allow_inproc}
    return run_many([job], workers=1, unsafe=unsafe)[0]


def run_reference(solution: str, entry_point: str, inputs: Sequence[Sequence[Any]], *, not_none: bool = False,
                  digest_over: int | None = None, timeout_s: float = 120.0, memory_mb: int = DEFAULT_MEMORY_MB,
                  unsafe: bool | None = None) -> ReferenceRun:
    """Call a reference solution on each input (in the sandbox too) and return outputs and times.

    `not_none=True` records only whether each output is not None (evalplus's rule for tasks whose
    outputs are not data, e.g. `re.Match` objects). Outputs whose encoding exceeds `digest_over`
    bytes come back as `Digest`s (HumanEval/15's plus outputs total 147 MB); `IOTest` accepts them.
    """
    return run_references([(solution, entry_point, inputs)], not_none=[not_none], digest_over=[digest_over],
                          timeout_s=timeout_s, memory_mb=memory_mb, unsafe=unsafe)[0]


def run_references(items: Sequence[tuple[str, str, Sequence[Sequence[Any]]]], *, not_none: Sequence[bool],
                   digest_over: Sequence[int | None], timeout_s: float = 120.0, memory_mb: int = DEFAULT_MEMORY_MB,
                   workers: int | None = None, unsafe: bool | None = None) -> list[ReferenceRun]:
    """`run_reference` for many (solution, entry_point, inputs) at once, across the worker pool."""
    if not items:
        return []
    iso = resolve(unsafe)
    wire = [
        {"kind": "calls", "solution": sol, "entry_point": ep, "timeout_s": float(timeout_s), "memory_mb": memory_mb,
         "context": "", "call_timeout_s": None, "allow_inproc": False,
         "io": {"inputs": _codec.encode([list(i) for i in inputs]), "not_none": bool(nn), "digest_over": dg}}
        for (sol, ep, inputs), nn, dg in zip(items, not_none, digest_over, strict=True)
    ]
    n = _concurrency(workers)
    out = []
    for raw in default_pool(iso, n).run(wire, n):
        status, detail, outputs, times = raw["status"], raw["detail"], [], []
        if status == "passed":
            try:
                outputs, times = outputs_from_json(raw.get("outputs")), raw["times"]
            except (ValueError, KeyError):
                status, detail = "error", "the reference run sent malformed outputs"
        out.append(ReferenceRun(status=status, detail=detail, outputs=outputs, times=times))
    return out
