"""`Registry[T]`: named extension points (benchmarks, engines, graders, losses), one shape for all.

A registry maps names to objects, or to lazy targets that are imported on first use: a string
`"package.module:Object"`, an entry point of the registry's group, or a `LazyTarget` (a function, e.g.
the one that reads a benchmark file), so that listing names imports
nothing heavy and a third-party package plugs in with one line in its `pyproject.toml`:

    [project.entry-points."evalkit.benchmarks"]
    my_bench = "my_package.bench:MyBenchmark"

An unknown name raises `UnknownName` with a suggestion for a misspelt one; a target that cannot
be imported raises `TargetError` naming it. Both carry `exit_code = 2`, as every user-facing error
of evalkit does, so the command line prints them as one line.

Why this module is in `graders/`: graders (and the sandbox) must never import the core, because
reward functions load alone inside TRL / verl / Ray workers; the grader registry therefore cannot
live on a class in `evalkit/`. `graders` is also the lowest package that every other package with
a registry already imports (benchmarks hold their grader, the core grades, the trainer rewards),
so placing the one generic class here adds no dependency between packages. It imports only the
standard library.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")
Target = Any  # the object itself, a "module:Object" string, an EntryPoint, or a LazyTarget


class RegistryError(Exception):
    """Base of the registry's errors; the message is one line a user can act on."""

    exit_code = 2


class UnknownName(RegistryError, KeyError):
    """No object is registered under the name (a KeyError, so `except KeyError` still works)."""

    def __str__(self) -> str:  # KeyError would repr-quote the message
        return str(self.args[0]) if self.args else ""


class TargetError(RegistryError, ImportError):
    """A lazy target ("module:Object" or an entry point) could not be loaded."""


@dataclass(frozen=True)
class LazyTarget:
    """A target built by a function on first use, e.g. a benchmark class read from a file.

    `label` names it in messages ("file benchmarks/defs/amc23.toml"). Equal targets (the same
    function and label) may be registered twice under one name.
    """

    build: Callable[[], Any]
    label: str


def load_target(target: str | EntryPoint | LazyTarget) -> Any:
    """Import a `"package.module:Object"` string (dots after the colon walk attributes) or an entry point,
    or build a `LazyTarget`."""
    if isinstance(target, LazyTarget):
        return target.build()
    if isinstance(target, EntryPoint):
        return target.load()
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"lazy target {target!r} must look like 'package.module:Object'")
    obj: Any = import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Names -> objects of one kind, with lazy targets and an optional entry-point group.

    `kind` names the objects in messages ("benchmark", "engine"); `entry_point_group` is scanned
    once, on the first lookup, and never overrides a name registered in code; `base` (a class),
    when given, is checked on every object loaded from a lazy target. `unknown` is the error class
    raised for an unknown name (a package may pass its own user-error class; it is built from the
    message alone).
    """

    def __init__(self, kind: str, *, entry_point_group: str | None = None, base: type | None = None,
                 unknown: type[Exception] = UnknownName) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self.base = base
        self.unknown = unknown
        self._targets: dict[str, Target] = {}
        self._scanned = entry_point_group is None
        self._lock = threading.RLock()

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, target: T | str | EntryPoint) -> None: ...

    def register(self, name: str, target: Any = None) -> Any:
        """`registry.register(name, obj_or_"module:Object")`, or `@registry.register(name)` as a decorator.

        Registering a second, different object under a taken name is an error; registering the
        object a lazy string names (its own module and qualified name) replaces the string.
        """
        if target is None:
            def decorate(obj: T) -> T:
                self.register(name, obj)
                return obj

            return decorate
        with self._lock:
            current = self._targets.get(name)
            if current is not None and current is not target and current != target \
                    and not _names_object(current, target):
                raise ValueError(f"{self.kind} {name!r} is registered twice ({_describe(current)} and "
                                 f"{_describe(target)})")
            self._targets[name] = target
        return None

    def _scan_entry_points(self) -> None:
        if self._scanned or self.entry_point_group is None:
            return
        with self._lock:
            if self._scanned:
                return
            for ep in entry_points(group=self.entry_point_group):
                self._targets.setdefault(ep.name, ep)
            self._scanned = True

    def names(self) -> list[str]:
        """Every registered name, sorted (entry points included, nothing imported)."""
        self._scan_entry_points()
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        self._scan_entry_points()
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def get(self, name: str) -> T:
        """The object registered as `name`, importing its lazy target on first use."""
        self._scan_entry_points()
        try:
            target = self._targets[name]
        except KeyError:
            raise self.unknown(self.unknown_message(name)) from None
        if not isinstance(target, (str, EntryPoint, LazyTarget)):
            return target
        with self._lock:
            target = self._targets[name]
            if isinstance(target, (str, EntryPoint, LazyTarget)):
                try:
                    obj = load_target(target)
                except Exception as exc:  # an import error, a missing attribute, a bad target string
                    if getattr(exc, "exit_code", None) is not None:
                        raise  # already a user error with its own one line (a bad benchmark file, say)
                    detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                    raise TargetError(f"cannot load {self.kind} {name!r} from {_describe(target)} ({detail})") \
                        from exc
                if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
                    raise TargetError(f"{self.kind} {name!r} ({_describe(target)}) is not a subclass of "
                                      f"{self.base.__module__}.{self.base.__qualname__}")
                self._targets[name] = obj
                target = obj
        return target

    def unknown_message(self, name: str) -> str:
        """`unknown engine 'hff'; did you mean 'hf'? known: hf, llamacpp, ...`."""
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        return f"unknown {self.kind} {name!r}{hint} known: {', '.join(known) or 'none'}"


def _names_object(target: Any, obj: Any) -> bool:
    """Whether a lazy string is the import path of `obj` (so the decorator may upgrade it)."""
    return isinstance(target, str) and f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}" == target


def _describe(target: Any) -> str:
    if isinstance(target, LazyTarget):
        return target.label
    if isinstance(target, EntryPoint):
        return f"entry point {target.value!r} of {target.group}"
    if isinstance(target, str):
        return repr(target)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
