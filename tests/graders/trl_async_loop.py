"""A rollout loop for TRL's AsyncRolloutWorker that scores one group instead of talking to vLLM.

`trl.experimental.async_grpo.AsyncRolloutWorker.start()` pickles its loop arguments (the reward
functions among them: its pickling check) and spawns a child process that builds `_loop_cls(**kwargs)`
and runs it. This subclass keeps TRL's constructor and its `_score_group` (which calls each reward as
`reward(**kwargs)` when async, `asyncio.to_thread(reward, **kwargs)` otherwise) and replaces only the
vLLM generation: `run()` scores one fixed group and puts TRL's `RolloutSample`s on the shared queue.
It must live in an importable module: the spawned child unpickles it by reference.
"""

from __future__ import annotations

from typing import Any

from trl.experimental.async_grpo.async_rollout_worker import RolloutGroup, TrainingSequence, _AsyncRolloutLoop

PROMPTS = ["What is $1/2 + 1/4$?", "What is $1/2 + 1/4$?", "What is $1/2 + 1/4$?"]
COMPLETIONS = ["so \\boxed{\\frac{3}{4}}", "so \\boxed{0.75}", "so \\boxed{3/8}"]
GOLD = "\\frac34"


class ScoreOneGroup(_AsyncRolloutLoop):
    def __init__(self, *, processing_class: Any, **kwargs: Any) -> None:
        processing_class.response_template = "{content}"  # no tool parsing needed: skip TRL's template lookup
        super().__init__(processing_class=processing_class, **kwargs)

    def run(self) -> None:
        sequences = [[TrainingSequence(input_ids=[1, 2, 3], completion_mask=[0, 1, 1], old_log_probs=[0.0, -1.0, -1.0],
                                       rollout_id=f"r{i}")] for i in range(len(COMPLETIONS))]
        group = RolloutGroup(prompts=PROMPTS, reward_kwargs={"answer": [GOLD] * len(PROMPTS)}, completions=COMPLETIONS,
                             completions_ids=[[2, 3]] * len(COMPLETIONS), completions_sequences=sequences,
                             tool_call_counts=[0] * len(COMPLETIONS), tool_failure_counts=[0] * len(COMPLETIONS),
                             model_version=0, group_id=0, env_rewards=[None] * len(COMPLETIONS),
                             rollout_rewards=[None] * len(COMPLETIONS))
        try:
            for sample in self._loop.run_until_complete(self._score_group(group)):
                self.rollout_buffer.put(sample)
        finally:
            self._tool_pool.shutdown(wait=True)
            self._loop.close()
