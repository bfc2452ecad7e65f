"""The slim RL trainer: PPO, GRPO, DAPO, Dr.GRPO, GSPO, MPO and TEPO on evalkit's graders as rewards.

Modules, in data-flow order: `tasks` (prompts, gold answers, reference solutions), `rollout`
(sampling completions, scoring them), `advantages` (rewards -> group advantages, DAPO's filtering and
shaping), `ppo` (GAE and the value loss) with `critic` (the value model), `mtp` (MPO's multi-token
prediction modules), `losses` (the seven objectives as pure tensor functions), `trainer` (the loop),
`config` and `command` (`evalkit train`), `experiment` (the CPU-scale comparison). Importing this
package imports nothing heavy.
"""
