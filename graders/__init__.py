"""Graders: answer extraction, equivalence and verdicts, shared by evaluation and RL rewards.

- `graders.math`, `graders.gsm8k`: `grade`, `grade_batch`, `extract_answer`, `is_equiv` (the API
  benchmarks and rewards call); `graders.rewards`: reward functions and TRL / verl adapters.
- `graders.extract` (where the answer is), `graders.latex` (what it says, as a `graders.nodes`
  tree), `graders.compare` (whether two trees agree), `graders.policy` (the judgement calls),
  `graders.symbolic` and `graders.deadline` (the slow path, in killable worker processes).
- `graders.code`: code verdicts (HumanEval / MBPP).
"""

from graders.verdict import Verdict

__all__ = ["Verdict"]
