"""One engine replica: a whole evalkit engine (vLLM, llama.cpp, transformers) inside one Ray actor.

`EngineReplica` is a plain class; `evalkit.distributed.sweep` turns it into an actor with the
resources `ReplicaSpec.resources` asks for. It never raises from its constructor: a replica that
cannot start (a model its node cannot see, a missing engine package, a corrupt file) reports the one
line `ready()` returns, so the driver can name the node and stop, instead of unpacking Ray's wrapped
tracebacks. Failures inside `generate` come back the same way (`ChunkResult.error`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.distributed.cluster import ActorPlace
from evalkit.engines import ENGINES, EngineOptions, create_engine
from evalkit.engines.base import Completion, Engine, EngineError, Prompt, Request, SamplingParams
from evalkit.errors import UsageError
from evalkit.models import ResolvedModel

#: Engines that generate on a GPU when their replica is placed on one.
GPU_ENGINES = ("vllm",)


@dataclass(frozen=True)
class ReplicaSpec:
    """What one replica loads: `model` resolved by the driver (a path every node must see)."""

    engine: str
    spec: str  # --model as given
    model: ResolvedModel | None
    options: EngineOptions
    use_gpu: bool = False

    def resources(self) -> dict[str, float]:
        """The Ray resources one replica reserves: its GPUs (tensor parallel size) or its CPU threads."""
        if self.use_gpu:
            gpus = self.options.tensor_parallel_size if self.engine == "vllm" else 1
            return {"CPU": 1.0, "GPU": float(gpus)}
        return {"CPU": float(self.options.threads or 1)}

    @property
    def label(self) -> str:
        return f"{self.spec!r} ({self.engine})"


def check_engine(engine: str) -> None:
    """Refuse engines that load no model: a served model needs no replicas."""
    if engine != "auto" and not ENGINES.get(engine).loads_model:
        raise UsageError(f"--ray runs engines on the cluster's nodes; --engine {engine} talks to a server that already "
                         "serves requests in parallel: drop --ray and raise --concurrency instead")


def replica_spec(engine: str, spec: str, model: ResolvedModel | None, options: EngineOptions,
                 cluster_has_gpus: bool) -> ReplicaSpec:
    """The replica of `engine` for the cluster: GPU engines on GPUs, CPU engines with one thread unless told."""
    check_engine(engine)
    use_gpu = engine in GPU_ENGINES or (engine == "hf" and (options.device or ("cuda" if cluster_has_gpus else "cpu"))
                                        .startswith("cuda"))
    if engine == "vllm" and not cluster_has_gpus:
        raise UsageError("--engine vllm needs GPUs, and no node of the cluster has one; use --engine llamacpp or hf")
    if not use_gpu and options.threads is None:
        options = EngineOptions(**{**vars(options), "threads": 1})
    return ReplicaSpec(engine=engine, spec=spec, model=model, options=options, use_gpu=use_gpu)


@dataclass(frozen=True)
class ChunkResult:
    """(index into the chunk's requests, completions) for each request, or the engine's one-line error."""

    results: list[tuple[int, list[Completion]]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def _error_line(exc: BaseException, spec: ReplicaSpec) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (EngineError, UsageError)):
        return text[:300]
    return f"cannot load {spec.label}: {type(exc).__name__}: {text[:240]}"


def build_engine(spec: ReplicaSpec) -> Engine:
    """The engine of one replica. vLLM keeps tensor parallelism in its own processes (no nested Ray)."""
    model = spec.model
    if model is not None and model.is_local:
        path = Path(model.gguf_file or model.path)
        if not path.exists():
            raise EngineError(f"model {path} does not exist on this node; every node must see the checkpoints "
                              "(a shared filesystem)")
    if spec.engine == "vllm" and model is not None:
        from evalkit.engines.vllm_engine import VLLMEngine

        o = spec.options
        return VLLMEngine(model, tensor_parallel_size=o.tensor_parallel_size, max_model_len=o.max_model_len,
                          dtype=o.dtype or "auto", seed=o.seed,
                          distributed_executor_backend="mp" if o.tensor_parallel_size > 1 else None)
    return create_engine(spec.engine, model, spec.spec, spec.options)


class EngineReplica:
    """The actor: loads its engine once, then renders prompts and generates chunks of requests."""

    def __init__(self, spec: ReplicaSpec) -> None:
        self.spec = spec
        self.engine: Engine | None = None
        self.error: str | None = None
        try:
            self.engine = build_engine(spec)
        except BaseException as exc:  # reported by ready(): the driver stops with this line
            self.error = _error_line(exc, spec)

    def ready(self) -> ActorPlace:
        return ActorPlace.here(self.error)

    def render(self, prompts: Sequence[Prompt]) -> list[str]:
        assert self.engine is not None, self.error
        return [self.engine.render(p) for p in prompts]

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> ChunkResult:
        import time

        assert self.engine is not None, self.error
        start = time.perf_counter()
        try:
            results = list(self.engine.generate(list(requests), params))
        except Exception as exc:  # an engine failure on this input: the driver stops with this line
            return ChunkResult(error=_error_line(exc, self.spec))
        return ChunkResult(results=results, seconds=time.perf_counter() - start)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None
