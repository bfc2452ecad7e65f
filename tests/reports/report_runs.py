"""Helpers of the report tests: constructed run directories, and reading the report's tables back.

Run directories have known answers and the exact format `evalkit run` writes: config.json and
samples.jsonl go through the schema dataclasses, metrics.json through the runner's own
`benchmark_metrics` with the registered benchmark. Tables are read back with markdown-it-py, so a
table that does not parse as a GFM table fails the test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt

import benchmarks
from benchmarks.base import Problem
from evalkit.metrics import Z_95
from evalkit.runner import benchmark_metrics
from evalkit.schema import (
    CONFIG_FILE,
    METRICS_FILE,
    SAMPLES_FILE,
    DataInfo,
    ModelConfig,
    PromptConfig,
    RunConfig,
    SampleRecord,
    SamplingParams,
    metrics_to_json,
)


@dataclass
class Item:
    """One problem of a constructed run: its per-sample correctness and optional extras."""

    outcomes: Sequence[bool]
    metadata: dict[str, Any] = field(default_factory=dict)
    answers: Sequence[str] | None = None  # extracted answers (maj@k); default "1" when correct else "0"
    truncated: Sequence[bool] | None = None
    tokens: Sequence[int] | None = None
    subscores: Sequence[dict[str, bool]] | None = None


def write_run(directory: Path, data: Mapping[str, Mapping[str, Item]], *, name: str = "model", path: str | None = None,
              step: int | None = None, temperature: float = 0.0, graders: Mapping[str, str] | None = None,
              content_hash: str = "data-v1", num_fewshot: int = 0, with_metrics: bool = True) -> Path:
    """A run directory of `data` = {benchmark: {problem_id: Item}}; returns `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    n = max(len(item.outcomes) for items in data.values() for item in items.values())
    config = RunConfig(
        model=ModelConfig(spec=path or name, path=path or f"/models/{name}", engine="hf", name=name,
                          checkpoint_step=step),
        benchmarks=list(data),
        sampling=SamplingParams(n=n, temperature=temperature),
        prompt=PromptConfig(num_fewshot=num_fewshot),
        limit=None,
        data={b: DataInfo(source="local:/data", content_hash=content_hash, n_problems=len(items),
                          n_problems_total=len(items)) for b, items in data.items()},
        graders={b: (graders or {}).get(b, benchmarks.get(b).grader.version) for b in data},
        versions={"python": "3.11"},
        created="2025-01-01T00:00:00+00:00",
    )
    (directory / CONFIG_FILE).write_text(json.dumps(config.to_dict()), encoding="utf-8")
    records = {b: _records(b, items) for b, items in data.items()}
    with (directory / SAMPLES_FILE).open("w", encoding="utf-8") as f:
        for recs in records.values():
            for r in recs:
                f.write(json.dumps(r.to_dict()) + "\n")
    if with_metrics:
        metrics = {}
        for b, items in data.items():
            problems = [Problem(id=pid, question=pid, gold="1", metadata=item.metadata) for pid, item in items.items()]
            metrics[b] = benchmark_metrics(benchmarks.get(b), records[b], problems)
        (directory / METRICS_FILE).write_text(json.dumps(metrics_to_json(metrics)), encoding="utf-8")
    return directory


def _records(bench: str, items: Mapping[str, Item]) -> list[SampleRecord]:
    out = []
    for pid, item in items.items():
        for j, ok in enumerate(item.outcomes):
            answer = item.answers[j] if item.answers else ("1" if ok else "0")
            out.append(SampleRecord(
                benchmark=bench, problem_id=pid, sample_index=j, prompt_hash=f"h-{pid}",
                completion=f"... \\boxed{{{answer}}}", extracted=answer, correct=bool(ok),
                reason="correct" if ok else "wrong",
                finish_reason="length" if item.truncated and item.truncated[j] else "stop",
                tokens=item.tokens[j] if item.tokens else 10,
                subscores=dict(item.subscores[j]) if item.subscores else {},
            ))
    return out


def binary_items(outcomes: Sequence[bool], prefix: str = "p") -> dict[str, Item]:
    """One sample per problem: problem ids p000, p001, ... with the given correctness."""
    return {f"{prefix}{i:03d}": Item([bool(o)]) for i, o in enumerate(outcomes)}


def tables(markdown: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Every GFM table, keyed by the heading or bold caption above it: (header, rows)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    out: dict[str, tuple[list[str], list[list[str]]]] = {}
    caption, header, rows, row, cell = "", [], [], [], False
    for i, t in enumerate(tokens):
        if t.type == "inline" and tokens[i - 1].type in ("heading_open", "paragraph_open"):
            caption = t.content.strip("*")
        elif t.type == "table_open":
            header, rows = [], []
        elif t.type == "tr_open":
            row = []
        elif t.type in ("th_open", "td_open"):
            cell = True
        elif t.type == "inline" and cell:
            row.append(t.content)
            cell = False
        elif t.type == "tr_close":
            if header:
                assert len(row) == len(header), f"row {row} has {len(row)} cells, header {len(header)}"
                rows.append(row)
            else:
                header = row
        elif t.type == "table_close":
            key = caption if caption not in out else f"{caption} ({len(out)})"
            out[key] = (header, rows)
    return out


def cell(table: tuple[list[str], list[list[str]]], run: str, column: str) -> str:
    header, rows = table
    row = next(r for r in rows if r[0] == run)
    return row[header.index(column)]


def wilson_pct(k: int, n: int) -> str:
    p = k / n
    centre = (p + Z_95**2 / (2 * n)) / (1 + Z_95**2 / n)
    half = Z_95 * math.sqrt(p * (1 - p) / n + Z_95**2 / (4 * n * n)) / (1 + Z_95**2 / n)
    return f"{100 * p:.1f}% [{100 * max(0, centre - half):.1f}, {100 * min(1, centre + half):.1f}]"
