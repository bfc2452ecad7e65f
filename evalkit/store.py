"""The run directory: config.json, prompts.jsonl, problems.jsonl, append-only samples.jsonl, metrics.json.

Samples are appended one request at a time with a single write, flushed and fsynced, so a killed
run loses at most the request in flight. A torn last line (the process died mid-write) is cut off
when the directory is reopened, and the samples it held are generated again. A used directory
only accepts the same configuration (`RunConfig.identity`); anything else is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.schema import (
    CONFIG_FILE,
    METRICS_FILE,
    PROBLEMS_FILE,
    PROMPTS_FILE,
    SAMPLES_FILE,
    BenchmarkMetrics,
    NewerSchemaError,
    ProblemRecord,
    PromptRecord,
    RunConfig,
    SampleRecord,
    metrics_to_json,
)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", errors="backslashreplace") as f:  # lone surrogates: see _append_lines
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_jsonl_records(path: Path) -> list[dict[str, Any]]:
    """Complete JSON lines of `path`; a torn (unterminated or unparsable) last line is ignored."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    rows = []
    for lineno, line in enumerate(data[:end].splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise UsageError(f"{path}:{lineno} is not valid JSON; the run directory is damaged") from None
    return rows


def load_config(path: Path, *, damaged_hint: str) -> RunConfig:
    """A run's config.json; one-line UsageError when it is damaged (with `damaged_hint`) or from a newer evalkit."""
    try:
        return RunConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except NewerSchemaError as exc:
        raise NewerSchemaError(f"{path} was {exc}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path} is damaged ({exc}); {damaged_hint}") from None


def _cut_torn_tail(path: Path) -> None:
    """Drop bytes after the last newline (a write the process did not finish)."""
    if not path.is_file():
        return
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != size:
            f.truncate(end)


def describe_differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the settings that differ between two identity dicts."""
    diffs = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += describe_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            diffs.append(f"{prefix}{key} ({a!r} -> {b!r})")
    return diffs


class RunStore:
    """One run directory. `open` creates or resumes it; `append_samples` is the only writer of samples."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.config_path = self.dir / CONFIG_FILE
        self.samples_path = self.dir / SAMPLES_FILE
        self.prompts_path = self.dir / PROMPTS_FILE
        self.problems_path = self.dir / PROBLEMS_FILE
        self.metrics_path = self.dir / METRICS_FILE
        self._known_prompts: set[str] = set()
        self._known_problems: set[tuple[str, str]] | None = None
        self._lock_fd: int | None = None

    @classmethod
    def existing(cls, directory: Path) -> RunStore:
        """A run directory that must already hold a run (for `evalkit grade`)."""
        store = cls(directory)
        if not store.config_path.is_file():
            raise UsageError(f"{directory} is not a run directory (no {CONFIG_FILE}); pass a directory "
                             "written by `evalkit run --output`")
        return store

    def check_compatible(self, config: RunConfig, *, overwrite: bool = False) -> bool:
        """Whether this directory is new (False) or holds the same run (True).

        A directory holding a different run is refused, or with `overwrite` emptied of its run files
        (so the run starts afresh there); a non-empty directory without a run is always refused.
        """
        if not self.dir.exists():
            return False
        if not self.dir.is_dir():
            raise UsageError(f"--output {self.dir} is a file; pass a directory")
        if not self.config_path.is_file():
            if any(p.name != ".lock" for p in self.dir.iterdir()):
                raise UsageError(f"--output {self.dir} is a non-empty directory without a run in it; "
                                 "pass a new or empty directory")
            return False
        old = self.read_config()
        diffs = describe_differences(old.identity(), config.identity())
        if not diffs:
            return True
        if not overwrite:
            raise UsageError(f"--output {self.dir} holds a different run ({'; '.join(diffs)}); pass a new --output "
                             "directory, repeat the original settings to resume it, or pass --overwrite to replace it")
        self.lock()
        try:
            for path in (self.samples_path, self.prompts_path, self.metrics_path, self.config_path):
                path.unlink(missing_ok=True)
        finally:
            self.close()
        return False

    def open(self, config: RunConfig) -> None:
        """Create or resume the directory for `config` (call `check_compatible` first)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock()
        write_json_atomic(self.config_path, config.to_dict())
        _cut_torn_tail(self.samples_path)
        _cut_torn_tail(self.prompts_path)
        self._known_prompts = {r["prompt_hash"] for r in read_jsonl_records(self.prompts_path)}

    def lock(self) -> None:
        """Hold an exclusive lock on the directory, so two processes never append to one run."""
        if self._lock_fd is not None:
            return
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(
                f"another evalkit process is using {self.dir}; wait for it or pass another --output"
            ) from None
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def read_config(self) -> RunConfig:
        return load_config(self.config_path, damaged_hint="pass another --output directory")

    def write_config(self, config: RunConfig) -> None:
        write_json_atomic(self.config_path, config.to_dict())

    def read_samples(self) -> list[SampleRecord]:
        return [SampleRecord.from_dict(r) for r in read_jsonl_records(self.samples_path)]

    def read_prompts(self) -> dict[str, str]:
        """prompt hash -> the exact text sent (prompts.jsonl; empty for a run without one)."""
        return {str(r["prompt_hash"]): str(r.get("prompt", "")) for r in read_jsonl_records(self.prompts_path)
                if "prompt_hash" in r}

    def append_prompts(self, records: Iterable[PromptRecord]) -> None:
        new = [r for r in records if r.prompt_hash not in self._known_prompts]
        if new:
            _append_lines(self.prompts_path, [asdict(r) for r in new])
            self._known_prompts.update(r.prompt_hash for r in new)

    def append_problems(self, records: Iterable[ProblemRecord]) -> None:
        """Record the problems not yet in problems.jsonl (a resumed or regraded run adds only new ones)."""
        if self._known_problems is None:
            _cut_torn_tail(self.problems_path)
            self._known_problems = {(r["benchmark"], r["problem_id"]) for r in read_jsonl_records(self.problems_path)}
        new = [r for r in records if (r.benchmark, r.problem_id) not in self._known_problems]
        if new:
            _append_lines(self.problems_path, [asdict(r) for r in new])
            self._known_problems.update((r.benchmark, r.problem_id) for r in new)

    def append_samples(self, records: Sequence[SampleRecord]) -> None:
        _append_lines(self.samples_path, [r.to_dict() for r in records])

    def replace_samples(self, records: Sequence[SampleRecord]) -> None:
        """Rewrite samples.jsonl at once (after regrading); the old file stays intact until the rename."""
        tmp = self.samples_path.with_name(f".{SAMPLES_FILE}.tmp")
        tmp.unlink(missing_ok=True)
        _append_lines(tmp, [r.to_dict() for r in records])
        os.replace(tmp, self.samples_path)

    def write_metrics(self, metrics: dict[str, BenchmarkMetrics]) -> None:
        write_json_atomic(self.metrics_path, metrics_to_json(metrics))


def _append_lines(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    # A str may hold lone surrogates (model text, candidate bytes) that UTF-8 cannot encode. They occur only
    # inside JSON strings, where backslashreplace writes the JSON escape of exactly that character: the
    # line stays valid UTF-8 and reads back as the same str.
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8", "backslashreplace")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
