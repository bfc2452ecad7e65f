"""Filters, search, sorting and pages over a run's sample index; per-problem figures; the four compare cells.

Everything runs on the index's numpy columns; only the rows of the requested page are read from disk.
Orders are cached per (run, index version, benchmark, filters, sort), so paging through a filtered
table costs one slice and one read of that page's lines.

Choices the page states next to the numbers:
- A problem is "right" in a run (compare cells) when more than half of its samples are correct; with
  one sample per problem that is the sample itself, as in the exact McNemar test.
- The majority answer of a problem: correct samples are one vote group (the grader judged each of them
  equal to the gold), wrong answers are grouped by their text (spaces and `\\left`/`\\right` ignored).
  metrics.json's maj@k groups by the grader's equivalence, so in rare cases ("1/2" and "0.5" both
  wrong) the two can group differently; the viewer never calls a grader.
"""

from __future__ import annotations

import json
import mmap
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.schema import SAMPLES_FILE
from reports.stats import PairedResult, paired_comparison, pass_at_k_per_problem
from reports.view.index import BenchSamples, RunData

VERDICTS = ("all", "correct", "wrong", "no_answer", "truncated", "timeout")
SAMPLE_SORTS = ("problem", "sample", "verdict", "tokens", "reason")
PROBLEM_SORTS = ("problem", "accuracy", "pass", "samples", "tokens", "truncated")
CELLS = ("both_right", "only_a", "only_b", "both_wrong")
PREVIEW_CHARS = 240
CACHE_ENTRIES = 64
_SPACES = re.compile(r"\s+")
_CORRECT = "\x00correct"  # the vote group of the samples graded correct
_NORMALISE = re.compile(r"\\left|\\right|\\!|\\,|\\;|\\ |\s+|\$")


@dataclass(frozen=True)
class Filters:
    """What a samples or problems table shows. Empty fields filter nothing."""

    verdict: str = "all"  # one of VERDICTS
    reason: str = ""  # a reason kind (index.reason_kind)
    labels: tuple[tuple[str, str], ...] = ()  # problem labels that must match, e.g. (("level", "5"),)
    sample: int | None = None  # only this sample index of every problem
    problem: str = ""  # only this problem
    q: str = ""  # text in the question, the completion or the extracted answer (case-insensitive)


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_cache = _LRU(CACHE_ENTRIES)


def _key(run: RunData, b: BenchSamples, *parts: Any) -> tuple:
    return (run.id, run.index().signature, id(b), run.has_problems_file(), *parts)


# ----------------------------------------------------------------------------- filters


def label_columns(run: RunData, b: BenchSamples) -> dict[str, np.ndarray]:
    """Per problem index, the value of each label of problems.jsonl ("" where a problem has none)."""
    key = _key(run, b, "labels")
    cached = _cache.get(key)
    if cached is not None:
        return cached
    problems = run.problems(b.name)
    names = sorted({k for p in problems.values() for k in p.labels})
    out = {}
    for name in names:
        out[name] = np.array([problems[pid].labels.get(name, "") if pid in problems else ""
                              for pid in b.problem_ids.tolist()], dtype=object)
    _cache.put(key, out)
    return out


def search_rows(run: RunData, b: BenchSamples, q: str) -> np.ndarray:
    """Rows whose completion or extracted answer, or whose problem's question, holds `q` (ignoring case).

    The samples file is scanned as bytes for `q` as JSON writes it (one C-speed pass, no parsing), and
    only the lines that contain it are parsed to check that it is in those fields.
    """
    key = _key(run, b, "search", q)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    lowered = q.lower()
    problems = run.problems(b.name)
    in_question = np.array([lowered in problems[pid].question.lower() if pid in problems else False
                            for pid in b.problem_ids.tolist()], dtype=bool)
    mask = in_question[b.problem] if len(b.problem) else np.zeros(0, dtype=bool)
    path = run.file(SAMPLES_FILE)
    if path is not None and path.stat().st_size and len(b.offset):
        needle = json.dumps(q, ensure_ascii=False)[1:-1].encode("utf-8")
        pattern = re.compile(re.escape(needle), re.IGNORECASE)
        order = np.argsort(b.offset, kind="stable")
        starts = b.offset[order]
        ends = starts + b.length[order]
        candidates: list[int] = []
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos, limit = int(starts[0]), int(ends[-1])
            while pos < limit:
                m = pattern.search(mm, pos, limit)
                if m is None:
                    break
                k = int(np.searchsorted(starts, m.start(), side="right")) - 1
                if k >= 0 and m.start() < ends[k]:
                    candidates.append(int(order[k]))
                    k += 1
                else:
                    k = max(k + 1, 0)
                if k >= len(starts):
                    break
                pos = int(starts[k])
        for row, record in zip(candidates, run.read_rows(b, candidates), strict=True):
            texts = (record.get("completion"), record.get("extracted"))
            if any(isinstance(t, str) and lowered in t.lower() for t in texts):
                mask[row] = True
    _cache.put(key, mask)
    return mask


def sample_mask(run: RunData, b: BenchSamples, f: Filters) -> np.ndarray:
    """The rows of `b` that pass every filter."""
    mask = np.ones(len(b.problem), dtype=bool)
    if f.verdict == "correct":
        mask &= b.correct
    elif f.verdict == "wrong":
        mask &= ~b.correct
    elif f.verdict == "no_answer":
        mask &= ~b.has_answer
    elif f.verdict == "truncated":
        mask &= b.truncated
    elif f.verdict == "timeout":
        timeout_kinds = [i for i, k in enumerate(b.kinds) if "timeout" in k]
        mask &= np.isin(b.kind, timeout_kinds)
    if f.reason:
        mask &= b.kind == (b.kinds.index(f.reason) if f.reason in b.kinds else -2)
    if f.sample is not None:
        mask &= b.sample_index == f.sample
    if f.problem:
        code = b.problem_code(f.problem)
        mask &= b.problem == (code if code is not None else -1)
    if f.labels:
        columns = label_columns(run, b)
        keep = np.ones(len(b.problem_ids), dtype=bool)
        for name, value in f.labels:
            keep &= columns[name] == value if name in columns else False
        mask &= keep[b.problem]
    if f.q:
        mask &= search_rows(run, b, f.q)
    return mask


# ----------------------------------------------------------------------------- orders and pages


def sample_order(run: RunData, b: BenchSamples, f: Filters, sort: str, descending: bool) -> np.ndarray:
    """Rows passing `f`, sorted (ties: problem in natural order, then sample index)."""
    key = _key(run, b, "samples", f, sort, descending)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    rows = np.flatnonzero(sample_mask(run, b, f))
    rank = b.problem_rank[b.problem[rows]]
    index = b.sample_index[rows]
    primary = {"problem": rank, "sample": index, "verdict": b.correct[rows].astype(np.int64),
               "tokens": b.tokens[rows], "reason": b.kind[rows]}[sort]
    keys: tuple[Any, ...]
    if sort == "sample":
        keys = (rank, -primary if descending else primary)
    elif sort == "problem":
        keys = (index, -rank if descending else rank)
    else:
        keys = (index, rank, -primary if descending else primary)
    order = rows[np.lexsort(keys)]
    _cache.put(key, order)
    return order


@dataclass(frozen=True)
class ProblemStats:
    """Per-problem arrays over all samples of each problem (problem index order)."""

    n: np.ndarray
    correct: np.ndarray
    pass_at_k: np.ndarray
    mean_tokens: np.ndarray
    truncated: np.ndarray


def problem_stats(b: BenchSamples, k: int) -> ProblemStats:
    c = b.counts
    kk = max(1, min(k, int(c.n.min()) if len(c.n) else 1))
    return ProblemStats(n=c.n, correct=c.correct, pass_at_k=pass_at_k_per_problem(c.n, c.correct, [kk])[kk],
                        mean_tokens=c.tokens / np.maximum(c.n, 1), truncated=c.truncated)


def problem_order(run: RunData, b: BenchSamples, f: Filters, sort: str, descending: bool, k: int) -> np.ndarray:
    """Problem indices with at least one sample passing `f`, sorted (ties: natural problem order)."""
    key = _key(run, b, "problems", f, sort, descending, k)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    mask = sample_mask(run, b, f)
    problems = np.flatnonzero(np.bincount(b.problem[mask], minlength=len(b.problem_ids)) > 0)
    stats = problem_stats(b, k)
    rank = b.problem_rank[problems]
    primary = {"problem": rank, "accuracy": (stats.correct / np.maximum(stats.n, 1))[problems],
               "pass": stats.pass_at_k[problems], "samples": stats.n[problems],
               "tokens": stats.mean_tokens[problems], "truncated": stats.truncated[problems]}[sort]
    keys = (-rank if descending else rank,) if sort == "problem" else (rank, -primary if descending else primary)
    order = problems[np.lexsort(keys)]
    _cache.put(key, order)
    return order


def preview(text: Any, limit: int = PREVIEW_CHARS) -> str:
    """The start of a text on one line, for a table cell."""
    if not isinstance(text, str):
        return ""
    head = _SPACES.sub(" ", text[:limit * 4]).strip()
    return head if len(head) <= limit else head[:limit - 1] + "…"


def answer_part(completion: str) -> str:
    """The part of a completion after its reasoning block (what a table preview should show first)."""
    tail = completion.rsplit("</think>", 1)
    return tail[1] if len(tail) == 2 and tail[1].strip() else completion


# ----------------------------------------------------------------------------- majority answer


@dataclass(frozen=True)
class Majority:
    answer: str | None  # the winning answer's text (None: no sample has an answer)
    votes: int
    voters: int  # samples with an answer
    correct: bool | None  # whether the winner is the correct group; None on a tie
    tie: bool
    share_correct: float  # the correct group's share of the tied winners (1 or 0 without a tie): maj@n's term


def normalise_answer(answer: str) -> str:
    """An answer's text for grouping: spaces, `\\left`/`\\right`, thin spaces and `$` ignored, `\\dfrac` = `\\frac`."""
    text = _NORMALISE.sub("", answer).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return text.rstrip(".")


def majority(records: list[dict[str, Any]]) -> Majority:
    """The majority answer of one problem's samples (see the module docstring for the grouping)."""
    groups: dict[str, list[str]] = {}
    for r in records:
        answer = r.get("extracted")
        if not isinstance(answer, str) or not answer.strip():
            continue
        groups.setdefault(_CORRECT if r.get("correct") else normalise_answer(answer), []).append(answer)
    voters = sum(len(v) for v in groups.values())
    if not groups:
        return Majority(None, 0, 0, None, False, 0.0)
    top = max(len(v) for v in groups.values())
    winners = [k for k, v in groups.items() if len(v) == top]
    best = _CORRECT if _CORRECT in winners else winners[0]
    tie = len(winners) > 1
    return Majority(groups[best][0], top, voters, None if tie else best == _CORRECT, tie,
                    winners.count(_CORRECT) / len(winners))


# ----------------------------------------------------------------------------- compare two runs


@dataclass(frozen=True)
class Comparison:
    """Run A against run B on the problems of one benchmark they share."""

    shared: np.ndarray  # problem ids, natural order
    a_n: np.ndarray
    a_correct: np.ndarray
    b_n: np.ndarray
    b_correct: np.ndarray
    cell: np.ndarray  # index into CELLS per shared problem
    test: PairedResult | None  # B against A as the baseline: diff = B - A


def compare(a: BenchSamples, b: BenchSamples) -> Comparison:
    ca, cb = a.counts, b.counts
    shared, ia, ib = np.intersect1d(ca.problem_ids, cb.problem_ids, assume_unique=True, return_indices=True)
    order = np.argsort(a.problem_rank[ia], kind="stable")
    shared, ia, ib = shared[order], ia[order], ib[order]
    right_a = 2 * ca.correct[ia] > ca.n[ia]
    right_b = 2 * cb.correct[ib] > cb.n[ib]
    cell = np.where(right_a & right_b, 0, np.where(right_a, 1, np.where(right_b, 2, 3)))
    return Comparison(shared=shared, a_n=ca.n[ia], a_correct=ca.correct[ia], b_n=cb.n[ib], b_correct=cb.correct[ib],
                      cell=cell, test=paired_comparison(cb, ca) if len(shared) else None)
