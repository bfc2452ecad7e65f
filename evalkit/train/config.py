"""`evalkit train` settings: one dataclass, readable from a TOML or JSON file, overridable by flags.

Unknown keys are errors (no silent typos); loss hyperparameters go in the `loss` table and are
checked against the chosen algorithm's parameter dataclass in `losses.py`. Algorithm-dependent
defaults (advantage scaling, dynamic sampling) are `None` here and resolved by `resolved()`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import UsageError
from evalkit.schema import TRAIN_CONFIG_FILE, TRAIN_METRICS_FILE

ALGOS = ("ppo", "grpo", "dapo", "dr_grpo", "gspo", "mpo", "tepo")
ROLLOUT_ENGINES = ("hf", "vllm")
__all__ = ["ALGOS", "ROLLOUT_ENGINES", "TRAIN_CONFIG_FILE", "TRAIN_METRICS_FILE", "TrainConfig"]


@dataclass
class TrainConfig:
    """Everything a training run needs; written to OUTPUT/train_config.json at the start of a run."""

    algo: str = "grpo"
    model: str = "smollm2-135m"  # any `evalkit run --model` spec: alias, HF directory, .gguf, hub id
    benchmark: str = "gsm8k"  # any math or code benchmark with a train split, or addition (the toy task)
    data_dir: str | None = None  # like `evalkit run --data-dir`; None reads the hub
    output: str = "runs/train"
    steps: int = 20
    prompts_per_step: int = 4
    group_size: int = 8  # completions per prompt; 1 is allowed for the critic-based algorithms (ppo, mpo)
    epochs: int = 1  # passes over each rollout batch
    minibatches: int = 2  # optimizer steps per pass: epochs x minibatches updates per rollout
    micro_batch_size: int = 0  # rows per forward/backward (gradient accumulation); 0 = whole mini-batch
    lr: float = 1e-6
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    scale_rewards: str | None = None  # group | batch | none; None: "none" for dr_grpo, else "group"
    dynamic_sampling: bool | None = None  # drop all-equal groups and refill; None: on for dapo only
    max_gen_batches: int = 4  # cap on generation rounds per step under dynamic sampling
    overlong_buffer: int = 0  # DAPO soft overlong punishment over the last N tokens of the budget; 0 = off
    mask_truncated: bool = False  # DAPO overlong filtering: truncated completions get no loss
    loss: dict[str, Any] = field(default_factory=dict)  # overrides of the algorithm's loss parameters
    log_kl: bool = True  # keep a reference copy to log KL even when the loss has no KL term
    eval_every: int = 0  # held-out greedy accuracy every N steps (and at the end); 0 = never
    eval_size: int = 64
    save_every: int = 0  # checkpoint every N steps; the last step is always saved
    chat_template: bool = True
    system_prompt: str | None = None
    addition_digits: int = 3
    generation_batch_size: int = 64  # HF rollouts: rows per `generate` call
    rollout_engine: str = "hf"  # hf: `generate` on the policy; vllm: vLLM on the same GPU, weights synced per update
    vllm_gpu_memory: float = 0.3  # share of the GPU vLLM takes (weights + KV cache); the rest trains
    vllm_max_model_len: int = 0  # prompt + completion tokens vLLM reserves KV cache for; 0 = the model's context
    vllm_sleep: bool = False  # free vLLM's GPU memory during updates (sleep level 2), re-push weights on waking
    # MPO's MTP modules (--loss-option future=mtp): Stage 1 warm-up on the train split's reference solutions
    mtp_warmup_steps: int = 0  # batches of the warm-up before RL (backbone frozen); 0 = none
    mtp_warmup_lr: float = 1e-4
    mtp_warmup_batch_size: int = 8
    mtp_alpha_decay: float = 0.8  # warm-up loss weight of module k: decay^(k-2)
    mtp_init: str | None = None  # a checkpoint (its mtp/ folder) to start the modules from; None = fresh copies
    seed: int = 0
    unsafe_code_exec: bool = False  # code benchmarks: run model code even where the sandbox cannot isolate it
    device: str = "cpu"
    dtype: str | None = None  # float32 | bfloat16 | float16; None: float32 on CPU, bfloat16 on GPU

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, origin: str = "config") -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(f"{origin}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def from_file(cls, path: Path) -> TrainConfig:
        """Read a `.toml` or `.json` file of settings (top-level keys, with a `[loss]` table)."""
        if not path.is_file():
            raise UsageError(f"config file {path} not found")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix == ".toml":
                values = _load_toml(text)
            elif path.suffix == ".json":
                values = json.loads(text)
            else:
                raise UsageError(f"config file {path} must end in .toml or .json")
        except (ValueError, TypeError) as exc:
            if isinstance(exc, UsageError):
                raise
            raise UsageError(f"config file {path} is not valid {path.suffix[1:].upper()}: {exc}") from None
        if not isinstance(values, dict):
            raise UsageError(f"config file {path} must hold a table of settings")
        return cls.from_dict(values, origin=str(path))

    def override(self, **flags: Any) -> TrainConfig:
        """A copy with every flag that is not None applied (flags beat the config file)."""
        return dataclasses.replace(self, **{k: v for k, v in flags.items() if v is not None})

    def resolved(self) -> TrainConfig:
        """Algorithm defaults filled in, then every setting checked; UsageError on the first bad one."""
        cfg = dataclasses.replace(
            self,
            scale_rewards=self.scale_rewards or ("none" if self.algo == "dr_grpo" else "group"),
            dynamic_sampling=self.algo == "dapo" if self.dynamic_sampling is None else self.dynamic_sampling,
        )
        cfg.validate()
        return cfg

    def validate(self) -> None:
        from evalkit.train.advantages import SCALES
        from evalkit.train.losses import LOSSES, make_params

        if self.algo not in LOSSES:  # the built-in ALGOS and any registered by a plugin
            raise UsageError(f"--algo {self.algo!r} is not one of {', '.join(LOSSES.names())}")
        params = make_params(self.algo, self.loss)
        positive = ("steps", "prompts_per_step", "group_size", "epochs", "minibatches", "max_new_tokens",
                    "max_gen_batches", "eval_size", "generation_batch_size", "mtp_warmup_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise UsageError(f"{name.replace('_', '-')} must be >= 1; got {getattr(self, name)}")
        for name in ("micro_batch_size", "warmup_steps", "overlong_buffer", "eval_every", "save_every",
                     "vllm_max_model_len", "mtp_warmup_steps"):
            if getattr(self, name) < 0:
                raise UsageError(f"{name.replace('_', '-')} must be >= 0; got {getattr(self, name)}")
        if self.group_size < 2 and not params.uses_critic:
            raise UsageError(f"group-size must be >= 2 for {self.algo}: group-relative advantages need several "
                             "samples per prompt (ppo and mpo with a critic accept 1)")
        if self.dynamic_sampling and self.group_size < 2:
            raise UsageError("dynamic sampling drops groups whose rewards are all equal: it needs group-size >= 2")
        uses_mtp = getattr(params, "mtp_modules", 0) > 0
        if (self.mtp_warmup_steps or self.mtp_init) and not uses_mtp:
            raise UsageError("mtp-warmup-steps and mtp-init apply to MTP modules: use --algo mpo with "
                             "--loss-option future=mtp (and k >= 2)")
        if self.mtp_warmup_lr <= 0 or not 0 < self.mtp_alpha_decay <= 1:
            raise UsageError("mtp-warmup-lr must be > 0 and mtp-alpha-decay in (0, 1]")
        rows = self.prompts_per_step * self.group_size
        if self.minibatches > rows:
            raise UsageError(f"minibatches ({self.minibatches}) exceeds the {rows} sequences per step")
        if not self.temperature > 0:
            raise UsageError("temperature must be > 0 for training rollouts")
        if not 0 < self.top_p <= 1:
            raise UsageError(f"top-p must be in (0, 1]; got {self.top_p}")
        if self.lr <= 0 or self.max_grad_norm <= 0:
            raise UsageError("lr and max-grad-norm must be > 0")
        if self.scale_rewards not in SCALES:
            raise UsageError(f"scale-rewards must be one of {', '.join(SCALES)}; got {self.scale_rewards!r}")
        if self.overlong_buffer > self.max_new_tokens:
            raise UsageError(f"overlong-buffer ({self.overlong_buffer}) exceeds max-new-tokens ({self.max_new_tokens})")
        if self.rollout_engine not in ROLLOUT_ENGINES:
            raise UsageError(f"rollout-engine must be one of {', '.join(ROLLOUT_ENGINES)}; got {self.rollout_engine!r}")
        if self.rollout_engine == "vllm":
            if self.device not in ("cuda", "cuda:0"):
                raise UsageError(f"--rollout-engine vllm runs on the GPU beside the policy: use --device cuda "
                                 f"(pick the GPU with CUDA_VISIBLE_DEVICES); got --device {self.device}")
            if not 0 < self.vllm_gpu_memory < 1:
                raise UsageError(f"vllm-gpu-memory must be in (0, 1); got {self.vllm_gpu_memory}")
            if self.vllm_max_model_len and self.vllm_max_model_len <= self.max_new_tokens:
                raise UsageError(f"vllm-max-model-len ({self.vllm_max_model_len}) must exceed max-new-tokens "
                                 f"({self.max_new_tokens}): it holds the prompt and the completion")
        if self.dtype not in (None, "float32", "bfloat16", "float16"):
            raise UsageError(f"dtype must be float32, bfloat16 or float16; got {self.dtype!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _load_toml(text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise UsageError("reading a .toml config on Python 3.10 needs tomli (pip install tomli); "
                             "or use a .json config") from None
    return tomllib.loads(text)
