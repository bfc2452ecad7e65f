"""Helpers of the Ray tests: the sweep every fault test runs, and readers of run directories."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_cluster import ClusterUnavailable, LocalCluster

EVALKIT = str(Path(sys.executable).with_name("evalkit"))
#: The sweep every fault test runs: greedy, so every run (plain or on Ray) writes the very same text.
LIMIT, MAX_TOKENS = 6, 24


def run_args(shared_data: Path, *extra: str, model: str = "smollm2-135m", benchmarks: str = "gsm8k") -> list[str]:
    return ["run", "-m", model, "-b", benchmarks, "--limit", str(LIMIT), "--max-tokens", str(MAX_TOKENS),
            "--data-dir", str(shared_data), *extra]


def samples(run_dir: Path) -> list[dict]:
    path = run_dir / "samples.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def sample_set(run_dir: Path) -> dict[tuple[str, str, int], str]:
    """(benchmark, problem, sample index) -> completion; fails when a sample is there twice."""
    rows = samples(run_dir)
    keys = [(r["benchmark"], r["problem_id"], r["sample_index"]) for r in rows]
    assert len(keys) == len(set(keys)), f"duplicate samples in {run_dir}"
    return {k: r["completion"] for k, r in zip(keys, rows, strict=True)}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def two_nodes(wrappers: list[list[str]] | None = None) -> Iterator[LocalCluster]:
    """A started head and second node of one CPU each, stopped afterwards (the body of the cluster fixtures)."""
    try:
        local = LocalCluster([{"num_cpus": 1}, {"num_cpus": 1}], wrappers=wrappers).start()
    except ClusterUnavailable as exc:
        pytest.skip(f"no local Ray cluster here: {exc}")
    try:
        yield local
    finally:
        local.stop()
