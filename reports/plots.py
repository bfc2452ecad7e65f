"""PNG plots: pass@k curves, accuracy by checkpoint step, per-group bars, and training curves.

matplotlib is imported inside `write_plots` (it is an optional extra and slow to import), and only
its object API is used (Figure + Agg canvas, no pyplot), so no global backend state is touched.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.errors import UsageError
from evalkit.schema import slug
from reports.build import Report
from reports.settings import training_run_key
from reports.tables import PlotRef
from reports.training import CURVES, TIME_KEYS, TrainingRun

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_RUNS_DRAWN = 12  # more curves or bars per group are unreadable; the first ones given are drawn


def _slug(text: str) -> str:
    return slug(text, fallback="plot")


def _figure_class() -> type[Figure]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("--plots needs matplotlib: pip install 'evalkit[report]'") from None
    return Figure


def _saver(out_dir: Path, markdown_dir: Path | None, refs: list[PlotRef]) -> Callable[[Figure, str, str], None]:
    """save(fig, file name, title): write the PNG and add its link (relative to `markdown_dir`, default cwd)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = (markdown_dir or Path.cwd()).resolve()

    def save(fig: Figure, name: str, title: str) -> None:
        path = out_dir / name
        fig.savefig(path, dpi=100, bbox_inches="tight")
        refs.append(PlotRef(title, Path(os.path.relpath(path.resolve(), base)).as_posix()))

    return save


def write_plots(report: Report, out_dir: Path, markdown_dir: Path | None = None) -> list[PlotRef]:
    """Write every applicable plot under `out_dir`; links are relative to `markdown_dir` (default: cwd)."""
    Figure = _figure_class()
    refs: list[PlotRef] = []
    save = _saver(out_dir, markdown_dir, refs)
    for bench in report.benchmarks:
        fig = _pass_at_k_curves(Figure, report, bench)
        if fig is not None:
            save(fig, f"passk-{_slug(bench)}.png", f"{bench}: pass@k")
        fig = _steps(Figure, report, bench)
        if fig is not None:
            save(fig, f"steps-{_slug(bench)}.png", f"{bench}: accuracy by training step")
        for key in report.breakdowns.get(bench, {}):
            save(_bars(Figure, report, bench, key), f"breakdown-{_slug(bench)}-{_slug(key)}.png",
                 f"{bench}: accuracy by {key}")
    return refs


def _pass_at_k_curves(Figure: type[Figure], report: Report, bench: str) -> Figure | None:
    curves = [(run.label, report.results[(run.label, bench)].pass_at_k) for run in report.runs
              if (run.label, bench) in report.results and len(report.results[(run.label, bench)].pass_at_k) > 1]
    if not curves:
        return None
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for label, by_k in curves[:MAX_RUNS_DRAWN]:
        ks = sorted(by_k)
        ax.plot(ks, [by_k[k].value for k in ks], marker="o", markersize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k")
    shown = "" if len(curves) <= MAX_RUNS_DRAWN else f" (first {MAX_RUNS_DRAWN} runs)"
    ax.set_title(f"{bench}: pass@k{shown}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def _steps(Figure: type[Figure], report: Report, bench: str) -> Figure | None:
    groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for run in report.runs:
        key = training_run_key(run)
        if key is not None and (run.label, bench) in report.results:
            groups[key].append((run.checkpoint_step, run.label))  # type: ignore[arg-type]
    lines = {k: sorted(v) for k, v in groups.items() if len({s for s, _ in v}) > 1}
    if not lines:
        return None
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for key, points in lines.items():
        steps = [s for s, _ in points]
        accs = [report.results[(label, bench)].accuracy for _, label in points]
        name = key.split("|", 1)[0].rstrip("/").rsplit("/", 1)[-1] or key
        ax.plot(steps, [a.value for a in accs], marker="o", label=name)
        ax.fill_between(steps, [a.value if a.ci_low is None else a.ci_low for a in accs],
                        [a.value if a.ci_high is None else a.ci_high for a in accs], alpha=0.2)
    ax.set_xlabel("training step")
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_title(f"{bench}: accuracy by training step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return fig


def _bars(Figure: type[Figure], report: Report, bench: str, key: str) -> Figure:
    per_run = report.breakdowns[bench][key]
    labels = [r.label for r in report.runs if r.label in per_run][:MAX_RUNS_DRAWN]
    values = list(dict.fromkeys(v for label in labels for v in per_run[label]))
    fig = Figure(figsize=(max(6.0, 0.6 * len(values) * max(1, len(labels)) / 3), 4))
    ax = fig.add_subplot()
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        table = per_run[label]
        xs = [j + (i - (len(labels) - 1) / 2) * width for j, v in enumerate(values) if v in table]
        ax.bar(xs, [table[v].accuracy for v in values if v in table], width=width, label=label)
    ax.set_xticks(range(len(values)), values, rotation=30 if len(values) > 6 else 0, ha="right"
                  if len(values) > 6 else "center", fontsize=8)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    shown = "" if len(per_run) <= MAX_RUNS_DRAWN else f" (first {MAX_RUNS_DRAWN} runs)"
    ax.set_title(f"{bench}: accuracy by {key}{shown}")
    ax.legend(fontsize=7, loc="best")
    return fig


def write_training_plots(runs: Sequence[TrainingRun], out_dir: Path, markdown_dir: Path | None = None) -> list[PlotRef]:
    """Training curves (one panel per logged metric, a line per run) and the time split of each run."""
    Figure = _figure_class()
    refs: list[PlotRef] = []
    save = _saver(out_dir, markdown_dir, refs)
    drawn = list(runs[:MAX_RUNS_DRAWN])
    shown = "" if len(runs) <= MAX_RUNS_DRAWN else f" (first {MAX_RUNS_DRAWN} runs)"
    keys = [k for k in CURVES if any(r.series(k)[0] for r in drawn)]
    if keys:
        cols = min(3, len(keys))
        rows = -(-len(keys) // cols)
        fig = Figure(figsize=(4.2 * cols, 3.0 * rows))
        for i, key in enumerate(keys):
            ax = fig.add_subplot(rows, cols, i + 1)
            for run in drawn:
                steps, values = run.series(key)
                if steps:
                    ax.plot(steps, values, marker="o" if len(steps) <= 30 else None, markersize=2.5, label=run.label)
            ax.set_title(CURVES[key], fontsize=10)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        handles, labels = fig.axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8,
                   bbox_to_anchor=(0.5, -0.02 - 0.02 * (len(labels) // 4)))
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        save(fig, "training-curves.png", f"training curves{shown}")
    totals = [[run.total(key) for key in TIME_KEYS] for run in drawn]
    if any(sum(t) for t in totals):
        fig = Figure(figsize=(7, 0.5 * len(drawn) + 1.5))
        ax = fig.add_subplot()
        left = [0.0] * len(drawn)
        for j, name in enumerate(TIME_KEYS.values()):
            widths = [t[j] for t in totals]
            ax.barh([r.label for r in drawn], widths, left=left, label=name)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_xlabel("seconds")
        ax.invert_yaxis()
        ax.legend(fontsize=7, loc="best")
        ax.set_title(f"training time by stage{shown}")
        save(fig, "training-time.png", f"training time by stage{shown}")
    return refs
