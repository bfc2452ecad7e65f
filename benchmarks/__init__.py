"""Benchmark loaders, the registry that names them, groups, and benchmarks from files.

`benchmarks.get("gsm8k")` returns a fresh `Benchmark`; `benchmarks.names()` lists what is available.
The built-in benchmarks are lazy targets in `BENCHMARKS` below (one line each; nothing is imported
until a benchmark is used), some of them written as benchmark files (`benchmarks/defs/*.toml`, see
`benchmarks.from_file`). Third-party packages add theirs through the entry-point group
`evalkit.benchmarks` (the entry point names a Benchmark subclass); code may also call
`benchmarks.register(cls)` or `BENCHMARKS.register("name", "package.module:Class")`.

`resolve(specs)` turns what `--benchmarks` says into benchmark names: a name, a group (`GROUPS`,
e.g. `reasoning`), or the path of a benchmark file (`*.toml`). Every `*.toml` in the directory named
by `EVALKIT_BENCHMARKS` is a benchmark named after its file.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.base import Benchmark, DataError, DataSource, Problem, content_hash
from graders.registry import LazyTarget, Registry

__all__ = ["BENCHMARKS", "GROUPS", "Benchmark", "DataError", "DataSource", "Problem", "content_hash", "get",
           "names", "register", "resolve", "file_of"]

BENCHMARKS: Registry[type[Benchmark]] = Registry("benchmark", entry_point_group="evalkit.benchmarks", base=Benchmark)
BENCHMARKS.register("gsm8k", "benchmarks.math_bench:GSM8K")
BENCHMARKS.register("math", "benchmarks.math_bench:MATH")
BENCHMARKS.register("math500", "benchmarks.math_bench:MATH500")
BENCHMARKS.register("aime24", "benchmarks.competition:AIME24")
BENCHMARKS.register("aime25", "benchmarks.competition:AIME25")
BENCHMARKS.register("olympiadbench", "benchmarks.competition:OlympiadBench")
BENCHMARKS.register("minerva_math", "benchmarks.competition:MinervaMath")
BENCHMARKS.register("humaneval", "benchmarks.code:HumanEval")
BENCHMARKS.register("humanevalplus", "benchmarks.code:HumanEvalPlus")
BENCHMARKS.register("mbpp", "benchmarks.code:MBPP")
BENCHMARKS.register("mbpp_sanitized", "benchmarks.code:MBPPSanitized")
BENCHMARKS.register("mbppplus", "benchmarks.code:MBPPPlus")

#: Names that stand for several benchmarks in `--benchmarks` (`evalkit list` shows them).
GROUPS: dict[str, tuple[str, ...]] = {
    "reasoning": ("aime24", "aime25", "amc23", "math500", "olympiadbench", "minerva_math"),
}

PACKAGED_DIR = Path(__file__).resolve().parent / "defs"
ENV_DIR = "EVALKIT_BENCHMARKS"
#: benchmark name -> the file it was read from, for every benchmark that comes from a file.
_FILES: dict[str, Path] = {}


def _build(path: Path, expected_name: str | None) -> type[Benchmark]:
    from benchmarks.from_file import load_benchmark_file

    return load_benchmark_file(path, expected_name=expected_name)


def _register_file(name: str, path: Path, *, expected_name: str | None, origin: str) -> None:
    path = path.resolve()
    known = _FILES.get(name)
    if known == path:
        return
    if name in BENCHMARKS:
        where = f"from {known}" if known else "built-in or installed"
        raise DataError(f"{origin} {path} defines benchmark {name!r}, which already exists ({where}); rename it")
    BENCHMARKS.register(name, LazyTarget(functools.partial(_build, path, expected_name), f"file {path}"))
    _FILES[name] = path


def _register_directory(directory: Path, origin: str) -> None:
    for path in sorted(directory.glob("*.toml")):
        _register_file(path.stem, path, expected_name=path.stem, origin=origin)


for _path in sorted(PACKAGED_DIR.glob("*.toml")):  # built-ins: registered like the lines above, read on first use
    BENCHMARKS.register(_path.stem, LazyTarget(functools.partial(_build, _path, _path.stem), f"file {_path}"))
    _FILES[_path.stem] = _path


def _scan_environment() -> None:
    """Register the benchmark files of `EVALKIT_BENCHMARKS` (read on every lookup, so it may change)."""
    value = os.environ.get(ENV_DIR)
    if not value:
        return
    for part in value.split(os.pathsep):
        if not part:
            continue
        directory = Path(part).expanduser()
        if not directory.is_dir():
            raise DataError(f"{ENV_DIR}={part} is not a directory of benchmark files (*.toml)")
        _register_directory(directory, f"{ENV_DIR} file")


def register(cls: type[Benchmark]) -> type[Benchmark]:
    """Class decorator: make a Benchmark subclass available under its `name`."""
    BENCHMARKS.register(cls.name, cls)
    return cls


def names() -> list[str]:
    """Names of every registered benchmark (files of EVALKIT_BENCHMARKS included), sorted."""
    _scan_environment()
    return BENCHMARKS.names()


def known(name: str) -> bool:
    """Whether `name` is a benchmark (files of EVALKIT_BENCHMARKS included)."""
    _scan_environment()
    return name in BENCHMARKS


def file_of(name: str) -> Path | None:
    """The benchmark file `name` was read from, or None for a benchmark written in Python."""
    return _FILES.get(name)


def get(name: str, **options: Any) -> Benchmark:
    """A fresh instance of the benchmark called `name` (`options` go to its constructor).

    Unknown names raise `graders.registry.UnknownName` (a KeyError) with a suggestion.
    """
    _scan_environment()
    return BENCHMARKS.get(name)(**options)


def is_file_spec(spec: str) -> bool:
    return spec.lower().endswith(".toml")


def load_file(path: str | Path) -> str:
    """Register the benchmark file at `path` (if not yet) and return its benchmark's name."""
    from benchmarks.from_file import read_spec

    spec = read_spec(Path(path))
    if _FILES.get(spec.name) != spec.path:
        _register_file(spec.name, spec.path, expected_name=None, origin="benchmark file")
    return spec.name


def resolve(specs: Sequence[str]) -> list[str]:
    """Benchmark names for `--benchmarks` specs: names, groups (expanded in order) and `*.toml` files.

    Duplicates that a group brings in are dropped; an unknown name raises `UnknownName` with a suggestion.
    """
    _scan_environment()
    out: list[str] = []
    for spec in specs:
        if is_file_spec(spec):
            found = [load_file(spec)]
        elif spec in GROUPS:
            found = list(GROUPS[spec])
        elif spec in BENCHMARKS:
            found = [spec]
        else:
            close = difflib.get_close_matches(spec, [*BENCHMARKS.names(), *GROUPS], n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            raise BENCHMARKS.unknown(f"unknown benchmark {spec!r}{hint} known: {', '.join(BENCHMARKS.names())}; "
                                     f"groups: {', '.join(sorted(GROUPS))}")
        out += [name for name in found if name not in out]
    return out
