"""The sandbox's own errors: infrastructure failures that must raise, never become a verdict.

The sandbox imports nothing from evalkit (rewards load alone in trainer workers), so it defines
its errors here. Like every user-facing error of evalkit they carry their exit code (`exit_code`,
see `evalkit.errors`): the command line shows them as one line and exits with 2.
"""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox cannot run code here; the message says what is wrong and how to fix it."""

    exit_code = 2


class IsolationUnavailable(SandboxError):
    """No isolation layer is available (bubblewrap missing or unable to create namespaces)."""


class WorkerError(SandboxError):
    """A sandbox worker could not be started."""
