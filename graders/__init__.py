"""Graders: answer extraction, equivalence and verdicts, shared by evaluation and RL rewards."""

from graders.verdict import Verdict

__all__ = ["Verdict"]
