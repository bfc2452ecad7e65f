"""Training runs (`evalkit train` directories) -> a summary table, a time split, tidy CSV rows.

A training directory holds train_config.json and metrics.jsonl, one line per step (step 0 is the
held-out evaluation before training when --eval-every is set). They are read as they are: a run that
is still going, or that stopped early, is shown with the steps it has and a note saying so, and a torn
last line (a crash mid-write) is skipped and noted. The curves are drawn by reports/plots.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.schema import TRAIN_CONFIG_FILE, TRAIN_METRICS_FILE, TrainingRecord
from reports.load import first_unique, flatten
from reports.tables import CSV_COLUMNS, PlotRef, escape, md_table

#: metrics.jsonl key -> title, for the curves and the summary; `clip_fraction` is clip_low + clip_high
CURVES = {
    "reward_mean": "reward", "accuracy": "train accuracy", "heldout_accuracy": "held-out accuracy",
    "entropy": "entropy", "kl": "KL to start", "clip_fraction": "clip fraction",
    "completion_len_mean": "completion length", "zero_variance_frac": "zero-variance groups",
    "sampler_logp_gap": "sampler log-prob gap",
}
TIME_KEYS = {"time_generation_s": "generation", "time_reward_s": "reward", "time_update_s": "update",
             "time_eval_s": "evaluation"}
#: settings that name the run rather than configure it
IDENTITY_SETTINGS = ("output",)


def is_training_dir(path: Path) -> bool:
    return (path / TRAIN_CONFIG_FILE).is_file()


@dataclass
class TrainingRun:
    """One training directory: its settings and its per-step records in step order."""

    path: Path
    config: dict[str, Any]
    records: list[TrainingRecord]
    notes: list[str] = field(default_factory=list)
    label: str = ""

    @property
    def steps_done(self) -> int:
        return max((r.step for r in self.records), default=0)

    @property
    def trained_records(self) -> list[TrainingRecord]:
        """The records of training steps (step 0 is the evaluation before any update)."""
        return [r for r in self.records if r.step >= 1]

    @property
    def steps_planned(self) -> int | None:
        steps = self.config.get("steps")
        return steps if isinstance(steps, int) else None

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one metric over the steps that logged it."""
        steps, values = [], []
        for record in self.records:
            if key == "clip_fraction":
                parts = [record.get(k) for k in ("clip_low", "clip_high")]
                value = sum(p for p in parts if _number(p)) if any(_number(p) for p in parts) else None
            else:
                value = record.get(key)
            if value is not None and _number(value):
                steps.append(record.step)
                values.append(float(value))
        return steps, values

    def total(self, key: str) -> float:
        return sum(float(r.get(key)) for r in self.records if _number(r.get(key)))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_training_run(path: Path) -> TrainingRun:
    """Read one training directory; UsageError (one line) for what cannot be read."""
    try:
        config = json.loads((path / TRAIN_CONFIG_FILE).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{path / TRAIN_CONFIG_FILE} is not valid JSON ({exc}); was it written by evalkit train?") \
            from None
    metrics = path / TRAIN_METRICS_FILE
    if not metrics.is_file():
        raise UsageError(f"{path} holds a training config but no {TRAIN_METRICS_FILE}; has the run started?")
    notes: list[str] = []
    records: list[TrainingRecord] = []
    lines = metrics.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):
                notes.append(f"the last line of {TRAIN_METRICS_FILE} is torn (a crash mid-write) and was skipped")
                continue
            raise UsageError(f"{metrics}:{number} is not a JSON line; the file is damaged") from None
        try:
            records.append(TrainingRecord.from_dict(record))
        except (TypeError, AttributeError):
            raise UsageError(f"{metrics}:{number} has no step number; was it written by evalkit train?") from None
    records.sort(key=lambda r: r.step)
    run = TrainingRun(path=path, config=config if isinstance(config, dict) else {}, records=records, notes=notes)
    planned = run.steps_planned
    if not records:
        notes.append("no steps logged yet")
    elif planned is not None and run.steps_done < planned:
        notes.append(f"{run.steps_done} of {planned} steps logged (still running, or stopped early)")
    return run


def load_training_runs(paths: Sequence[Path]) -> list[TrainingRun]:
    """Read and label training runs: the directory name, else parent/name, else parent/name numbered."""
    runs = [load_training_run(p) for p in paths]
    names = first_unique([r.path.name for r in runs], [f"{r.path.parent.name}/{r.path.name}" for r in runs])
    for run, name in zip(runs, names, strict=True):
        run.label = name
    return runs


# ----------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class Trend:
    """A metric at the start and at the end of a run: means over the first and last `window` logged steps."""

    first: float
    last: float
    window: int


def trend(values: Sequence[float], *, window: int | None = None) -> Trend | None:
    """First and last means over a tenth of the values (at least 1); None without values."""
    if not values:
        return None
    w = window or max(1, len(values) // 10)
    w = min(w, len(values))
    return Trend(sum(values[:w]) / w, sum(values[-w:]) / w, w)


def summary_row(run: TrainingRun) -> dict[str, Any]:
    """The numbers of one run's summary row; None where the run did not log a metric."""
    def values(key: str) -> list[float]:
        return run.series(key)[1]

    def mean(key: str) -> float | None:
        v = values(key)
        return sum(v) / len(v) if v else None

    return {
        "reward": trend(values("reward_mean")), "accuracy": trend(values("accuracy")),
        "heldout": trend(values("heldout_accuracy"), window=1), "entropy": trend(values("entropy")),
        "kl_end": kl.last if (kl := trend(values("kl"))) else None,
        "clip_mean": mean("clip_fraction"), "length": trend(values("completion_len_mean")),
        "zero_var_mean": mean("zero_variance_frac"), "sampler_gap_mean": mean("sampler_logp_gap"),
    }


def _trend_cell(t: Trend | None, spec: str = ".3f") -> str:
    return "—" if t is None else f"{t.first:{spec}} → {t.last:{spec}}"


def _cell(value: float | None, spec: str = ".4f") -> str:
    return "—" if value is None else format(value, spec)


def differing_settings(runs: Sequence[TrainingRun]) -> list[str]:
    flat = [flatten(r.config) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    return [k for k in keys if k not in IDENTITY_SETTINGS and len({f.get(k, "—") for f in flat}) > 1]


def render_training_markdown(runs: Sequence[TrainingRun], plots: Sequence[PlotRef] = ()) -> str:
    """The "Training runs" section: summary, time split, differing settings, notes and curves."""
    parts = ["## Training runs",
             f"{len(runs)} training run{'s' if len(runs) != 1 else ''}. `a → b` is the mean over the first and the "
             "last tenth of the logged steps (at least one step); held-out accuracy is the first and the last "
             "evaluation (step 0 is before any update)."]
    notes = [f"- {escape(r.label)}: {escape(n)}" for r in runs for n in r.notes]
    if notes:
        parts.append("\n".join(notes))
    with_gap = any(r.series("sampler_logp_gap")[0] for r in runs)  # vLLM rollouts
    rows = []
    for run in runs:
        s = summary_row(run)
        planned = run.steps_planned
        rows.append([
            run.label, str(run.config.get("algo", "—")), str(run.config.get("model", "—")),
            str(run.config.get("benchmark", "—")), f"{run.steps_done}" + (f"/{planned}" if planned else ""),
            _trend_cell(s["reward"]), _trend_cell(s["accuracy"]), _trend_cell(s["heldout"]),
            _trend_cell(s["entropy"]), _cell(s["kl_end"]), _cell(s["clip_mean"]), _trend_cell(s["length"], ".1f"),
            _cell(s["zero_var_mean"], ".2f"),
        ] + ([_cell(s["sampler_gap_mean"])] if with_gap else []))
    header = ["run", "algo", "model", "benchmark", "steps", "reward", "train accuracy", "held-out accuracy", "entropy",
              "KL to start (end)", "clip fraction (mean)", "completion length", "zero-variance groups (mean)"]
    if with_gap:
        header.append("sampler log-prob gap (mean)")
    parts.append(md_table(header, rows, [False] * 5 + [True] * (len(header) - 5)))
    parts.append("### Where the time went\n\n" + _time_table(runs))
    differing = differing_settings(runs)
    if differing:
        table = [[r.label] + [flatten(r.config).get(k, "—") for k in differing] for r in runs]
        parts.append("### Settings that differ\n\n" + md_table(["run", *differing], table))
    parts.append("Directories: " + ", ".join(f"{escape(r.label)} = `{r.path}`" for r in runs) + ".")
    if plots:
        parts.append("\n\n".join(f"### {p.title}\n\n![{p.title}](<{p.link}>)" for p in plots))
    return "\n\n".join(parts)


def _time_table(runs: Sequence[TrainingRun]) -> str:
    rows = []
    for run in runs:
        totals = {key: run.total(key) for key in TIME_KEYS}
        whole = sum(totals.values())
        steps = max(1, len(run.trained_records))
        cells = [f"{v:.1f} s ({v / whole:.0%})" if whole else f"{v:.1f} s" for v in totals.values()]
        rows.append([run.label, *cells, f"{whole:.1f} s", f"{whole / steps:.2f} s"])
    return md_table(["run", *TIME_KEYS.values(), "total", "per step"], rows, [False] + [True] * (len(TIME_KEYS) + 2))


def training_rows(runs: Sequence[TrainingRun]) -> list[dict[str, object]]:
    """Tidy CSV rows: one per (run, step, numeric metric), subset "train", the step in checkpoint_step."""
    rows: list[dict[str, object]] = []
    for run in runs:
        for record in run.records:
            for metric, value in record.to_dict().items():
                if metric == "step" or not _number(value):
                    continue
                row: dict[str, object] = dict.fromkeys(CSV_COLUMNS, "")
                row.update(run=run.label, model=run.config.get("model", ""), checkpoint_step=record.step,
                           benchmark=run.config.get("benchmark", ""), subset="train", metric=metric, value=value)
                rows.append(row)
    return rows
