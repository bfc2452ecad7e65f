"""`evalkit report`: compare run directories in one markdown report (and a CSV, and plots).

Evaluation runs (`evalkit run`) become the results tables; training runs (`evalkit train`) become the
training section (reports/training.py). Either kind alone, or both in one report.

Registered by evalkit/cli.py; numpy, pandas and matplotlib are imported inside the command so
`evalkit --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from evalkit import options as o


def report(
    run_dirs: Annotated[list[str], typer.Argument(
        help="Run directories written by `evalkit run` (evaluations) or `evalkit train` (training curves), or "
             "globs such as 'runs/ckpt-*' (quote them to let evalkit expand them).", metavar="RUN_DIR...",
        show_default=False)],
    baseline: Annotated[str | None, typer.Option(
        "--baseline", "-B",
        help="Evaluation run directory to compare every other evaluation run against (paired test on shared "
             "problems). It is added to the report when it is not among RUN_DIRS.")] = None,
    output: o.ReportOutput = None,
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="Also write a tidy CSV: one row per run, benchmark, subset and metric with value, ci_low, "
                      "ci_high, n (and p_value for differences against the baseline); training runs add one "
                      "row per step and metric (subset 'train', the step in checkpoint_step).")] = None,
    plots: Annotated[Path | None, typer.Option(
        "--plots", help="Write PNG plots (pass@k curves, accuracy by training step, per-level bars, training "
                        "curves and time split) into this directory and link them from the markdown. Needs "
                        "matplotlib.")] = None,
) -> None:
    """Compare runs: accuracy with 95% CIs, pass@k, maj@k, paired tests against a baseline, breakdowns, and
    training curves (reward, accuracy, entropy, KL, clipping, lengths, time) of `evalkit train` runs."""
    from evalkit.errors import UsageError
    from reports.build import build_report
    from reports.load import expand_run_dirs, load_runs
    from reports.tables import csv_text, render_markdown, tidy_rows
    from reports.training import is_training_dir, load_training_runs, render_training_markdown, training_rows

    paths = expand_run_dirs(run_dirs)
    base_path = expand_run_dirs([baseline])[0] if baseline else None
    if base_path is not None and is_training_dir(base_path):
        raise UsageError(f"--baseline {baseline} is a training run; the baseline must be an `evalkit run` directory")
    if base_path is not None and base_path not in paths:
        paths.insert(0, base_path)
    train_paths = [p for p in paths if is_training_dir(p)]
    eval_paths = [p for p in paths if p not in train_paths]
    sections: list[str] = []
    rows: list[dict[str, object]] = []
    if eval_paths:
        runs = load_runs(eval_paths)
        base_run = next(r for r in runs if r.path == base_path) if base_path is not None else None
        built = build_report(runs, base_run)
        refs = []
        if plots is not None:
            from reports.plots import write_plots

            refs = write_plots(built, plots, output.parent if output else None)
        sections.append(render_markdown(built, refs))
        rows += tidy_rows(built)
    if train_paths:
        training = load_training_runs(train_paths)
        refs = []
        if plots is not None:
            from reports.plots import write_training_plots

            refs = write_training_plots(training, plots, output.parent if output else None)
        if not eval_paths:
            sections.append("# evalkit report\n")
        sections.append(render_training_markdown(training, refs) + "\n")
        rows += training_rows(training)
    markdown = "\n".join(sections)
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_text(csv_text(rows), encoding="utf-8")
    if output is None:
        sys.stdout.write(markdown)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown, encoding="utf-8")
