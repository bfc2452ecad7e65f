"""`evalkit report`: compare run directories in one markdown report (and a CSV, and plots).

Registered by evalkit/cli.py; numpy, pandas and matplotlib are imported inside the command so
`evalkit --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def report(
    run_dirs: Annotated[list[str], typer.Argument(
        help="Run directories written by `evalkit run`, or globs such as 'runs/ckpt-*' (quote them to let "
             "evalkit expand them).", metavar="RUN_DIR...", show_default=False)],
    baseline: Annotated[str | None, typer.Option(
        "--baseline", "-B",
        help="Run directory to compare every other run against (paired test on shared problems). It is "
             "added to the report when it is not among RUN_DIRS.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the markdown here instead of printing it to stdout.")] = None,
    csv: Annotated[Path | None, typer.Option(
        "--csv", help="Also write a tidy CSV: one row per run, benchmark, subset and metric with value, ci_low, "
                      "ci_high, n (and p_value for differences against the baseline).")] = None,
    plots: Annotated[Path | None, typer.Option(
        "--plots", help="Write PNG plots (pass@k curves, accuracy by training step, per-level bars) into this "
                        "directory and link them from the markdown. Needs matplotlib.")] = None,
) -> None:
    """Compare runs: accuracy with 95% CIs, pass@k, maj@k, paired tests against a baseline, breakdowns."""
    from reports.build import build_report
    from reports.load import expand_run_dirs, load_runs
    from reports.tables import render_csv, render_markdown

    paths = expand_run_dirs(run_dirs)
    base_path = expand_run_dirs([baseline])[0] if baseline else None
    if base_path is not None and base_path not in paths:
        paths.insert(0, base_path)
    runs = load_runs(paths)
    base_run = next(r for r in runs if r.path == base_path) if base_path is not None else None
    built = build_report(runs, base_run)
    refs = []
    if plots is not None:
        from reports.plots import write_plots

        refs = write_plots(built, plots, output.parent if output else None)
    markdown = render_markdown(built, refs)
    if csv is not None:
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_text(render_csv(built), encoding="utf-8")
    if output is None:
        sys.stdout.write(markdown)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(markdown, encoding="utf-8")
