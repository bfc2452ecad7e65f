"""The sandbox's own errors: infrastructure failures that must raise, never become a verdict.

The sandbox imports nothing from evalkit (rewards load alone in trainer workers), so it defines
its errors here; the CLI shows them as one line and exit code 2.
"""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox cannot run code here; the message says what is wrong and how to fix it."""


class IsolationUnavailable(SandboxError):
    """No isolation layer is available (bubblewrap missing or unable to create namespaces)."""


class WorkerError(SandboxError):
    """A sandbox worker could not be started."""
