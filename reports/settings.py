"""Which settings runs share, which differ, and which differences make a comparison unfair.

Owns comparing the runs' flat settings (`Run.settings`: "sampling.temperature" -> "0.6") and the
comparability check: runs of one benchmark with a different data version, grader, prompt format or
problem set are still shown, but never silently compared; they are listed with the differing values.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from evalkit.options import run_arguments
from evalkit.schema import strip_checkpoint_step
from reports.load import Run

#: Per-benchmark settings that must match for two runs' numbers on that benchmark to be comparable.
COMPARABILITY_KEYS = {
    "data version": "data.{bench}.content_hash",
    "grader": "graders.{bench}",
    "chat template": "prompt.chat",
    "system prompt": "prompt.system_prompt",
    "few-shot examples": "prompt.num_fewshot",
}
#: Settings that identify the run rather than configure it; never table columns.
IDENTITY_KEYS = ("model.name", "model.spec", "model.path", "model.checkpoint_step", "created", "benchmarks")


@dataclass(frozen=True)
class Mismatch:
    """Runs of one benchmark that differ in a setting that decides the score."""

    benchmark: str
    what: str  # a COMPARABILITY_KEYS name, or "problems"
    values: dict[str, str]  # run label -> value


def is_per_benchmark(key: str) -> bool:
    return key.startswith(("data.", "graders."))


def common_and_differing(runs: list[Run]) -> tuple[dict[str, str], list[str]]:
    """Settings equal in every run (key -> value) and the keys of run-wide settings that differ.

    Per-benchmark settings are compared only among the runs that have the benchmark; their
    differences are reported by `mismatches`, not as table columns.
    """
    flat = [r.settings for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    common: dict[str, str] = {}
    differing: list[str] = []
    for key in keys:
        values = {f[key] for f in flat if key in f}
        present_everywhere = all(key in f for f in flat)
        if len(values) == 1 and (present_everywhere or is_per_benchmark(key)):
            common[key] = values.pop()
        elif not is_per_benchmark(key) and key not in IDENTITY_KEYS:
            differing.append(key)
    return common, differing


def mismatches(runs: list[Run], benchmark: str) -> list[Mismatch]:
    """The comparability settings (and problem sets) that differ among the runs of `benchmark`."""
    having = [r for r in runs if benchmark in r.counts]
    out = []
    for what, pattern in COMPARABILITY_KEYS.items():
        key = pattern.format(bench=benchmark)
        values = {r.label: r.settings.get(key, "—") for r in having}
        if len(set(values.values())) > 1:
            out.append(Mismatch(benchmark, what, values))
    problem_sets = {r.label: hash(r.counts[benchmark].problem_ids.tobytes()) for r in having}
    if len(set(problem_sets.values())) > 1:
        sizes = {r.label: f"{r.counts[benchmark].n_problems} problems" for r in having}
        out.append(Mismatch(benchmark, "problems", sizes))
    return out


def pair_caveats(run: Run, base: Run, benchmark: str) -> list[str]:
    """Names of the comparability settings in which `run` differs from `base` on `benchmark`."""
    a, b = run.settings, base.settings
    return [what for what, pattern in COMPARABILITY_KEYS.items()
            if a.get(pattern.format(bench=benchmark)) != b.get(pattern.format(bench=benchmark))]


def training_run_key(run: Run) -> str | None:
    """Runs that are checkpoints of one training run (same path but for step-N, same settings) share a key."""
    if run.checkpoint_step is None:
        return None
    base = strip_checkpoint_step(run.config.model.path)
    c = run.config
    return f"{base}|{c.sampling}|{c.prompt}"


def reproduce_command(run: Run) -> str:
    """The `evalkit run` command line that regenerates this run's settings (engine options included)."""
    return shlex.join(["evalkit", "run", *run_arguments(run.config, run.path)])
