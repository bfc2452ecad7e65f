"""Requests -> JSON payloads: the runs list, sample and problem tables, one sample, field remainders, comparisons.

Pure functions of the served runs and the query parameters, so tests call them without a server. Runs
are named by the ids `discover` gave them and benchmarks, problems and samples by their recorded names;
each is looked up in a table, never turned into a path. Long texts come cut to `CUT` characters with
their full length; `field` returns the rest on request ("show all").
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from reports.build import benchmark_result
from reports.settings import common_and_differing
from reports.training import CURVES, TrainingRun, is_training_dir, load_training_run, summary_row
from reports.view.chat import split_turns
from reports.view.discover import RunEntry
from reports.view.index import BenchSamples, RunData, RunFileError
from reports.view.query import (
    CELLS,
    PROBLEM_SORTS,
    SAMPLE_SORTS,
    VERDICTS,
    Filters,
    answer_part,
    compare,
    majority,
    preview,
    problem_order,
    problem_stats,
    sample_order,
)

CUT = 20_000  # characters of a long field sent with a sample; "show all" fetches the rest
MAX_CHUNK = 4_000_000  # characters per "show all" request
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
RUNNING_TRAIN_S = 600.0  # a training run that logged a step this recently and is short of its steps is running
_THINK = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.S)
_INPUT = re.compile(r"\binput (\d+)\b")
_CODE_NAMES = ("humaneval", "mbpp")


class ApiError(Exception):
    """A request that cannot be answered: `status` is the HTTP status, the message one line for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Catalog:
    """The runs being served, by id."""

    runs: dict[str, RunData]

    @classmethod
    def from_entries(cls, entries: list[RunEntry]) -> Catalog:
        return cls({e.id: RunData(e) for e in entries})

    def get(self, run_id: str | None, kind: str = "eval") -> RunData:
        run = self.runs.get(run_id or "")
        if run is None or run.entry.kind != kind:
            raise ApiError(404, f"no {'evaluation' if kind == 'eval' else 'training'} run {run_id!r} is being served")
        return run


def text(value: Any, limit: int = CUT) -> dict[str, Any]:
    """A possibly long text as the page receives it: the first `limit` characters and the full length."""
    s = value if isinstance(value, str) else "" if value is None else str(value)
    return {"text": s[:limit], "length": len(s), "cut": len(s) > limit}


def _param(params: Mapping[str, str], name: str, default: str = "") -> str:
    return params.get(name, default) or default


def _int(params: Mapping[str, str], name: str, default: int | None, lo: int = 0, hi: int = 1 << 62) -> int | None:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be a whole number (got {raw[:40]!r})") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi} (got {value})")
    return value


def _choice(params: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = _param(params, name, choices[0])
    if value not in choices:
        raise ApiError(400, f"{name} must be one of {', '.join(choices)} (got {value[:40]!r})")
    return value


def _bench(run: RunData, name: str | None) -> BenchSamples:
    b = run.bench(name or "")
    if b is None:
        raise ApiError(404, f"run {run.id!r} has no samples of benchmark {name!r}")
    return b


def is_code(run: RunData, bench: str) -> bool:
    config = run.config
    grader = config.graders.get(bench, "") if config else ""
    return "code" in grader or bench.startswith(_CODE_NAMES)


# ----------------------------------------------------------------------------- runs list


def runs_payload(catalog: Catalog) -> dict[str, Any]:
    """One row per evaluation run (the report's numbers) and per training run (its curves)."""
    evals = [r for r in catalog.runs.values() if r.entry.kind == "eval"]
    summaries = [(r, r.summary_run()) for r in evals]
    good = [s for _, s in summaries if s is not None]
    _, differing = common_and_differing(good) if good else ({}, [])
    rows: list[dict[str, Any]] = []
    for data, run in summaries:
        if run is None:
            rows.append({"id": data.id, "kind": "eval", "path": str(data.dir), "error": data.config_error,
                         "status": "damaged", "results": {}, "benchmarks": []})
            continue
        results = {}
        for bench in run.config.benchmarks:
            if bench not in run.counts:
                continue
            r = benchmark_result(run, bench)
            results[bench] = {
                "accuracy": r.accuracy.value, "ci": [r.accuracy.ci_low, r.accuracy.ci_high],
                "n_problems": r.accuracy.n, "n_samples": r.n_samples, "samples_per_problem": r.samples_per_problem,
                "pass": {str(k): e.value for k, e in r.pass_at_k.items()},
                "maj": {str(k): v for k, v in r.maj_at_k.items()},
                "subscores": {name: pk[1].value for name, pk in r.subscore_pass_at_k.items() if 1 in pk},
                "truncation": r.truncation.value, "mean_tokens": r.mean_tokens,
                "code": is_code(data, bench),
            }
        c = run.config
        rows.append({
            "id": data.id, "kind": "eval", "path": str(data.dir), "label": c.model.name, "model": c.model.spec,
            "engine": c.model.engine, "step": c.model.checkpoint_step, "benchmarks": list(c.benchmarks),
            "created": c.created, "status": data.status(), "notes": run.notes,
            "settings": {k: run.settings.get(k, "—") for k in differing}, "results": results,
            "problems_recorded": data.has_problems_file(),
        })
    training = [_training_row(r) for r in catalog.runs.values() if r.entry.kind == "train"]
    curves = []
    loaded = [(row, t) for row, t in training if t is not None]
    for key, title in CURVES.items():
        series = []
        for row, t in loaded:
            steps, values = t.series(key)
            if steps:
                series.append({"run": row["id"], "steps": steps, "values": values})
        if series:
            curves.append({"key": key, "title": title, "series": series})
    return {"runs": rows, "differing": differing, "training": [row for row, _ in training], "curves": curves}


def _training_row(data: RunData) -> tuple[dict[str, Any], TrainingRun | None]:
    row: dict[str, Any] = {"id": data.id, "kind": "train", "path": str(data.dir)}
    if not is_training_dir(data.dir):
        return {**row, "status": "damaged", "error": "train_config.json disappeared"}, None
    try:
        t = load_training_run(data.dir)
    except Exception as exc:  # a damaged training directory is shown as such, not as a failed page
        return {**row, "status": "damaged", "error": str(exc)}, None
    s = summary_row(t)
    planned = t.steps_planned
    metrics = data.dir / "metrics.jsonl"
    status = "complete"
    if planned is not None and t.steps_done < planned:
        recent = metrics.is_file() and time.time() - metrics.stat().st_mtime < RUNNING_TRAIN_S
        status = "running" if recent else "stopped early"
    trend = {k: (None if v is None else [v.first, v.last]) for k, v in s.items() if k in ("reward", "accuracy",
                                                                                         "heldout", "length")}
    return {**row, "label": data.id, "algo": t.config.get("algo"), "model": t.config.get("model"),
            "benchmark": t.config.get("benchmark"), "steps_done": t.steps_done, "steps_planned": planned,
            "status": status, "notes": t.notes, "trend": trend,
            "kl_end": s["kl_end"], "clip_mean": s["clip_mean"]}, t


# ----------------------------------------------------------------------------- tables


def parse_filters(params: Mapping[str, str]) -> Filters:
    labels = tuple(sorted((k[6:], v) for k, v in params.items() if k.startswith("label.") and v))
    return Filters(verdict=_choice(params, "verdict", VERDICTS), reason=_param(params, "reason"), labels=labels,
                   sample=_int(params, "sample", None), problem=_param(params, "problem"),
                   q=_param(params, "q")[:500])


def _page(params: Mapping[str, str], total: int) -> tuple[int, int, int]:
    per_page = _int(params, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE) or DEFAULT_PER_PAGE
    pages = max(1, -(-total // per_page))
    page = min(_int(params, "page", 1, 1) or 1, pages)
    return page, per_page, pages


def facets(run: RunData, b: BenchSamples) -> dict[str, Any]:
    """What the filter menus offer: reason kinds and labels with their counts, the sample indices."""
    kinds = np.bincount(b.kind[b.kind >= 0], minlength=len(b.kinds))
    problems = run.problems(b.name)
    labels: dict[str, dict[str, int]] = {}
    ids = set(b.problem_ids.tolist())
    for pid, info in problems.items():
        if pid in ids:
            for k, v in info.labels.items():
                labels.setdefault(k, {}).setdefault(v, 0)
                labels[k][v] += 1
    from reports.view.discover import natural_key

    return {
        "reasons": sorted(([k, int(c)] for k, c in zip(b.kinds, kinds.tolist(), strict=True) if c),
                          key=lambda kc: -kc[1]),
        "labels": {k: sorted(v.items(), key=lambda kv: natural_key(kv[0])) for k, v in sorted(labels.items())},
        "max_sample_index": int(b.sample_index.max()) if len(b.sample_index) else 0,
        "samples_per_problem": int(b.counts.n.min()) if len(b.counts.n) else 0,
        "verdict_counts": {"correct": int(b.correct.sum()), "wrong": int((~b.correct).sum()),
                           "no_answer": int((~b.has_answer).sum()), "truncated": int(b.truncated.sum())},
    }


def samples_payload(catalog: Catalog, params: Mapping[str, str]) -> dict[str, Any]:
    """A page of the samples table (view=samples) or of the problems table (view=problems)."""
    started = time.perf_counter()
    run = catalog.get(params.get("run"))
    b = _bench(run, params.get("bench"))
    filters = parse_filters(params)
    view = _choice(params, "view", ("samples", "problems"))
    descending = _choice(params, "order", ("asc", "desc")) == "desc"
    n_min = int(b.counts.n.min()) if len(b.counts.n) else 1
    k = _int(params, "k", n_min, 1, max(n_min, 1)) or 1
    problems = run.problems(b.name)
    out: dict[str, Any] = {"run": run.id, "bench": b.name, "view": view, "k": k, "code": is_code(run, b.name),
                           "problems_recorded": run.has_problems_file(), "total_samples": len(b.problem),
                           "total_problems": len(b.problem_ids), "facets": facets(run, b),
                           "benchmarks": list(run.index().benches), "label": run.config.model.name if run.config
                           else run.id, "notes": run.index().notes}
    if view == "samples":
        order = sample_order(run, b, filters, _choice(params, "sort", SAMPLE_SORTS), descending)
        page, per_page, pages = _page(params, len(order))
        rows = order[(page - 1) * per_page: page * per_page].tolist()
        records = run.read_rows(b, rows)
        out["rows"] = [_sample_row(run, b, r, rec, problems) for r, rec in zip(rows, records, strict=True)]
    else:
        order = problem_order(run, b, filters, _choice(params, "sort", PROBLEM_SORTS), descending, k)
        page, per_page, pages = _page(params, len(order))
        chosen = order[(page - 1) * per_page: page * per_page].tolist()
        stats = problem_stats(b, k)
        out["rows"] = [_problem_row(run, b, p, stats, problems) for p in chosen]
    out.update(total=len(order), page=page, per_page=per_page, pages=pages,
               seconds=round(time.perf_counter() - started, 4))
    return out


def _sample_row(run: RunData, b: BenchSamples, row: int, record: dict[str, Any], problems: dict) -> dict[str, Any]:
    pid = str(b.problem_ids[b.problem[row]])
    info = problems.get(pid)
    completion = _text(record.get("completion"))
    return {
        "problem_id": pid, "sample_index": int(b.sample_index[row]), "correct": bool(b.correct[row]),
        "extracted": preview(record.get("extracted"), 160), "gold": preview(info.gold, 160) if info else None,
        "reason": preview(record.get("reason"), 200), "kind": b.kinds[b.kind[row]] if b.kind[row] >= 0 else "",
        "finish_reason": "length" if b.truncated[row] else str(record.get("finish_reason", "stop")),
        "tokens": int(b.tokens[row]), "preview": preview(answer_part(completion)),
        "labels": info.labels if info else {},
        "subscores": {k: int(v[row]) for k, v in b.subscores.items() if v[row] >= 0},
    }


def _problem_row(run: RunData, b: BenchSamples, p: int, stats, problems: dict) -> dict[str, Any]:
    pid = str(b.problem_ids[p])
    info = problems.get(pid)
    rows = np.flatnonzero(b.problem == p)
    rows = rows[np.argsort(b.sample_index[rows], kind="stable")]
    maj = majority(run.read_rows(b, rows.tolist()))
    return {
        "problem_id": pid, "labels": info.labels if info else {},
        "question": preview(info.question, 200) if info else None, "gold": preview(info.gold, 160) if info else None,
        "n": int(stats.n[p]), "correct": int(stats.correct[p]), "pass_at_k": float(stats.pass_at_k[p]),
        "mean_tokens": float(stats.mean_tokens[p]), "truncated": int(stats.truncated[p]),
        "verdicts": [int(x) for x in b.correct[rows]],
        "majority": {"answer": preview(maj.answer, 160) if maj.answer is not None else None, "votes": maj.votes,
                     "voters": maj.voters, "correct": maj.correct, "tie": maj.tie,
                     "share_correct": maj.share_correct},
    }


# ----------------------------------------------------------------------------- one sample


def _locate(catalog: Catalog, params: Mapping[str, str]) -> tuple[RunData, BenchSamples, str, int, dict[str, Any]]:
    run = catalog.get(params.get("run"))
    b = _bench(run, params.get("bench"))
    pid = _param(params, "problem")
    index = _int(params, "index", 0) or 0
    row = b.row_of(pid, index)
    if row is None:
        raise ApiError(404, f"run {run.id!r} has no sample {index} of problem {pid!r} in {b.name}")
    record = run.read_line(b, row)
    if record.get("problem_id") != pid or record.get("sample_index") != index:
        raise ApiError(409, "samples.jsonl changed while it was read; reload the page")
    return run, b, pid, row, record


def _text(value: Any) -> str:
    """A sample's text field, or "" when it is missing or not text (samples.jsonl is read as it is)."""
    return value if isinstance(value, str) else ""


def _fields(run: RunData, b: BenchSamples, pid: str, record: dict[str, Any]) -> dict[str, str]:
    """Every long text of one sample by the name the page asks for its remainder."""
    completion = _text(record.get("completion"))
    info = run.problems(b.name).get(pid)
    out = {"completion": completion, "extracted": _text(record.get("extracted")),
           "reason": str(record.get("reason", "")), "question": info.question if info else "",
           "gold": info.gold if info else ""}
    thinking = _THINK.search(completion)
    if thinking:
        out["thinking"] = thinking.group(1)
        out["answer"] = completion[thinking.end():]
        out["before"] = completion[:thinking.start()]
    prompt = run.prompt(str(record.get("prompt_hash", "")))
    if prompt is not None:
        out["prompt"] = prompt
        for i, turn in enumerate(split_turns(prompt).turns):
            out[f"turn.{i}"] = turn.content
    return out


def sample_payload(catalog: Catalog, params: Mapping[str, str]) -> dict[str, Any]:
    """One sample: prompt turns, completion (reasoning apart), extracted answer, gold, reason, code verdicts."""
    run, b, pid, row, record = _locate(catalog, params)
    fields = _fields(run, b, pid, record)
    info = run.problems(b.name).get(pid)
    prompt = None
    if "prompt" in fields:
        chat = split_turns(fields["prompt"])
        prompt = {"format": chat.format, "generation_role": chat.generation_role, "raw": text(fields["prompt"]),
                  "turns": [{"role": t.role, "content": text(t.content)} for t in chat.turns]}
    rows = np.flatnonzero(b.problem == b.problem[row])
    rows = rows[np.argsort(b.sample_index[rows], kind="stable")]
    code = is_code(run, b.name)
    payload = {
        "run": run.id, "bench": b.name, "label": run.config.model.name if run.config else run.id,
        "problem_id": pid, "sample_index": int(b.sample_index[row]),
        "correct": bool(record.get("correct")), "reason": text(fields["reason"], 2000),
        "kind": b.kinds[b.kind[row]] if b.kind[row] >= 0 else "",
        "finish_reason": str(record.get("finish_reason", "")), "tokens": record.get("tokens"),
        "extracted": text(fields["extracted"]) if record.get("extracted") is not None else None,
        "completion": text(fields["completion"]),
        "thinking": {"before": text(fields["before"]), "thinking": text(fields["thinking"]),
                     "answer": text(fields["answer"])} if "thinking" in fields else None,
        "question": text(fields["question"]) if info else None, "gold": text(fields["gold"]) if info else None,
        "labels": info.labels if info else {}, "problems_recorded": run.has_problems_file(),
        "prompt": prompt, "code": code,
        "subscores": record.get("subscores") if isinstance(record.get("subscores"), dict) else {},
        "siblings": [{"sample_index": int(b.sample_index[r]), "correct": bool(b.correct[r])} for r in rows.tolist()],
    }
    if code:
        payload["tests"] = code_tests(record)
    return payload


def code_tests(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The test verdicts of a code sample, per test set (base and plus for evalplus benchmarks).

    The judge stops a test set at its first failing input, so a failed set reads "inputs before i passed,
    input i failed (detail), later inputs not run"; samples.jsonl records nothing finer.
    """
    reason = str(record.get("reason", ""))
    raw_subs = record.get("subscores")
    subs: dict[str, Any] = raw_subs if isinstance(raw_subs, dict) else {}
    weak = record.get("trust") == "weak" or "weak" in reason  # runs before trust was recorded say it in the reason
    names: list[str] = [n for n in ("base", "plus") if n in subs] or ["tests"]
    out = []
    for name in names:
        passed = bool(subs[name]) if name in subs else bool(record.get("correct"))
        prefix = f"{name}: "
        if passed:
            detail = "weak: test ran inside the candidate process" if weak else ""
        elif name == "tests":
            detail = reason
        elif reason.startswith(prefix):
            detail = reason.removeprefix(prefix)
        else:
            detail = ""  # failed too, but the reason reports the other set's failure first
        found = _INPUT.search(detail) if not passed else None
        out.append({"name": name, "passed": passed, "failed_input": int(found.group(1)) if found else None,
                    "detail": detail})
    return out


def field_payload(catalog: Catalog, params: Mapping[str, str]) -> dict[str, Any]:
    """The rest of one long field of a sample, from `start` on (up to MAX_CHUNK characters)."""
    run, b, pid, _, record = _locate(catalog, params)
    fields = _fields(run, b, pid, record)
    name = _param(params, "name")
    if name not in fields:
        raise ApiError(404, f"sample has no field {name[:40]!r}")
    full = fields[name]
    start = _int(params, "start", 0, 0, len(full)) or 0
    chunk = full[start:start + MAX_CHUNK]
    end = start + len(chunk)
    return {"name": name, "start": start, "text": chunk, "length": len(full), "next": end if end < len(full) else None}


def problem_payload(catalog: Catalog, params: Mapping[str, str]) -> dict[str, Any]:
    """A problem and every sample a run has of it (the side-by-side view of a comparison)."""
    run = catalog.get(params.get("run"))
    b = _bench(run, params.get("bench"))
    pid = _param(params, "problem")
    code = b.problem_code(pid)
    if code is None:
        raise ApiError(404, f"run {run.id!r} has no problem {pid!r} in {b.name}")
    rows = np.flatnonzero(b.problem == code)
    rows = rows[np.argsort(b.sample_index[rows], kind="stable")].tolist()
    info = run.problems(b.name).get(pid)
    samples = []
    for r, record in zip(rows, run.read_rows(b, rows), strict=True):
        completion = record.get("completion") if isinstance(record.get("completion"), str) else ""
        samples.append({"sample_index": int(b.sample_index[r]), "correct": bool(b.correct[r]),
                        "extracted": text(record.get("extracted"), 2000) if record.get("extracted") is not None
                        else None, "reason": preview(record.get("reason"), 300),
                        "finish_reason": "length" if b.truncated[r] else "stop", "tokens": int(b.tokens[r]),
                        "completion": text(completion, 4000)})
    return {"run": run.id, "bench": b.name, "label": run.config.model.name if run.config else run.id,
            "problem_id": pid, "question": text(info.question) if info else None,
            "gold": text(info.gold) if info else None, "labels": info.labels if info else {},
            "code": is_code(run, b.name), "samples": samples}


# ----------------------------------------------------------------------------- compare


def compare_payload(catalog: Catalog, params: Mapping[str, str]) -> dict[str, Any]:
    """Runs A and B on their shared problems: the four cells, the report's paired test, one cell's problems."""
    a, b_run = catalog.get(params.get("a")), catalog.get(params.get("b"))
    bench = _param(params, "bench")
    ba, bb = _bench(a, bench), _bench(b_run, bench)
    cmp = compare(ba, bb)
    cell = _choice(params, "cell", CELLS)
    chosen = np.flatnonzero(cmp.cell == CELLS.index(cell))
    page, per_page, pages = _page(params, len(chosen))
    problems = a.problems(bench) or b_run.problems(bench)
    rows = []
    for i in chosen[(page - 1) * per_page: page * per_page].tolist():
        pid = str(cmp.shared[i])
        info = problems.get(pid)
        rows.append({"problem_id": pid, "question": preview(info.question, 200) if info else None,
                     "gold": preview(info.gold, 120) if info else None, "labels": info.labels if info else {},
                     "a": {"correct": int(cmp.a_correct[i]), "n": int(cmp.a_n[i])},
                     "b": {"correct": int(cmp.b_correct[i]), "n": int(cmp.b_n[i])}})
    t = cmp.test
    test = None if t is None else {
        "n_shared": t.n_shared, "a_mean": t.base_mean, "b_mean": t.run_mean, "diff": t.diff,
        "ci": [t.ci_low, t.ci_high], "p_value": t.p_value, "test": t.test, "significant": t.significant,
        "b_better": t.better, "b_worse": t.worse}
    shared_benches = [x for x in a.index().benches if x in b_run.index().benches]
    return {"a": a.id, "b": b_run.id, "a_label": a.config.model.name if a.config else a.id,
            "b_label": b_run.config.model.name if b_run.config else b_run.id, "bench": bench,
            "benchmarks": shared_benches, "n_shared": len(cmp.shared),
            "cells": {name: int((cmp.cell == i).sum()) for i, name in enumerate(CELLS)}, "cell": cell, "test": test,
            "rows": rows, "total": len(chosen), "page": page, "per_page": per_page, "pages": pages}


ENDPOINTS = {"runs": lambda c, p: runs_payload(c), "samples": samples_payload, "sample": sample_payload,
             "field": field_payload, "problem": problem_payload, "compare": compare_payload}


def answer(catalog: Catalog, endpoint: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The payload of `/api/<endpoint>?<params>`; ApiError for a request that cannot be answered."""
    handler = ENDPOINTS.get(endpoint)
    if handler is None:
        raise ApiError(404, f"no API endpoint {endpoint[:40]!r}")
    try:
        return handler(catalog, params)
    except RunFileError as exc:
        raise ApiError(403, str(exc)) from None
