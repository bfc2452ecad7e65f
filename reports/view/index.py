"""One run directory, read once: per-sample columns with byte offsets, and the problems and prompts.

samples.jsonl is parsed once per change of the file with pyarrow into numpy columns (benchmark,
problem, sample index, correct, truncated, tokens, has an answer, reason kind, subscores) plus each
line's byte offset, so a table page filters and sorts columns and then reads only its own lines
(`os.pread`). The counts per problem are the report's `ProblemCounts`, so the viewer's accuracy, pass@k
and paired tests are the numbers `evalkit report` prints. A line pyarrow cannot read (damaged JSON,
invalid UTF-8, a missing field) sends the file through `json.loads` line by line, where bad lines are
skipped and counted in the notes. A torn last line (a run killed mid-write) is ignored, as the store does.

Every file is opened read-only and only under its run directory: a file that is a link leading out
of it is refused (`run_file`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.schema import CONFIG_FILE, METRICS_FILE, PROBLEMS_FILE, PROMPTS_FILE, SAMPLES_FILE, RunConfig
from reports.load import ProblemCounts, Run, matching_metrics
from reports.view.discover import RunEntry, natural_key

_REQUIRED = {"benchmark": str, "problem_id": str, "sample_index": int, "correct": bool, "finish_reason": str,
             "tokens": int}
_SUBSCORES = re.compile(rb'"subscores"\s*:\s*(\{[^{}]*\})')
_PROMPT_HASH = re.compile(rb'\{"prompt_hash": "([0-9A-Za-z_-]+)"')
_TAIL = 512  # bytes at the end of a line searched for its subscores
_KIND = re.compile(r"[a-z_]+(?:: [a-z_]+(?=:|$))*")
#: a run whose samples file changed this recently, without a lock we can see, is shown as running
RECENT_S = 120.0


class RunFileError(Exception):
    """A run file that cannot be served (a link out of the run directory, or unreadable)."""


def run_file(run_dir: Path, name: str) -> Path | None:
    """`run_dir/name` when it is a regular file inside `run_dir` (links are followed only within it)."""
    path = run_dir / name
    if not path.is_file():
        return None
    real = path.resolve()
    if real.parent != run_dir.resolve():
        raise RunFileError(f"{name} is a link that leads out of the run directory; it is not read")
    return real


def reason_kind(reason: str) -> str:
    """The class of a grader reason, for filtering: "different", "no_answer", "plus: failed", "timeout: ..."

    The leading run of single-word parts ("plus: failed" of "plus: failed: input 3: wrong output") is the
    kind; a parenthesis right after it stays ("passed (weak: test ran inside the candidate process)").
    """
    m = _KIND.match(reason)
    if not m:
        return reason[:80] or "(none)"
    kind = m.group(0)
    rest = reason[m.end():]
    if rest.startswith(" (") and ")" in rest:
        kind += rest[:rest.index(")") + 1]
    return kind[:120]


@dataclass
class BenchSamples:
    """The samples of one benchmark of a run, as columns; row i is one sample."""

    name: str
    counts: ProblemCounts  # per problem, problems sorted by id (the report's arrays)
    problem: np.ndarray  # row -> index into counts.problem_ids
    sample_index: np.ndarray
    correct: np.ndarray
    truncated: np.ndarray
    tokens: np.ndarray
    has_answer: np.ndarray
    kind: np.ndarray  # row -> index into kinds
    kinds: list[str]
    offset: np.ndarray  # byte offset of the sample's line in samples.jsonl
    length: np.ndarray  # bytes of the line (without the newline)
    subscores: dict[str, np.ndarray] = field(default_factory=dict)  # name -> int8 per row: -1 absent, 0, 1
    _rank: np.ndarray | None = None

    @property
    def problem_ids(self) -> np.ndarray:
        return self.counts.problem_ids

    @property
    def problem_rank(self) -> np.ndarray:
        """Natural order of the problems (HumanEval/9 before HumanEval/10), per problem index."""
        if self._rank is None:
            order = sorted(range(len(self.problem_ids)), key=lambda i: natural_key(str(self.problem_ids[i])))
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            self._rank = rank
        return self._rank

    def row_of(self, problem_id: str, sample_index: int) -> int | None:
        code = self.problem_code(problem_id)
        if code is None:
            return None
        rows = np.flatnonzero((self.problem == code) & (self.sample_index == sample_index))
        return int(rows[0]) if len(rows) else None

    def problem_code(self, problem_id: str) -> int | None:
        i = int(np.searchsorted(self.problem_ids, problem_id))
        return i if i < len(self.problem_ids) and self.problem_ids[i] == problem_id else None


@dataclass
class SampleIndex:
    benches: dict[str, BenchSamples]
    notes: list[str]
    signature: tuple[int, int, int] | None  # (inode, size, mtime) of samples.jsonl when indexed
    seconds: float = 0.0


def _signature(path: Path | None) -> tuple[int, int, int] | None:
    if path is None:
        return None
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


# ----------------------------------------------------------------------------- building the index


def _line_spans(data: bytes, end: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of every non-empty line of `data[:end]` (which ends with a newline).

    A `find` loop: memchr per line is several times faster than comparing every byte in numpy.
    """
    ends: list[int] = []
    find, add, pos = data.find, ends.append, 0
    while pos < end:
        i = find(b"\n", pos, end)
        if i < 0:
            break
        add(i)
        pos = i + 1
    stops = np.array(ends, dtype=np.int64)
    starts = np.concatenate(([0], stops[:-1] + 1)).astype(np.int64) if len(stops) else stops
    lengths = stops - starts
    keep = lengths > 0
    return starts[keep], lengths[keep]


def _subscore_names(data: bytes, starts: np.ndarray, lengths: np.ndarray) -> list[str]:
    """The names inside the lines' "subscores" objects.

    The store writes `subscores` last, so each line's tail is searched first; a file written in another
    key order is scanned whole.
    """
    objects: set[bytes] = set()
    search = _SUBSCORES.search
    for s, n in zip(starts.tolist(), lengths.tolist(), strict=True):
        found = search(data, max(s, s + n - _TAIL), s + n)
        if found is None:
            objects = set(_SUBSCORES.findall(data))
            break
        objects.add(found.group(1))
    return sorted({name for obj in objects for name in json.loads(obj)})


def _columns_pyarrow(data: bytes, end: int, starts: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
    """The index columns through pyarrow's JSON reader; raises ValueError for anything unusual."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    sub_names = _subscore_names(data, starts, lengths)
    fields = [("benchmark", pa.string()), ("problem_id", pa.string()), ("sample_index", pa.int64()),
              ("correct", pa.bool_()), ("finish_reason", pa.string()), ("tokens", pa.int64()),
              ("reason", pa.string()), ("extracted", pa.string())]
    if sub_names:
        fields.append(("subscores", pa.struct([(name, pa.bool_()) for name in sub_names])))
    options = pj.ParseOptions(explicit_schema=pa.schema(fields), unexpected_field_behavior="ignore")
    # on a machine with few cores (often shared), one parsing thread is faster than contending ones
    threads = (os.cpu_count() or 1) >= 4
    table = pj.read_json(pa.BufferReader(pa.py_buffer(memoryview(data)[:end])), parse_options=options,
                         read_options=pj.ReadOptions(block_size=1 << 24, use_threads=threads))
    if table.num_rows != len(starts):
        raise ValueError("line count differs")
    if any(table.column(c).null_count for c in _REQUIRED):
        raise ValueError("a required field is missing")

    def codes(name: str) -> tuple[np.ndarray, list[str]]:
        encoded = table.column(name).combine_chunks().dictionary_encode()
        return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()

    extracted = table.column("extracted")
    has_answer = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(extracted)), 0), False)
    bench_code, bench_names = codes("benchmark")
    pid_code, pid_names = codes("problem_id")
    reasons = pc.fill_null(table.column("reason"), "").combine_chunks().dictionary_encode()
    cols = {
        "bench_code": bench_code, "bench_names": bench_names, "pid_code": pid_code, "pid_names": pid_names,
        "sample_index": table.column("sample_index").to_numpy(),
        "correct": table.column("correct").to_numpy(zero_copy_only=False).astype(bool),
        "truncated": pc.equal(table.column("finish_reason"), "length").to_numpy(zero_copy_only=False).astype(bool),
        "tokens": table.column("tokens").to_numpy(),
        "has_answer": has_answer.to_numpy(zero_copy_only=False).astype(bool),
        "reason_code": reasons.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        "reasons": [str(r) for r in reasons.dictionary.to_pylist()],
        "subscores": {},
    }
    if sub_names:
        subs = table.column("subscores").combine_chunks()
        for i, name in enumerate(sub_names):
            col = subs.field(i)
            values = col.fill_null(False).to_numpy(zero_copy_only=False).astype(np.int8)
            values[col.is_null().to_numpy(zero_copy_only=False)] = -1
            if subs.null_count:
                values[subs.is_null().to_numpy(zero_copy_only=False)] = -1
            cols["subscores"][name] = values
    return cols


def _codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    table: dict[str, int] = {}
    return np.array([table.setdefault(v, len(table)) for v in values], dtype=np.int64), list(table)


def _columns_python(data: bytes, starts: np.ndarray, lengths: np.ndarray, notes: list[str]) -> tuple[dict, np.ndarray]:
    """The same columns line by line with json.loads; bad lines are skipped. Returns (columns, kept lines)."""
    rows: list[dict[str, Any]] = []
    kept: list[int] = []
    bad = 0
    for i, (s, n) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        line = data[s:s + n]
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8", errors="replace"))
        except ValueError:
            bad += 1
            continue
        if not isinstance(record, dict) or not all(
                isinstance(record.get(k), t) and (t is not int or not isinstance(record.get(k), bool))
                for k, t in _REQUIRED.items()):
            bad += 1
            continue
        rows.append(record)
        kept.append(i)
    if bad:
        notes.append(f"{bad} unreadable line(s) of {SAMPLES_FILE} (damaged JSON or a missing field) are left out")
    reason_code, reasons = _codes([str(r.get("reason") or "") for r in rows])
    bench_code, bench_names = _codes([r["benchmark"] for r in rows])
    pid_code, pid_names = _codes([r["problem_id"] for r in rows])
    sub_names = sorted({k for r in rows if isinstance(r.get("subscores"), dict) for k in r["subscores"]})
    subscores = {}
    for name in sub_names:
        subscores[name] = np.array([-1 if not isinstance(r.get("subscores"), dict) or name not in r["subscores"]
                                    else int(bool(r["subscores"][name])) for r in rows], dtype=np.int8)
    cols = {
        "bench_code": bench_code, "bench_names": bench_names, "pid_code": pid_code, "pid_names": pid_names,
        "sample_index": np.array([r["sample_index"] for r in rows], dtype=np.int64),
        "correct": np.array([r["correct"] for r in rows], dtype=bool),
        "truncated": np.array([r["finish_reason"] == "length" for r in rows], dtype=bool),
        "tokens": np.array([r["tokens"] for r in rows], dtype=np.int64),
        "has_answer": np.array([isinstance(r.get("extracted"), str) and bool(r["extracted"].strip()) for r in rows],
                               dtype=bool),
        "reason_code": reason_code, "reasons": reasons, "subscores": subscores,
    }
    return cols, np.array(kept, dtype=np.int64)


def build_index(samples_path: Path | None) -> SampleIndex:
    """Read samples.jsonl once into per-benchmark columns (an absent file is an empty index)."""
    started = time.perf_counter()
    notes: list[str] = []
    if samples_path is None:
        return SampleIndex({}, notes, None)
    signature = _signature(samples_path)
    with samples_path.open("rb") as f:
        data = f.read()
    end = data.rfind(b"\n") + 1
    if data[end:].strip():
        notes.append(f"the last line of {SAMPLES_FILE} is torn (the run was stopped mid-write) and is left out")
    starts, lengths = _line_spans(data, end)
    if len(starts) == 0:
        return SampleIndex({}, notes, signature, time.perf_counter() - started)
    try:
        if not (np.frombuffer(data, dtype=np.uint8)[starts] == ord("{")).all():
            raise ValueError("a line does not start with an object")
        cols = _columns_pyarrow(data, end, starts, lengths)
    except (ImportError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        cols, kept = _columns_python(data, starts, lengths, notes)
        starts, lengths = starts[kept], lengths[kept]
    benches = _split_benchmarks(cols, starts, lengths, notes)
    return SampleIndex(benches, notes, signature, time.perf_counter() - started)


def _split_benchmarks(cols: dict[str, Any], starts: np.ndarray, lengths: np.ndarray,
                      notes: list[str]) -> dict[str, BenchSamples]:
    n = len(starts)
    if n == 0:
        return {}
    bench_code, pid_code, sample_index = cols["bench_code"], cols["pid_code"], cols["sample_index"]
    # duplicates of (benchmark, problem, sample index): the last line wins, as in the report
    span = int(sample_index.max(initial=0)) + 1
    combined = (bench_code * (len(cols["pid_names"]) + 1) + pid_code) * span + sample_index
    last = np.zeros(n, dtype=bool)
    _, first_in_reversed = np.unique(combined[::-1], return_index=True)
    last[n - 1 - first_in_reversed] = True
    if not last.all():
        notes.append(f"{int((~last).sum())} duplicate samples in {SAMPLES_FILE}; the last of each is used")
    reasons = cols["reasons"]
    kinds_all = [reason_kind(r) for r in reasons]
    pid_names = np.array(cols["pid_names"], dtype=object)
    out: dict[str, BenchSamples] = {}
    for b, name in sorted(enumerate(cols["bench_names"]), key=lambda item: item[1]):
        rows = np.flatnonzero((bench_code == b) & last)
        # problems sorted by id, as the report's groupby sorts them
        used, local = np.unique(pid_code[rows], return_inverse=True)
        order = sorted(range(len(used)), key=lambda i: pid_names[used[i]])
        rank = np.empty(len(used), dtype=np.int64)
        rank[order] = np.arange(len(used))
        problem = rank[local]
        problem_ids = np.array([pid_names[used[i]] for i in order], dtype=str)
        correct, truncated, tokens = cols["correct"][rows], cols["truncated"][rows], cols["tokens"][rows]
        m = len(problem_ids)
        subscores = {k: v[rows] for k, v in cols["subscores"].items() if (v[rows] >= 0).any()}
        counts = ProblemCounts(
            problem_ids=problem_ids, n=np.bincount(problem, minlength=m).astype(np.int64),
            correct=np.bincount(problem, weights=correct, minlength=m).astype(np.int64),
            truncated=np.bincount(problem, weights=truncated, minlength=m).astype(np.int64),
            tokens=np.bincount(problem, weights=tokens, minlength=m).astype(np.int64),
            subscores={k: np.bincount(problem, weights=v == 1, minlength=m).astype(np.int64)
                       for k, v in subscores.items()},
        )
        codes = cols["reason_code"][rows]
        used_reasons = np.unique(codes)
        kind_names = sorted({kinds_all[c] for c in used_reasons.tolist()})
        kind_of = {k: i for i, k in enumerate(kind_names)}
        lookup = np.full(len(reasons), -1, dtype=np.int64)
        lookup[used_reasons] = [kind_of[kinds_all[c]] for c in used_reasons.tolist()]
        out[str(name)] = BenchSamples(
            name=str(name), counts=counts, problem=problem.astype(np.int64), sample_index=sample_index[rows],
            correct=correct, truncated=truncated, tokens=tokens, has_answer=cols["has_answer"][rows],
            kind=lookup[codes], kinds=kind_names, offset=starts[rows], length=lengths[rows], subscores=subscores,
        )
    return out


# ----------------------------------------------------------------------------- one run directory


@dataclass(frozen=True)
class ProblemInfo:
    question: str
    gold: str
    labels: dict[str, str]


class RunData:
    """A run directory as the viewer reads it: config, sample index, problems, prompts (all lazy, cached).

    The sample index is rebuilt when samples.jsonl changes (a run still writing, or `evalkit grade`
    replacing it), so the page always shows what is on disk.
    """

    def __init__(self, entry: RunEntry) -> None:
        self.entry = entry
        self.dir = entry.path
        self._lock = threading.RLock()
        self._index: SampleIndex | None = None
        self._config: RunConfig | None = None
        self._config_error: str | None = None
        self._problems: dict[str, dict[str, ProblemInfo]] | None = None
        self._problems_sig: tuple[int, int, int] | None = None
        self._prompts: dict[str, tuple[int, int]] | None = None
        self._prompts_sig: tuple[int, int, int] | None = None
        self._summary: tuple[tuple[int, int, int] | None, Run] | None = None

    @property
    def id(self) -> str:
        return self.entry.id

    def file(self, name: str) -> Path | None:
        return run_file(self.dir, name)

    @property
    def config(self) -> RunConfig | None:
        """config.json, or None when it is damaged (`config_error` says why)."""
        with self._lock:
            if self._config is None and self._config_error is None:
                try:
                    path = self.file(CONFIG_FILE)
                    self._config = RunConfig.from_dict(json.loads(path.read_text(encoding="utf-8"))) if path else None
                    if path is None:
                        self._config_error = f"no {CONFIG_FILE}"
                except (ValueError, KeyError, TypeError, RunFileError) as exc:
                    self._config_error = f"{CONFIG_FILE} is damaged ({exc})"
            return self._config

    @property
    def config_error(self) -> str | None:
        _ = self.config
        return self._config_error

    def index(self) -> SampleIndex:
        """The sample index, rebuilt when samples.jsonl changed since it was built."""
        with self._lock:
            try:
                path = self.file(SAMPLES_FILE)
            except RunFileError as exc:
                return SampleIndex({}, [str(exc)], None)
            sig = _signature(path)
            if self._index is None or self._index.signature != sig:
                self._index = build_index(path)
            return self._index

    def bench(self, name: str) -> BenchSamples | None:
        return self.index().benches.get(name)

    def read_line(self, samples: BenchSamples, row: int) -> dict[str, Any]:
        """The full sample record of one row, read from disk by its offset."""
        path = self.file(SAMPLES_FILE)
        if path is None:
            raise RunFileError(f"{SAMPLES_FILE} disappeared")
        with path.open("rb") as f:
            raw = os.pread(f.fileno(), int(samples.length[row]), int(samples.offset[row]))
        return json.loads(raw.decode("utf-8", errors="replace"))

    def read_rows(self, samples: BenchSamples, rows: list[int]) -> list[dict[str, Any]]:
        path = self.file(SAMPLES_FILE)
        if path is None:
            raise RunFileError(f"{SAMPLES_FILE} disappeared")
        out = []
        with path.open("rb") as f:
            fd = f.fileno()
            for r in rows:
                raw = os.pread(fd, int(samples.length[r]), int(samples.offset[r]))
                try:
                    out.append(json.loads(raw.decode("utf-8", errors="replace")))
                except ValueError:
                    out.append({})
        return out

    def problems(self, bench: str) -> dict[str, ProblemInfo]:
        """problems.jsonl of one benchmark: problem id -> question, gold, labels ({} for older runs)."""
        with self._lock:
            try:
                path = self.file(PROBLEMS_FILE)
            except RunFileError:
                path = None
            sig = _signature(path)
            if self._problems is None or sig != self._problems_sig:
                self._problems, self._problems_sig = read_problems(path), sig
            return self._problems.get(bench, {})

    def has_problems_file(self) -> bool:
        try:
            return self.file(PROBLEMS_FILE) is not None
        except RunFileError:
            return False

    def prompt(self, prompt_hash: str) -> str | None:
        """The exact prompt text sent for a prompt hash, from prompts.jsonl."""
        with self._lock:
            try:
                path = self.file(PROMPTS_FILE)
            except RunFileError:
                return None
            if path is None:
                return None
            sig = _signature(path)
            if self._prompts is None or sig != self._prompts_sig:
                self._prompts = _prompt_offsets(path)
                self._prompts_sig = sig
            span = self._prompts.get(prompt_hash)
        if span is None:
            return None
        with path.open("rb") as f:
            raw = os.pread(f.fileno(), span[1], span[0])
        try:
            record = json.loads(raw.decode("utf-8", errors="replace"))
        except ValueError:
            return None
        return str(record.get("prompt", ""))

    def summary_run(self) -> Run | None:
        """The report's view of this run (counts, metrics.json entries that match them, notes)."""
        config = self.config
        if config is None:
            return None
        index = self.index()
        with self._lock:
            if self._summary is not None and self._summary[0] == index.signature:
                return self._summary[1]
            counts = {name: b.counts for name, b in index.benches.items()}
            notes = list(index.notes)
            try:
                metrics = matching_metrics(self.dir, counts, notes) if self.file(METRICS_FILE) or counts else {}
            except RunFileError as exc:
                notes.append(str(exc))
                metrics = {}
            missing = [b for b in config.benchmarks if b not in counts]
            if missing:
                notes.append(f"no samples for {', '.join(missing)}")
            run = Run(path=self.dir, config=config, counts=counts, metrics=metrics, notes=notes,
                      label=config.model.name)
            self._summary = (index.signature, run)
            return run

    def status(self) -> str:
        """"running" (another process holds the run's lock, or it wrote samples in the last minutes),
        "complete" (every configured sample is there) or "incomplete"."""
        if _lock_held(self.dir / ".lock"):
            return "running"
        config = self.config
        index = self.index()
        if config is not None and all(
                b in index.benches and index.benches[b].counts.n_samples >= info.n_problems * config.sampling.n
                for b, info in config.data.items()):
            return "complete"
        try:
            path = self.file(SAMPLES_FILE)
        except RunFileError:
            path = None
        if path is not None and time.time() - path.stat().st_mtime < RECENT_S:
            return "running"
        return "incomplete"


def read_problems(path: Path | None) -> dict[str, dict[str, ProblemInfo]]:
    """problems.jsonl as {benchmark: {problem id: ProblemInfo}}: pyarrow when it can, json.loads otherwise."""
    if path is None:
        return {}
    rows: Iterable[tuple[Any, ...]]
    try:
        import pyarrow as pa
        import pyarrow.json as pj

        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        fields = [(name, pa.string()) for name in ("benchmark", "problem_id", "question", "gold")]
        table = pj.read_json(pa.BufferReader(pa.py_buffer(memoryview(data)[:end])), parse_options=pj.ParseOptions(
            explicit_schema=pa.schema(fields), unexpected_field_behavior="infer"))
        if table.column("benchmark").null_count or table.column("problem_id").null_count:
            raise ValueError("a problem without its benchmark or id")
        labels = (table.column("labels").to_pylist() if "labels" in table.column_names
                  else [None] * table.num_rows)
        rows = zip(table.column("benchmark").to_pylist(), table.column("problem_id").to_pylist(),
                   table.column("question").to_pylist(), table.column("gold").to_pylist(), labels, strict=True)
    except (ImportError, ValueError, TypeError, KeyError, UnicodeDecodeError):  # ArrowInvalid is a ValueError
        rows = ((r.get("benchmark"), r.get("problem_id"), r.get("question"), r.get("gold"), r.get("labels"))
                for r in _jsonl(path))
    table_out: dict[str, dict[str, ProblemInfo]] = {}
    for bench, pid, question, gold, label in rows:
        if not isinstance(bench, str) or not isinstance(pid, str):
            continue
        clean = {str(k): str(v) for k, v in label.items() if v is not None} if isinstance(label, dict) else {}
        table_out.setdefault(bench, {})[pid] = ProblemInfo(
            question="" if question is None else str(question), gold="" if gold is None else str(gold), labels=clean)
    return table_out


def _jsonl(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    out = []
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n") or not line.strip():
                continue
            try:
                record = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                continue
            if isinstance(record, dict):
                out.append(record)
    return out


def _prompt_offsets(path: Path) -> dict[str, tuple[int, int]]:
    """prompt hash -> (offset, length) of its line; the hash is read off the line's start as the store writes
    it, and lines in another layout are parsed."""
    spans: dict[str, tuple[int, int]] = {}
    offset = 0
    with path.open("rb") as f:
        for line in f:
            if line.endswith(b"\n") and line.strip():
                found = _PROMPT_HASH.match(line)
                if found:
                    spans.setdefault(found.group(1).decode(), (offset, len(line) - 1))
                else:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        spans.setdefault(str(json.loads(line)["prompt_hash"]), (offset, len(line) - 1))
            offset += len(line)
    return spans


def _lock_held(lock: Path) -> bool:
    """Whether a process holds the run store's flock on `lock`, read from /proc/locks (never by locking:
    even a brief shared lock could make a starting `evalkit run` fail)."""
    try:
        st = lock.stat()
        table = Path("/proc/locks").read_text()
    except OSError:
        return False
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return any(line.split()[5:6] == [dev] for line in table.splitlines() if " FLOCK " in line)
