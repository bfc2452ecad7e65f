"""evalkit: evaluate and train LLM reasoning checkpoints on math and code.

The data flow is the package layout: benchmarks -> evalkit.prompts -> evalkit.engines -> samples
(evalkit.store) -> graders -> evalkit.metrics -> reports.
"""

__version__ = "0.1.0"
