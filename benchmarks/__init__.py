"""Benchmark loaders and the registry that names them.

`benchmarks.get("gsm8k")` returns a fresh `Benchmark`; `benchmarks.names()` lists what is available.
The built-in benchmarks are lazy targets in `BENCHMARKS` below (one line each; nothing is imported
until a benchmark is used). Third-party packages add theirs through the entry-point group
`evalkit.benchmarks` (the entry point names a Benchmark subclass); code may also call
`benchmarks.register(cls)` or `BENCHMARKS.register("name", "package.module:Class")`.
"""

from __future__ import annotations

from typing import Any

from benchmarks.base import Benchmark, DataError, DataSource, Problem, content_hash
from graders.registry import Registry

__all__ = ["BENCHMARKS", "Benchmark", "DataError", "DataSource", "Problem", "content_hash", "get", "names",
           "register"]

BENCHMARKS: Registry[type[Benchmark]] = Registry("benchmark", entry_point_group="evalkit.benchmarks", base=Benchmark)
BENCHMARKS.register("gsm8k", "benchmarks.math_bench:GSM8K")
BENCHMARKS.register("math", "benchmarks.math_bench:MATH")
BENCHMARKS.register("math500", "benchmarks.math_bench:MATH500")
BENCHMARKS.register("humaneval", "benchmarks.code:HumanEval")
BENCHMARKS.register("humanevalplus", "benchmarks.code:HumanEvalPlus")
BENCHMARKS.register("mbpp", "benchmarks.code:MBPP")
BENCHMARKS.register("mbpp_sanitized", "benchmarks.code:MBPPSanitized")
BENCHMARKS.register("mbppplus", "benchmarks.code:MBPPPlus")


def register(cls: type[Benchmark]) -> type[Benchmark]:
    """Class decorator: make a Benchmark subclass available under its `name`."""
    BENCHMARKS.register(cls.name, cls)
    return cls


def names() -> list[str]:
    """Names of every registered benchmark, sorted."""
    return BENCHMARKS.names()


def get(name: str, **options: Any) -> Benchmark:
    """A fresh instance of the benchmark called `name` (`options` go to its constructor).

    Unknown names raise `graders.registry.UnknownName` (a KeyError) with a suggestion.
    """
    return BENCHMARKS.get(name)(**options)
