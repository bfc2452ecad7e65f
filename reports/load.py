"""Run directories -> per-problem counts, the only data the report's statistics need.

Owns finding run directories (paths and globs) and reading config.json, samples.jsonl and
metrics.json. The samples are the truth: accuracy, pass@k, truncation and the paired tests are
recomputed from them. metrics.json supplies only what needs the benchmark itself (maj@k clusters
answers by the benchmark's equivalence; breakdowns need problem metadata the samples don't carry),
and only while it still matches the samples.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import UsageError
from evalkit.schema import (
    CONFIG_FILE,
    METRICS_FILE,
    SAMPLES_FILE,
    TRAIN_CONFIG_FILE,
    BenchmarkMetrics,
    RunConfig,
    SampleRecord,
    natural_key,
)
from evalkit.store import load_config, read_jsonl_records

_SUBSCORES = re.compile(rb'"subscores"\s*:\s*(\{[^{}]*\})')
MAX_WORKERS = 16
_NON_SPACE = re.compile(rb"\S")
SAMPLE_COLUMNS = ("benchmark", "problem_id", "sample_index", "correct", "finish_reason", "tokens")


@dataclass(frozen=True)
class ProblemCounts:
    """One benchmark of one run, reduced to counts per problem (problems sorted by id)."""

    problem_ids: np.ndarray  # str, sorted, unique
    n: np.ndarray  # samples per problem
    correct: np.ndarray  # correct samples per problem
    truncated: np.ndarray  # samples that hit the token limit
    tokens: np.ndarray  # completion tokens summed per problem
    subscores: dict[str, np.ndarray] = field(default_factory=dict)  # passing samples per problem, per subscore

    @property
    def n_problems(self) -> int:
        return len(self.problem_ids)

    @property
    def n_samples(self) -> int:
        return int(self.n.sum())


@dataclass
class Run:
    """One run directory as the report sees it."""

    path: Path
    config: RunConfig
    counts: dict[str, ProblemCounts]  # benchmark -> counts, for benchmarks with at least one sample
    metrics: dict[str, BenchmarkMetrics]  # metrics.json entries that still match the samples
    notes: list[str] = field(default_factory=list)  # what the reader had to work around
    label: str = ""

    @property
    def checkpoint_step(self) -> int | None:
        return self.config.model.checkpoint_step

    @functools.cached_property
    def settings(self) -> dict[str, str]:
        """Every setting of config.json as {"dotted.key": "printable value"}."""
        return flatten(self.config.to_dict())


def flatten(config_dict: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> {"dotted.key": "printable value"}."""
    out: dict[str, str] = {}
    for key, value in config_dict.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = ", ".join(str(v) for v in value)
        else:
            out[name] = "—" if value is None else str(value)
    return out


def _is_run_dir(path: Path) -> bool:
    """A directory written by `evalkit run` (config.json) or `evalkit train` (train_config.json)."""
    return (path / CONFIG_FILE).is_file() or (path / TRAIN_CONFIG_FILE).is_file()


def expand_run_dirs(patterns: list[str]) -> list[Path]:
    """Paths and globs -> run directories (of `evalkit run` or `evalkit train`), in the order given, each once.

    Globs are expanded here as well as by the shell, so quoted patterns work and a pattern that
    matches nothing is an error rather than a silently shorter report. Matches sort naturally, so
    checkpoints come in step order.
    """
    if not patterns:
        raise UsageError("no run directories given; pass one or more directories written by `evalkit run` "
                         "or `evalkit train`")
    found: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted((Path(p) for p in glob.glob(pattern) if _is_run_dir(Path(p))),
                             key=lambda p: natural_key(str(p)))
            if not matches:
                raise UsageError(f"{pattern!r} matched no run directory (none with a {CONFIG_FILE} or "
                                 f"{TRAIN_CONFIG_FILE}); check the glob")
            found += matches
            continue
        path = Path(pattern)
        if not path.exists():
            raise UsageError(f"{pattern}: no such directory; pass a run directory written by `evalkit run` "
                             "or `evalkit train`")
        if not path.is_dir():
            raise UsageError(f"{pattern} is a file; pass the run directory that holds it")
        if not _is_run_dir(path):
            raise UsageError(f"{pattern} holds no run (no {CONFIG_FILE} or {TRAIN_CONFIG_FILE}); pass a directory "
                             "written by `evalkit run` or `evalkit train`")
        found.append(path)
    unique: dict[Path, None] = {}
    for p in found:
        unique.setdefault(p.resolve(), None)
    return list(unique)


def load_run(path: Path) -> Run:
    """Read one run directory; a torn last line of samples.jsonl is skipped and noted."""
    config = _read_config(path)
    notes: list[str] = []
    frame = read_samples_frame(path / SAMPLES_FILE, notes)
    counts = problem_counts(frame)
    metrics = matching_metrics(path, counts, notes)
    missing = [b for b in config.benchmarks if b not in counts]
    if missing:
        notes.append(f"no samples for {', '.join(missing)}")
    return Run(path=path, config=config, counts=counts, metrics=metrics, notes=notes)


def _read_config(path: Path) -> RunConfig:
    return load_config(path / CONFIG_FILE, damaged_hint="leave that run out of the report")


def read_samples_frame(path: Path, notes: list[str] | None = None) -> pd.DataFrame:
    """samples.jsonl as a frame of the columns the report uses, plus one bool column per subscore.

    pyarrow's JSON reader parses a large file an order of magnitude faster than json.loads per line;
    anything it cannot read (or a missing pyarrow) goes through the schema dataclasses instead, which
    also give the precise error for a damaged line.
    """
    if not path.is_file():
        return _empty_frame()
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data) and data[end:].strip() and notes is not None:
        notes.append(f"skipped a torn last line in {path.name} (the run was interrupted mid-write)")
    if _NON_SPACE.search(data, 0, end) is None:
        return _empty_frame()
    try:
        frame = _read_with_pyarrow(memoryview(data)[:end])
    except (ImportError, ValueError, KeyError, TypeError, AttributeError):  # ArrowInvalid is a ValueError
        frame = _read_with_dataclasses(path)
    before = len(frame)
    frame = frame.drop_duplicates(["benchmark", "problem_id", "sample_index"], keep="last")
    if len(frame) != before and notes is not None:
        notes.append(f"{before - len(frame)} duplicate samples in {path.name}; the last of each was used")
    return frame


def _read_with_pyarrow(body: memoryview) -> pd.DataFrame:
    """Parse only the fields the report needs; completions are scanned, never materialised.

    Subscore names are not known in advance and pyarrow cannot read a JSON object into a map, so
    they are found first (subscores hold only booleans, so their objects contain no braces) and
    read as a struct of those names.
    """
    import pyarrow as pa
    import pyarrow.json as pj

    sub_names = sorted({name for obj in set(_SUBSCORES.findall(body)) for name in json.loads(obj)})
    fields = [("benchmark", pa.string()), ("problem_id", pa.string()), ("sample_index", pa.int64()),
              ("correct", pa.bool_()), ("finish_reason", pa.string()), ("tokens", pa.int64())]
    if sub_names:
        fields.append(("subscores", pa.struct([(name, pa.bool_()) for name in sub_names])))
    options = pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore")
    table = pj.read_json(pa.BufferReader(body), parse_options=options,
                         read_options=pj.ReadOptions(block_size=1 << 22))
    if any(table.column(c).null_count for c in SAMPLE_COLUMNS):
        raise ValueError("a required field is missing")
    frame = table.select(list(SAMPLE_COLUMNS)).to_pandas()
    if sub_names:
        subs = table.column("subscores").combine_chunks()
        for i, name in enumerate(sub_names):
            frame[f"sub:{name}"] = subs.field(i).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return frame


def _read_with_dataclasses(path: Path) -> pd.DataFrame:
    try:
        records = [SampleRecord.from_dict(r) for r in read_jsonl_records(path)]
    except TypeError as exc:
        raise UsageError(f"{path} has a sample without a required field ({exc}); the run directory is damaged") \
            from None
    frame = pd.DataFrame({c: [getattr(r, c) for r in records] for c in SAMPLE_COLUMNS})
    names = sorted({k for r in records for k in r.subscores})
    for name in names:
        frame[f"sub:{name}"] = [bool(r.subscores.get(name)) for r in records]
    return frame


def _empty_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in SAMPLE_COLUMNS})


def problem_counts(frame: pd.DataFrame) -> dict[str, ProblemCounts]:
    """Group samples by (benchmark, problem) into counts, vectorised."""
    if frame.empty:
        return {}
    sub_cols = [c for c in frame.columns if c.startswith("sub:")]
    work = pd.DataFrame({
        "benchmark": frame["benchmark"].astype(str),
        "problem_id": frame["problem_id"].astype(str),
        "n": 1,
        "correct": frame["correct"].astype(bool).astype(np.int64),
        "truncated": (frame["finish_reason"] == "length").astype(np.int64),
        "tokens": frame["tokens"].astype(np.int64),
    })
    for c in sub_cols:
        work[c] = frame[c].astype(bool).astype(np.int64)
    sums = work.groupby(["benchmark", "problem_id"], sort=True).sum()
    out: dict[str, ProblemCounts] = {}
    for bench, part in sums.groupby(level="benchmark", sort=True):
        subs = {c[4:]: part[c].to_numpy() for c in sub_cols}
        out[str(bench)] = ProblemCounts(
            problem_ids=part.index.get_level_values("problem_id").to_numpy(dtype=str),
            n=part["n"].to_numpy(), correct=part["correct"].to_numpy(), truncated=part["truncated"].to_numpy(),
            tokens=part["tokens"].to_numpy(), subscores=subs,
        )
    return out


def matching_metrics(path: Path, counts: dict[str, ProblemCounts],
                     notes: list[str]) -> dict[str, BenchmarkMetrics]:
    """metrics.json entries whose sample and problem counts match samples.jsonl (stale ones are dropped)."""
    metrics_path = path / METRICS_FILE
    if not metrics_path.is_file():
        if counts:
            notes.append(f"no {METRICS_FILE} (the run did not finish); maj@k and breakdowns are not available")
        return {}
    try:
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        notes.append(f"{METRICS_FILE} is damaged; maj@k and breakdowns are not available")
        return {}
    kept: dict[str, BenchmarkMetrics] = {}
    for bench, entry in metrics.items():
        c = counts.get(bench)
        if c is None or not isinstance(entry, dict):
            continue
        try:
            parsed = BenchmarkMetrics.from_dict(entry)
        except (KeyError, TypeError, ValueError):
            notes.append(f"{METRICS_FILE} for {bench} is damaged; its maj@k and breakdowns are not available")
            continue
        if parsed.n_samples != c.n_samples or parsed.n_problems != c.n_problems:
            notes.append(f"{METRICS_FILE} for {bench} does not match samples.jsonl ({parsed.n_samples} vs "
                         f"{c.n_samples} samples); its maj@k and breakdowns are left out (`evalkit grade` "
                         "rewrites it)")
            continue
        kept[bench] = parsed
    return kept


def load_runs(paths: list[Path], workers: int | None = None) -> list[Run]:
    """Read runs in parallel threads (pyarrow parses without the GIL), in the order given, labelled."""
    workers = workers or min(MAX_WORKERS, os.cpu_count() or 1, len(paths))
    if workers <= 1:
        runs = [load_run(p) for p in paths]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            runs = list(pool.map(load_run, paths))
    assign_labels(runs)
    return runs


def assign_labels(runs: list[Run]) -> None:
    """Short unique row labels: the model name, else the directory name, else a numbered name."""
    names = first_unique([r.config.model.name for r in runs], [r.path.name for r in runs])
    for run, name in zip(runs, names, strict=True):
        run.label = name


def first_unique(*candidates: list[str]) -> list[str]:
    """The first list of names without repeats; else the last one numbered (`name#1`, `name#2`, ...)."""
    for names in candidates:
        if len(set(names)) == len(names):
            return names
    return [f"{name}#{i + 1}" for i, name in enumerate(candidates[-1])]
