"""Command-line arguments -> the run directories the viewer may read, each with a stable id.

An argument is a run directory (of `evalkit run` or `evalkit train`), a glob, or a directory that holds
runs at any depth up to `MAX_DEPTH` (the default `runs/`). The id of a run is what page URLs carry: the
path below the directory it was found in (`ckpt/step-100`), or the run directory's own name when it was
named directly. So a link reopens the same view for a colleague who has the same run directories.
Ids are looked up in a table built here; no path from a request is ever joined to the filesystem.
"""

from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evalkit.errors import UsageError
from evalkit.schema import CONFIG_FILE, TRAIN_CONFIG_FILE

MAX_DEPTH = 4
#: keys every `evalkit run` config.json has (a Hugging Face checkpoint's config.json has none of them)
_RUN_CONFIG_KEYS = {"model", "benchmarks", "sampling"}


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> list[tuple[int, int | str]]:
    """step-200 before step-1000, HumanEval/9 before HumanEval/10: digit runs compare as numbers."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(text) if part]


@dataclass(frozen=True)
class RunEntry:
    """A run directory the viewer serves: `id` names it in URLs, `path` is resolved."""

    id: str
    path: Path
    kind: Literal["eval", "train"]


def run_kind(path: Path) -> Literal["eval", "train"] | None:
    """"eval" for an `evalkit run` directory, "train" for an `evalkit train` one, else None."""
    if (path / TRAIN_CONFIG_FILE).is_file():
        return "train"
    config = path / CONFIG_FILE
    if not config.is_file():
        return None
    try:
        with config.open("rb") as f:
            head = json.loads(f.read(1 << 20))
    except (OSError, ValueError):
        return "eval" if (path / "samples.jsonl").is_file() else None
    return "eval" if isinstance(head, dict) and head.keys() >= _RUN_CONFIG_KEYS else None


def _runs_below(root: Path) -> list[tuple[str, Path]]:
    """(relative id, path) of the run directories below `root`, not descending into runs or hidden folders."""
    found: list[tuple[str, Path]] = []
    root_depth = len(root.parts)
    for current, dirs, _ in os.walk(root, followlinks=False):
        here = Path(current)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        if here != root and run_kind(here) is not None:
            found.append((here.relative_to(root).as_posix(), here))
            dirs[:] = []
        elif len(here.parts) - root_depth >= MAX_DEPTH:
            dirs[:] = []
    return sorted(found, key=lambda item: natural_key(item[0]))


def discover(arguments: list[str]) -> list[RunEntry]:
    """The runs named by `arguments` (default `runs`), in the order given, each once, with unique ids."""
    patterns = arguments or ["runs"]
    named: list[tuple[str, Path]] = []
    for pattern in patterns:
        if glob.has_magic(pattern):
            matches = sorted((Path(p) for p in glob.glob(os.path.expanduser(pattern))),
                             key=lambda m: natural_key(str(m)))
            hits = [(m.name, m) for m in matches if m.is_dir() and run_kind(m)]
            hits += [item for m in matches if m.is_dir() and not run_kind(m) for item in _runs_below(m)]
            if not hits:
                raise UsageError(f"{pattern!r} matched no run directory (none with an evalkit {CONFIG_FILE} or "
                                 f"{TRAIN_CONFIG_FILE}); check the glob")
            named += hits
            continue
        path = Path(os.path.expanduser(pattern))
        if not path.exists():
            hint = " (the default; pass run directories instead)" if not arguments else ""
            raise UsageError(f"{pattern}: no such directory{hint}; pass directories written by `evalkit run` or "
                             "`evalkit train`, or a folder that holds them")
        if not path.is_dir():
            raise UsageError(f"{pattern} is a file; pass the run directory that holds it")
        if run_kind(path):
            named.append((path.resolve().name, path))
            continue
        below = _runs_below(path)
        if not below:
            raise UsageError(f"{pattern} holds no run (no evalkit {CONFIG_FILE} or {TRAIN_CONFIG_FILE} within "
                             f"{MAX_DEPTH} levels); pass directories written by `evalkit run` or `evalkit train`")
        named += below
    entries: list[RunEntry] = []
    seen_paths: set[Path] = set()
    used: set[str] = set()
    for run_id, path in named:
        resolved = path.resolve()
        if resolved in seen_paths:
            continue
        seen_paths.add(resolved)
        unique, n = run_id, 1
        while unique in used:
            n += 1
            unique = f"{run_id}~{n}"
        used.add(unique)
        kind = run_kind(resolved)
        assert kind is not None
        entries.append(RunEntry(unique, resolved, kind))
    return entries
