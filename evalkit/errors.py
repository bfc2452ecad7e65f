"""Errors a user can act on, and how the command line shows them.

Every user-facing error class of evalkit carries its exit code, as click's exceptions do: an
integer class attribute `exit_code` (2 for bad input). The classes are `EvalkitError` and its
subclasses here and in the core (`UsageError`, `EngineError`, `ModelSpecError`), and, in packages
that must not import the core, `benchmarks.DataError`, `graders.errors.GraderUnavailable` and
`graders.registry.RegistryError`. The command line prints any such error as one plain line on
stderr (`error: ...`, never through markup, so `pip install 'evalkit[vllm]'` is shown as written)
and exits with its code; no error is translated into another class on the way.
"""

from __future__ import annotations

import re

#: The packages of the evalkit distribution; only their error classes are user errors.
PACKAGES = ("evalkit", "benchmarks", "graders", "sandbox", "reports")


class EvalkitError(Exception):
    """Base of the core's user-facing errors; the message says what is wrong and how to fix it."""

    exit_code = 2


class UsageError(EvalkitError, ValueError):
    """Bad input from the user (flags, paths, data); the message says what is wrong and how to fix it."""


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code a user-facing error of evalkit carries, or None for any other exception."""
    code = getattr(type(exc), "exit_code", None)
    package = type(exc).__module__.partition(".")[0]
    if package not in PACKAGES or not isinstance(code, int) or isinstance(code, bool):
        return None
    return code


def one_line(exc: BaseException) -> str:
    """The error as the single line the command line prints."""
    return "error: " + re.sub(r"\s*\n\s*", " ", str(exc).strip())
