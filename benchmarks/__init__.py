"""Benchmark loaders and the registry that names them.

`benchmarks.get("gsm8k")` returns a `Benchmark`; `benchmarks.names()` lists what is available.
Built-in benchmarks register with `@register`; third-party packages register through the
entry-point group `evalkit.benchmarks` (the entry point names a Benchmark subclass).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from benchmarks.base import Benchmark, DataError, DataSource, Problem, content_hash

__all__ = ["Benchmark", "DataError", "DataSource", "Problem", "content_hash", "get", "names", "register"]

_REGISTRY: dict[str, type[Benchmark]] = {}
_BUILTIN_MODULES = ("benchmarks.math_bench", "benchmarks.code")
_loaded = False


def register(cls: type[Benchmark]) -> type[Benchmark]:
    """Class decorator: make a Benchmark subclass available under its `name`."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"benchmark {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        try:
            import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    for ep in entry_points(group="evalkit.benchmarks"):
        cls = ep.load()
        _REGISTRY.setdefault(ep.name, cls)


def names() -> list[str]:
    """Names of every registered benchmark, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def get(name: str) -> Benchmark:
    """A fresh instance of the benchmark called `name`; KeyError lists the known names."""
    _load_all()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(names())}") from None
