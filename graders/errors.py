"""Errors of the graders' own machinery, as opposed to verdicts on a sample.

An answer that times out or crashes the slow-path worker is a verdict on that answer. A worker
that cannot start, a library the slow path needs that is missing, or a bad setting is not: grading
anything would silently turn correct answers into wrong ones (in RL training, zero rewards
without a word), so these raise `GraderUnavailable` with one line saying what is wrong and how to
fix it. The CLI prints it and exits with code 2.
"""

from __future__ import annotations


class GraderUnavailable(RuntimeError):
    """The grader cannot grade at all (its worker cannot start, a bad setting): never a verdict."""

    exit_code = 2  # a user error of evalkit (evalkit/errors.py): printed as one line
