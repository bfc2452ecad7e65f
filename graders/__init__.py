"""Graders: answer extraction, equivalence and verdicts, shared by evaluation and RL rewards.

- `graders.math`, `graders.gsm8k`: `grade`, `grade_batch`, `extract_answer`, `is_equiv` (the API
  benchmarks and rewards call); `graders.rewards`: reward functions for evalkit's trainer, TRL, verl
  and OpenRLHF (defined in `graders.reward_functions`).
- `graders.extract` (where the answer is), `graders.latex` (what it says, as a `graders.nodes`
  tree), `graders.compare` (whether two trees agree), `graders.policy` (the judgement calls),
  `graders.evaluate` (values within size guards), `graders.sets` (solution sets),
  `graders.restatement` (answers that copy the question), `graders.units` (a unit after a number),
  `graders.symbolic` and `graders.deadline` (the slow path, in killable worker processes).
- `graders.code`: code verdicts (HumanEval / MBPP); `graders.code_cases`: verl / PRIME-style test cases
  (stdin programs, call-based functions) run in the sandbox.
- `graders.errors.GraderUnavailable`: the grader cannot grade at all (never a verdict).
- `graders.protocol`: the grader protocol (`grade_batch(completions, references)`, `same_answer`,
  `version`) and the `GRADERS` registry; `graders.answer_graders` and `graders.code_grader` are the
  built-in grader objects over the functions above; `graders.registry` is the generic `Registry`
  that every extension point of evalkit uses.
Nothing here imports the core (`evalkit`): rewards load alone in trainer workers.
"""

from graders.errors import GraderUnavailable
from graders.verdict import Verdict

__all__ = ["GraderUnavailable", "Verdict"]
