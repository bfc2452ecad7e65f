"""The slim RL trainer: GRPO, DAPO, Dr.GRPO, GSPO, MPO and TEPO on evalkit's graders as rewards.

Modules, in data-flow order: `tasks` (prompts and gold answers), `rollout` (sampling completions),
`advantages` (rewards -> per-sequence advantages, DAPO's filtering and shaping), `losses` (the six
objectives as pure tensor functions), `trainer` (the loop), `config` and `command` (`evalkit train`),
`experiment` (the CPU-scale comparison). Importing this package imports nothing heavy.
"""
