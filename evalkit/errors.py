"""Errors the CLI turns into one line on stderr and exit code 2."""

from __future__ import annotations


class UsageError(ValueError):
    """Bad input from the user (flags, paths, data); the message says what is wrong and how to fix it."""
