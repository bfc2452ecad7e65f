"""What `evalkit run --ray` was asked for, beyond the settings of one run (`evalkit.runner.RunSettings`)."""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.errors import UsageError

#: `--ray` without a value: RAY_ADDRESS when it is set, else a local cluster started for this command.
AUTO = "auto"
#: `--ray local`: always a fresh local cluster on this machine, even when RAY_ADDRESS is set.
LOCAL = "local"


@dataclass(frozen=True)
class RaySettings:
    """`address`: "auto", "local" or HOST:PORT of a running cluster (`ray start --head` prints it)."""

    address: str = AUTO
    replicas: int = 1  # engine actors per checkpoint
    chunk_size: int | None = None  # requests per chunk; None: about 8 chunks per replica, at most 64 requests
    start_timeout_s: float = 900.0  # reserving resources and starting one replica (a large vLLM model loads slowly)
    code_actors: int | None = None  # code-grading actors; None: one per alive node

    def validate(self) -> None:
        if self.replicas < 1:
            raise UsageError(f"--replicas must be at least 1 (got {self.replicas})")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise UsageError(f"--chunk-size must be at least 1 (got {self.chunk_size})")
        if not self.start_timeout_s > 0:
            raise UsageError(f"--ray-start-timeout must be > 0 seconds (got {self.start_timeout_s})")
        if self.code_actors is not None and self.code_actors < 1:
            raise UsageError(f"--code-actors must be at least 1 (got {self.code_actors})")
        if not self.address.strip():
            raise UsageError("--ray got an empty address; pass HOST:PORT, auto or local")
