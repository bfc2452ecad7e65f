"""The file formats of run directories (`evalkit run`) and training directories (`evalkit train`), written once.

A run directory holds:

- `config.json`: a `RunConfig` (every setting, package versions, data and prompt hashes).
- `prompts.jsonl`: one `PromptRecord` per distinct prompt, so the exact text sent is recoverable.
- `problems.jsonl`: one `ProblemRecord` per evaluated problem (question, gold, breakdown labels), so a
  run directory can be read (`evalkit view`) without the benchmark files.
- `samples.jsonl`: one `SampleRecord` per graded sample, appended as samples finish.
- `metrics.json`: `{benchmark_name: BenchmarkMetrics.to_dict()}`, rewritten at the end of a run.

A training directory holds `train_config.json` (the trainer's settings) and `metrics.jsonl`, one
`TrainingRecord` per line, besides its `step-N/` checkpoints.

Bump `SCHEMA_VERSION` when a field changes meaning or disappears; adding fields is compatible. A
reader refuses a run written with a newer schema (`check_schema_version`) instead of misreading it.
The JSON keys of metrics.json (`"pass@4"`, `"plus_pass@1"`, `"maj@8"`, `"breakdown"`) are the ones
evalkit has always written; `BenchmarkMetrics` is the only code that spells or parses them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from evalkit.errors import UsageError

SCHEMA_VERSION = 1

CONFIG_FILE = "config.json"
PROMPTS_FILE = "prompts.jsonl"
PROBLEMS_FILE = "problems.jsonl"
SAMPLES_FILE = "samples.jsonl"
METRICS_FILE = "metrics.json"
TRAIN_CONFIG_FILE = "train_config.json"
TRAIN_METRICS_FILE = "metrics.jsonl"


class NewerSchemaError(UsageError):
    """The file was written by a newer evalkit, whose format this one cannot promise to read."""


#: A checkpoint directory's step: `.../step-100`, `checkpoint_20`, `ckpt5` (as `evalkit train` saves them).
CHECKPOINT_STEP = re.compile(r"(?:^|[/_-])(?:step|checkpoint|ckpt)[-_]?(\d+)/?$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def checkpoint_step(path: str) -> int | None:
    """The training step a checkpoint path ends in, else None."""
    m = CHECKPOINT_STEP.search(path.rstrip("/"))
    return int(m.group(1)) if m else None


def strip_checkpoint_step(path: str) -> str:
    """The path without its `step-N` suffix (the training run a checkpoint belongs to)."""
    return CHECKPOINT_STEP.sub("", path.rstrip("/")) or path


def slug(text: str, fallback: str = "model") -> str:
    """`text` as a file or directory name: runs of other characters than letters, digits, `._-` become `_`."""
    return _UNSAFE_NAME.sub("_", text).strip("_") or fallback


def natural_key(text: str) -> list[tuple[int, int | str]]:
    """Sort key under which digit runs compare as numbers: step-200 before step-1000."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part]


def check_schema_version(version: Any) -> int:
    """The schema version of a file; NewerSchemaError (one line) when it is newer than this evalkit's."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise TypeError(f"schema_version must be an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise NewerSchemaError(f"written by a newer evalkit (schema version {version}; this evalkit reads "
                               f"{SCHEMA_VERSION} and older); upgrade evalkit: pip install -U evalkit")
    return version


@dataclass(frozen=True)
class SamplingParams:
    """How completions are drawn, for evaluation (`evalkit run`, recorded in config.json) and training rollouts.

    `n` samples per prompt (the group size G in training); temperature 0 is greedy decoding; sample j
    of a prompt uses seed `seed + j`; `stop` sequences end a completion (set per benchmark for plain
    prompts, so they are not part of a run's recorded settings).
    """

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int = 0
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The recorded settings (config.json `sampling`): everything but the per-benchmark stop sequences."""
        return {"n": self.n, "temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                "seed": self.seed}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SamplingParams:
        return cls(**{k: v for k, v in d.items() if k != "stop"})


#: The name config.json readers and older code use for the recorded sampling settings.
SamplingConfig = SamplingParams


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
    sampling: SamplingParams
    prompt: PromptConfig
    limit: int | None
    data: dict[str, DataInfo]
    graders: dict[str, str]
    versions: dict[str, str]
    created: str
    schema_version: int = SCHEMA_VERSION
    #: benchmark name -> the benchmark file (TOML) it was read from, for benchmarks written as files
    benchmark_files: dict[str, str] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """The settings that decide what a sample is; a used run directory must match them."""
        return {
            "model": {"path": self.model.path, "engine": self.model.engine},
            "benchmarks": sorted(self.benchmarks),
            "sampling": self.sampling.to_dict(),
            "prompt": asdict(self.prompt),
            "data": {k: v.content_hash for k, v in sorted(self.data.items())},
            "graders": dict(sorted(self.graders.items())),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sampling": self.sampling.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return cls(
            model=ModelConfig(**d["model"]),
            benchmarks=list(d["benchmarks"]),
            sampling=SamplingParams.from_dict(d["sampling"]),
            prompt=PromptConfig(**d["prompt"]),
            limit=d.get("limit"),
            data={k: DataInfo(**v) for k, v in d["data"].items()},
            graders=dict(d["graders"]),
            versions=dict(d["versions"]),
            created=d["created"],
            schema_version=check_schema_version(d.get("schema_version", SCHEMA_VERSION)),
            benchmark_files=dict(d.get("benchmark_files") or {}),
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
    trust: str = "strong"  # "weak": a code test ran inside the candidate's process (the pass could be forged)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SampleRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# ----------------------------------------------------------------------------- metrics.json

_PASS = re.compile(r"^pass@(\d+)$")
_MAJ = re.compile(r"^maj@(\d+)$")
_SUB_PASS = re.compile(r"^(.+)_pass@(\d+)$")
_SUB_ACCURACY = re.compile(r"^(.+)_accuracy$")


def _pass_keys(pass_at_k: Mapping[int, float], prefix: str = "") -> dict[str, float]:
    return {f"{prefix}pass@{k}": v for k, v in sorted(pass_at_k.items())}


@dataclass(frozen=True)
class SubscoreMetrics:
    """A named partial verdict (HumanEval+ `base`, `plus`): its accuracy and unbiased pass@k."""

    accuracy: float
    pass_at_k: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupMetrics:
    """One bucket of a breakdown (e.g. MATH level 5): problems in it, accuracy with its 95% interval over
    the bucket's problems (None in metrics written before intervals were recorded), and pass@k."""

    n_problems: int
    accuracy: float
    pass_at_k: dict[int, float] = field(default_factory=dict)
    accuracy_ci95: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        ci = {"accuracy_ci95": list(self.accuracy_ci95)} if self.accuracy_ci95 is not None else {}
        return {"n_problems": self.n_problems, "accuracy": self.accuracy, **ci, **_pass_keys(self.pass_at_k)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GroupMetrics:
        ci = d.get("accuracy_ci95")
        return cls(n_problems=int(d["n_problems"]), accuracy=float(d["accuracy"]),
                   pass_at_k={int(m.group(1)): float(v) for k, v in d.items() if (m := _PASS.match(k))},
                   accuracy_ci95=(float(ci[0]), float(ci[1])) if ci is not None else None)


@dataclass(frozen=True)
class BenchmarkMetrics:
    """The metrics of one benchmark of one run (`metrics.json[benchmark]`).

    Only problems with at least one sample count (`n_problems`). `samples_per_problem` is the
    smallest count over problems, the largest k of pass@k and maj@k. `accuracy_ci95` treats
    problems, not samples, as the unit. `maj_at_k` is empty for benchmarks without answer voting
    (code). `breakdowns[key][value]` is the metric of the problems whose metadata `key` is `value`.

    With n > 1 samples per problem, `accuracy` is avg@n and `accuracy_sampling_se` the standard error
    that comes from sampling alone (the spread of avg@n between reruns on the same problems; the
    interval, over problems, also counts which problems were drawn). For reasoning models (a `</think>`
    in a completion, or a prompt that opens a `<think>` block) the truncated samples are split:
    `truncated_thinking_rate` (cut before `</think>`) and `truncated_after_thinking_rate` (cut after
    it); both are None for other models.
    """

    n_problems: int
    n_samples: int
    samples_per_problem: int = 0
    accuracy: float = 0.0
    accuracy_ci95: tuple[float, float] = (0.0, 1.0)
    pass_at_k: dict[int, float] = field(default_factory=dict)
    subscores: dict[str, SubscoreMetrics] = field(default_factory=dict)
    maj_at_k: dict[int, float] = field(default_factory=dict)
    truncation_rate: float = 0.0
    mean_tokens: float = 0.0
    breakdowns: dict[str, dict[str, GroupMetrics]] = field(default_factory=dict)
    accuracy_sampling_se: float | None = None
    truncated_thinking_rate: float | None = None
    truncated_after_thinking_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The metrics.json entry, with the keys evalkit has always written."""
        if not self.n_samples:
            return {"n_problems": self.n_problems, "n_samples": 0}
        out: dict[str, Any] = {
            "n_problems": self.n_problems, "n_samples": self.n_samples,
            "samples_per_problem": self.samples_per_problem, "accuracy": self.accuracy,
            "accuracy_ci95": list(self.accuracy_ci95), **_pass_keys(self.pass_at_k),
        }
        for name, sub in sorted(self.subscores.items()):
            out[f"{name}_accuracy"] = sub.accuracy
            out.update(_pass_keys(sub.pass_at_k, prefix=f"{name}_"))
        out.update({f"maj@{k}": v for k, v in sorted(self.maj_at_k.items())})
        if self.accuracy_sampling_se is not None:
            out["accuracy_sampling_se"] = self.accuracy_sampling_se
        out["truncation_rate"] = self.truncation_rate
        for key in ("truncated_thinking_rate", "truncated_after_thinking_rate"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["mean_tokens"] = self.mean_tokens
        if self.breakdowns:
            out["breakdown"] = {key: {value: g.to_dict() for value, g in table.items()}
                                for key, table in self.breakdowns.items()}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BenchmarkMetrics:
        """Read a metrics.json entry (any version of evalkit's format); unknown keys are ignored."""
        pass_at_k: dict[int, float] = {}
        maj_at_k: dict[int, float] = {}
        sub_pass: dict[str, dict[int, float]] = {}
        sub_accuracy: dict[str, float] = {}
        for key, value in d.items():
            if m := _PASS.match(key):
                pass_at_k[int(m.group(1))] = float(value)
            elif m := _MAJ.match(key):
                maj_at_k[int(m.group(1))] = float(value)
            elif m := _SUB_PASS.match(key):
                sub_pass.setdefault(m.group(1), {})[int(m.group(2))] = float(value)
            elif (m := _SUB_ACCURACY.match(key)) and key != "accuracy":
                sub_accuracy[m.group(1)] = float(value)
        lo, hi = d.get("accuracy_ci95", (0.0, 1.0))
        breakdowns = {key: {value: GroupMetrics.from_dict(g) for value, g in table.items()}
                      for key, table in (d.get("breakdown") or {}).items()}
        return cls(
            n_problems=int(d["n_problems"]), n_samples=int(d["n_samples"]),
            samples_per_problem=int(d.get("samples_per_problem", 0)), accuracy=float(d.get("accuracy", 0.0)),
            accuracy_ci95=(float(lo), float(hi)), pass_at_k=dict(sorted(pass_at_k.items())),
            subscores={name: SubscoreMetrics(sub_accuracy.get(name, 0.0), dict(sorted(sub_pass.get(name, {}).items())))
                       for name in sorted(set(sub_pass) | set(sub_accuracy))},
            maj_at_k=dict(sorted(maj_at_k.items())), truncation_rate=float(d.get("truncation_rate", 0.0)),
            mean_tokens=float(d.get("mean_tokens", 0.0)), breakdowns=breakdowns,
            accuracy_sampling_se=_optional_float(d.get("accuracy_sampling_se")),
            truncated_thinking_rate=_optional_float(d.get("truncated_thinking_rate")),
            truncated_after_thinking_rate=_optional_float(d.get("truncated_after_thinking_rate")),
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def metrics_to_json(metrics: Mapping[str, BenchmarkMetrics]) -> dict[str, Any]:
    """The whole metrics.json object."""
    return {name: m.to_dict() for name, m in metrics.items()}


# ----------------------------------------------------------------------------- training metrics.jsonl


@dataclass(frozen=True)
class TrainingRecord:
    """One line of a training directory's metrics.jsonl: one step (step 0: the evaluation before training).

    Every field but `step` is absent (None) on lines that did not log it: evaluations appear only every
    `eval_every` steps, KL only with a reference policy, the sampler gap only with vLLM rollouts.
    Metrics an algorithm adds that are not named here are kept in `extra`, never dropped.
    """

    step: int
    algo: str | None = None
    # rollouts and rewards
    reward_mean: float | None = None
    accuracy: float | None = None
    completion_len_mean: float | None = None
    completion_len_max: int | None = None
    truncated_frac: float | None = None
    zero_variance_frac: float | None = None
    gen_rounds: int | None = None
    sequences_trained: int | None = None
    # the policy update
    loss: float | None = None
    clip_low: float | None = None
    clip_high: float | None = None
    ratio_mean: float | None = None
    kl: float | None = None
    kl_mask_frac: float | None = None
    entropy: float | None = None
    sampler_logp_gap: float | None = None
    grad_norm: float | None = None
    updates: int | None = None
    lr: float | None = None
    # held-out evaluation
    heldout_accuracy: float | None = None
    heldout_n: int | None = None
    heldout_len_mean: float | None = None
    # where the time went, in seconds
    time_generation_s: float | None = None
    time_reward_s: float | None = None
    time_update_s: float | None = None
    time_eval_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """A metric by its JSON name, named field or extra."""
        if key != "extra" and key in _TRAINING_FIELDS:
            value = getattr(self, key)
            return default if value is None else value
        return self.extra.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """The JSON line: the fields that were logged, then the extras."""
        out = {name: getattr(self, name) for name in _TRAINING_FIELDS if name != "extra"}
        return {**{k: v for k, v in out.items() if v is not None}, **self.extra}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainingRecord:
        """Read a line; TypeError when it has no integer step."""
        step = d.get("step")
        if not isinstance(step, (int, float)) or isinstance(step, bool) or int(step) != step:
            raise TypeError(f"a training record needs an integer step, got {step!r}")
        known = {k: v for k, v in d.items() if k in _TRAINING_FIELDS and k not in ("step", "extra")}
        extra = {k: v for k, v in d.items() if k not in _TRAINING_FIELDS or k == "extra"}
        return cls(step=int(step), **known, extra=extra)


_TRAINING_FIELDS = tuple(f.name for f in fields(TrainingRecord))
