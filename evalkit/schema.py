"""The run directory's file formats, written down once.

A run directory holds:

- `config.json`: a `RunConfig` (every setting, package versions, data and prompt hashes).
- `prompts.jsonl`: one `PromptRecord` per distinct prompt, so the exact text sent is recoverable.
- `problems.jsonl`: one `ProblemRecord` per evaluated problem (question, gold, breakdown labels), so a
  run directory can be read (`evalkit view`) without the benchmark files.
- `samples.jsonl`: one `SampleRecord` per graded sample, appended as samples finish.
- `metrics.json`: `{benchmark_name: BenchmarkMetrics-as-dict}`, rewritten at the end of a run.

Bump `SCHEMA_VERSION` when a field changes meaning or disappears; adding fields is compatible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 1

CONFIG_FILE = "config.json"
PROMPTS_FILE = "prompts.jsonl"
PROBLEMS_FILE = "problems.jsonl"
SAMPLES_FILE = "samples.jsonl"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class SamplingConfig:
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int = 0


@dataclass(frozen=True)
class PromptConfig:
    chat: bool = True
    system_prompt: str | None = None
    num_fewshot: int = 0


@dataclass(frozen=True)
class ModelConfig:
    spec: str  # what the user passed to --model
    path: str  # the resolved local path or hub id
    engine: str  # hf | llamacpp | vllm | openai
    name: str  # a display name
    checkpoint_step: int | None = None  # parsed from ".../step-N" when present
    engine_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataInfo:
    source: str  # "local:<path>" or "hub:<dataset id>"
    content_hash: str
    n_problems: int  # after --limit
    n_problems_total: int
    prompts_hash: str = ""  # hash of the rendered prompts of the evaluated problems


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig
    benchmarks: list[str]
    sampling: SamplingConfig
    prompt: PromptConfig
    limit: int | None
    data: dict[str, DataInfo]
    graders: dict[str, str]
    versions: dict[str, str]
    created: str
    schema_version: int = SCHEMA_VERSION

    def identity(self) -> dict[str, Any]:
        """The settings that decide what a sample is; a used run directory must match them."""
        return {
            "model": {"path": self.model.path, "engine": self.model.engine},
            "benchmarks": sorted(self.benchmarks),
            "sampling": asdict(self.sampling),
            "prompt": asdict(self.prompt),
            "data": {k: v.content_hash for k, v in sorted(self.data.items())},
            "graders": dict(sorted(self.graders.items())),
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return cls(
            model=ModelConfig(**d["model"]),
            benchmarks=list(d["benchmarks"]),
            sampling=SamplingConfig(**d["sampling"]),
            prompt=PromptConfig(**d["prompt"]),
            limit=d.get("limit"),
            data={k: DataInfo(**v) for k, v in d["data"].items()},
            graders=dict(d["graders"]),
            versions=dict(d["versions"]),
            created=d["created"],
            schema_version=d.get("schema_version", SCHEMA_VERSION),
        )


@dataclass(frozen=True)
class PromptRecord:
    prompt_hash: str
    benchmark: str
    problem_id: str
    prompt: str  # the exact rendered text, or JSON chat messages for a chat API


@dataclass(frozen=True)
class ProblemRecord:
    """A problem as it was evaluated: `labels` are its breakdown metadata (MATH: level, subject)."""

    benchmark: str
    problem_id: str
    question: str
    gold: str
    labels: dict[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class SampleRecord:
    benchmark: str
    problem_id: str
    sample_index: int
    prompt_hash: str
    completion: str
    extracted: str | None
    correct: bool
    reason: str
    finish_reason: str  # "stop" | "length"
    tokens: int
    subscores: dict[str, bool] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SampleRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
