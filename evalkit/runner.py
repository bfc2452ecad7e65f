"""The `evalkit run` pipeline: benchmark -> prompt -> engine -> samples -> grader -> metrics.

Everything that can be wrong with the user's input (benchmark names, model, data, settings) is
checked before the run directory is touched, so a bad command leaves no half-written files. Samples
are graded by each benchmark's grader as they arrive and appended to samples.jsonl; rerunning the
same command resumes. An output directory that holds a different run is refused unless
`overwrite` (see `evalkit.options.OUTPUT_POLICY`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import benchmarks
from benchmarks.base import Benchmark, DataSource, Problem, content_hash
from evalkit.engines import ENGINES, EngineOptions, choose_engine, create_engine, engine_choices
from evalkit.engines.base import Engine, EngineError, Prompt, Request
from evalkit.errors import EvalkitError, UsageError
from evalkit.metrics import compute_metrics
from evalkit.models import ResolvedModel, resolve_model
from evalkit.prompts import build_prompt, choose_shots, graded_text, opens_thinking, prompt_hash
from evalkit.schema import (
    BenchmarkMetrics,
    DataInfo,
    ModelConfig,
    ProblemRecord,
    PromptConfig,
    PromptRecord,
    RunConfig,
    SampleRecord,
    SamplingParams,
    slug,
)
from evalkit.store import RunStore
from graders.verdict import Verdict

TRACKED_PACKAGES = ("evalkit", "torch", "transformers", "llama_cpp_python", "vllm", "openai",
                    "math-verify", "sympy", "datasets")

#: progress(description, total) is called once per stage, then the returned callable with each advance.
ProgressFactory = Callable[[str, int], Callable[[int], None]]


def _no_progress(description: str, total: int) -> Callable[[int], None]:
    return lambda n: None


@dataclass(frozen=True)
class RunSettings:
    """Everything `evalkit run` was asked to do."""

    model: str
    benchmarks: Sequence[str]
    engine: str = "auto"
    sampling: SamplingParams = field(default_factory=SamplingParams)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    limit: int | None = None
    data_dir: Path | None = None
    output: Path | None = None
    engine_options: EngineOptions = field(default_factory=EngineOptions)
    unsafe_code_exec: bool = False  # run code benchmarks' model code even where the sandbox cannot isolate it
    overwrite: bool = False  # replace a different run found in `output` instead of refusing


@dataclass
class BenchmarkPlan:
    """One benchmark's problems and the exact prompts that will be sent for them."""

    benchmark: Benchmark
    problems: list[Problem]
    n_total: int
    data_hash: str
    prompts: list[Prompt] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)

    @property
    def stop(self) -> tuple[str, ...]:
        chat = bool(self.prompts) and self.prompts[0].is_chat
        return () if chat else self.benchmark.completion_stop


@dataclass(frozen=True)
class RunResult:
    output: Path
    metrics: dict[str, BenchmarkMetrics]
    generated: int
    resumed: int


def validate_settings(settings: RunSettings) -> None:
    """Reject impossible settings with one line each (exit code 2 in the CLI)."""
    s = settings.sampling
    if settings.engine not in engine_choices():
        raise UsageError(f"--engine {settings.engine!r} is not one of {', '.join(engine_choices())}")
    if s.n < 1:
        raise UsageError(f"--n must be at least 1 (got {s.n})")
    if s.temperature < 0:
        raise UsageError(f"--temperature must be >= 0 (got {s.temperature})")
    if s.n > 1 and s.temperature == 0:
        raise UsageError(f"--n {s.n} with --temperature 0 gives {s.n} identical greedy samples; "
                         "set --temperature (e.g. 0.6) or use --n 1")
    if not 0 < s.top_p <= 1:
        raise UsageError(f"--top-p must be in (0, 1] (got {s.top_p})")
    if s.max_tokens < 1:
        raise UsageError(f"--max-tokens must be at least 1 (got {s.max_tokens})")
    if settings.limit is not None and settings.limit < 1:
        raise UsageError(f"--limit must be at least 1 (got {settings.limit})")
    if settings.prompt.num_fewshot < 0:
        raise UsageError(f"--num-fewshot must be >= 0 (got {settings.prompt.num_fewshot})")
    if not settings.benchmarks:
        raise UsageError("--benchmarks is empty; name at least one, e.g. --benchmarks gsm8k")
    if len(set(settings.benchmarks)) != len(settings.benchmarks):
        raise UsageError("--benchmarks names a benchmark twice")
    resolve_benchmarks(settings.benchmarks)
    if settings.data_dir is not None and not settings.data_dir.is_dir():
        raise UsageError(f"--data-dir {settings.data_dir} is not a directory")


def resolve_benchmarks(specs: Sequence[str]) -> list[str]:
    """Benchmark names for `--benchmarks` (names, groups such as `reasoning`, benchmark files `*.toml`)."""
    try:
        return benchmarks.resolve(specs)
    except KeyError as exc:  # graders.registry.UnknownName
        raise UsageError(f"--benchmarks: {exc} (`evalkit list` describes them)") from None


def data_source(data_dir: Path | None) -> DataSource:
    return DataSource(data_dir.resolve() if data_dir else None)


def source_label(source: DataSource) -> str:
    return f"local:{source.data_dir}" if source.data_dir else "hub"


def get_benchmark(name: str, *, unsafe_code_exec: bool = False) -> Benchmark:
    """A fresh benchmark; `unsafe_code_exec` is passed on only when set (benchmarks need not accept it)."""
    return benchmarks.get(name, **({"unsafe_code_exec": True} if unsafe_code_exec else {}))


def require_isolation(plans: Sequence[BenchmarkPlan], unsafe_code_exec: bool) -> None:
    """Refuse code benchmarks where the sandbox cannot isolate model code, unless the user opted in."""
    if any(p.benchmark.task == "code" for p in plans):
        import sandbox

        sandbox.require_isolation(True if unsafe_code_exec else None)


def load_plan(bench: Benchmark, source: DataSource, limit: int | None, prompt_config: PromptConfig) -> BenchmarkPlan:
    """Load a benchmark's problems (and few-shot exemplars) and build their prompts."""
    problems = bench.load(source)
    pool = bench.fewshot_pool(source) if prompt_config.num_fewshot else []
    selected = problems[:limit] if limit else problems
    plan = BenchmarkPlan(bench, selected, len(problems), content_hash(problems))
    shots = choose_shots(pool, prompt_config.num_fewshot, bench.name)
    plan.prompts = [build_prompt(bench, p, prompt_config, shots) for p in selected]
    return plan


def render_plan(plan: BenchmarkPlan, engine: Engine) -> None:
    set_rendered(plan, [engine.render(p) for p in plan.prompts])


def set_rendered(plan: BenchmarkPlan, texts: Sequence[str]) -> None:
    """Record the exact texts the engine sees for the plan's prompts (rendered here or by a remote replica)."""
    plan.rendered = list(texts)
    plan.hashes = [prompt_hash(text) for text in plan.rendered]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def default_output(config: RunConfig) -> Path:
    """runs/<model>-<hash of the settings>: the same command always maps to the same directory."""
    digest = hashlib.sha256(json.dumps(config.identity(), sort_keys=True).encode()).hexdigest()[:8]
    return Path("runs") / f"{slug(config.model.name)}-{digest}"


def build_config(settings: RunSettings, model: ModelConfig, plans: Sequence[BenchmarkPlan],
                 source: DataSource) -> RunConfig:
    data = {
        p.benchmark.name: DataInfo(
            source=source_label(source), content_hash=p.data_hash, n_problems=len(p.problems),
            n_problems_total=p.n_total, prompts_hash=hashlib.sha256("".join(p.hashes).encode()).hexdigest()[:16],
        )
        for p in plans
    }
    return RunConfig(
        model=model, benchmarks=[p.benchmark.name for p in plans], sampling=settings.sampling,
        prompt=settings.prompt, limit=settings.limit, data=data,
        graders={p.benchmark.name: p.benchmark.grader.version for p in plans},
        versions=package_versions(), created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        benchmark_files=benchmark_files([p.benchmark.name for p in plans]),
    )


def benchmark_files(names: Sequence[str]) -> dict[str, str]:
    """The user's benchmark files among `names` (the shipped ones are found by name again)."""
    out = {}
    for name in names:
        path = benchmarks.file_of(name)
        if path is not None and benchmarks.PACKAGED_DIR not in path.parents:
            out[name] = str(path)
    return out


def resolve(settings: RunSettings) -> tuple[ResolvedModel | None, str]:
    """The model to load (None for a served model) and the concrete engine name."""
    if settings.engine != "auto" and not ENGINES.get(settings.engine).loads_model:
        return None, settings.engine
    model = resolve_model(settings.model)
    return model, choose_engine(settings.engine, model)


def missing_requests(plan: BenchmarkPlan, done: dict[str, set[int]], n: int) -> list[tuple[int, Request, list[int]]]:
    """(problem index, request, sample indices) for every problem that still lacks samples."""
    out = []
    for i, (problem, prompt) in enumerate(zip(plan.problems, plan.prompts, strict=True)):
        missing = [j for j in range(n) if j not in done.get(problem.id, set())]
        if missing:
            out.append((i, Request(prompt=prompt, n=len(missing), seed_offset=missing[0]), missing))
    return out


def grade_records(plan: BenchmarkPlan, index: int, sample_indices: Sequence[int], completions,
                  verdicts: Sequence[Verdict] | None = None) -> list[SampleRecord]:
    """The sample records of one request; `verdicts` when they were graded elsewhere (a remote grading pool)."""
    problem = plan.problems[index]
    if verdicts is None:
        opened = opens_thinking(plan.rendered[index])
        verdicts = plan.benchmark.grade_many([problem] * len(completions),
                                             [graded_text(c.text, opened) for c in completions])
    return [
        SampleRecord(
            benchmark=plan.benchmark.name, problem_id=problem.id, sample_index=j, prompt_hash=plan.hashes[index],
            completion=c.text, extracted=v.extracted, correct=bool(v.correct), reason=v.reason,
            finish_reason=c.finish_reason, tokens=c.tokens, subscores=dict(v.subscores), trust=v.trust,
        )
        for j, c, v in zip(sample_indices, completions, verdicts, strict=True)
    ]


def problem_records(plan: BenchmarkPlan) -> list[ProblemRecord]:
    """problems.jsonl rows of a plan: question, gold and the benchmark's breakdown labels."""
    keys = plan.benchmark.breakdown_keys()
    return [ProblemRecord(benchmark=plan.benchmark.name, problem_id=p.id, question=p.question, gold=p.gold,
                          labels={k: p.metadata[k] for k in keys if isinstance(p.metadata.get(k), (str, int))})
            for p in plan.problems]


def benchmark_metrics(bench: Benchmark, samples: Sequence[SampleRecord], problems: Sequence[Problem],
                      thinking_prompts: Collection[str] = ()) -> BenchmarkMetrics:
    """compute_metrics with what the benchmark decides: answer equivalence for maj@k (answer-graded
    benchmarks only) and the metadata keys of its breakdowns."""
    same_answer = bench.grader.same_answer if bench.task == "math" else None
    return compute_metrics(samples, problems, same_answer=same_answer, breakdown_keys=bench.breakdown_keys(),
                           thinking_prompts=thinking_prompts)


def metrics_for(store: RunStore, plans: Sequence[BenchmarkPlan]) -> dict[str, BenchmarkMetrics]:
    by_bench: dict[str, list[SampleRecord]] = defaultdict(list)
    for s in store.read_samples():
        by_bench[s.benchmark].append(s)
    thinking = {h for h, text in store.read_prompts().items() if opens_thinking(text)}
    return {p.benchmark.name: benchmark_metrics(p.benchmark, by_bench[p.benchmark.name], p.problems, thinking)
            for p in plans}


def load_plans(settings: RunSettings, source: DataSource) -> list[BenchmarkPlan]:
    """Every requested benchmark's problems and prompts (not yet rendered)."""
    return [load_plan(get_benchmark(name, unsafe_code_exec=settings.unsafe_code_exec), source, settings.limit,
                      settings.prompt) for name in resolve_benchmarks(settings.benchmarks)]


def model_config(settings: RunSettings, model: ResolvedModel | None, engine_name: str) -> ModelConfig:
    """What config.json records about the model and its engine."""
    return ModelConfig(
        spec=settings.model, path=model.path if model else settings.model, engine=engine_name,
        name=model.name if model else settings.model, checkpoint_step=model.checkpoint_step if model else None,
        engine_options={k: v for k, v in vars(settings.engine_options).items() if v is not None},
    )


def run(settings: RunSettings, progress: ProgressFactory = _no_progress,
        engine_factory: Callable[[str, ResolvedModel | None], Engine] | None = None) -> RunResult:
    """Evaluate one model on the requested benchmarks; resumes when the output holds the same run."""
    validate_settings(settings)
    model, engine_name = resolve(settings)
    source = data_source(settings.data_dir)
    plans = load_plans(settings, source)
    require_isolation(plans, settings.unsafe_code_exec)  # refuse before loading the model, not after generating
    if engine_factory is None:
        def engine_factory(name: str, m: ResolvedModel | None) -> Engine:
            return create_engine(name, m, settings.model, settings.engine_options)
    try:
        engine = engine_factory(engine_name, model)
    except EvalkitError:
        raise
    except Exception as exc:  # a corrupt model file, an out-of-memory load, a bad hub id ...
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"cannot load {settings.model!r} with engine {engine_name}: {detail}") from exc
    try:
        for plan in plans:
            render_plan(plan, engine)
        config = build_config(settings, model_config(settings, model, engine_name), plans, source)
        output = settings.output or default_output(config)
        store = RunStore(output)
        resuming = store.check_compatible(config, overwrite=settings.overwrite)
        store.open(config)
        try:
            return _generate_and_grade(store, plans, engine, settings, progress, resuming)
        finally:
            store.close()
    finally:
        engine.close()


def _generate_and_grade(store: RunStore, plans: Sequence[BenchmarkPlan], engine: Engine, settings: RunSettings,
                        progress: ProgressFactory, resuming: bool) -> RunResult:
    done = stored_sample_keys(store)
    resumed = sum(len(v) for v in done.values()) if resuming else 0
    work = record_plans(store, plans, done, settings.sampling.n)
    total = sum(r.n for _, reqs in work for _, r, _ in reqs)
    advance = progress("generating and grading", total)
    generated = 0
    s = settings.sampling
    for plan, reqs in work:
        if not reqs:
            continue
        params = dataclasses.replace(s, stop=plan.stop)
        for k, completions in engine.generate([r for _, r, _ in reqs], params):
            index, _, sample_indices = reqs[k]
            store.append_samples(grade_records(plan, index, sample_indices, completions))
            generated += len(completions)
            advance(len(completions))
    metrics = metrics_for(store, plans)
    store.write_metrics(metrics)
    return RunResult(output=store.dir, metrics=metrics, generated=generated, resumed=resumed)


def stored_sample_keys(store: RunStore) -> dict[tuple[str, str], set[int]]:
    """(benchmark, problem id) -> the sample indices samples.jsonl already holds."""
    done: dict[tuple[str, str], set[int]] = defaultdict(set)
    for s in store.read_samples():
        done[(s.benchmark, s.problem_id)].add(s.sample_index)
    return done


def record_plans(store: RunStore, plans: Sequence[BenchmarkPlan], done: dict[tuple[str, str], set[int]],
                 n: int) -> list[tuple[BenchmarkPlan, list[tuple[int, Request, list[int]]]]]:
    """Write the plans' prompts and problems to the run directory; each plan's requests still to generate."""
    work = []
    for plan in plans:
        store.append_prompts(
            PromptRecord(prompt_hash=h, benchmark=plan.benchmark.name, problem_id=p.id, prompt=text)
            for p, text, h in zip(plan.problems, plan.rendered, plan.hashes, strict=True)
        )
        store.append_problems(problem_records(plan))
        bench_done = {pid: idx for (b, pid), idx in done.items() if b == plan.benchmark.name}
        work.append((plan, missing_requests(plan, bench_done, n)))
    return work


def regrade(directory: Path, data_dir: Path | None = None, progress: ProgressFactory = _no_progress, *,
            unsafe_code_exec: bool = False) -> RunResult:
    """Grade the stored samples of a run again with the current graders (no model needed).

    The run's completions are kept; its verdicts, config.json's grader versions and metrics.json
    are rewritten (they are derived from the completions).
    """
    store = RunStore.existing(directory)
    config = store.read_config()
    if data_dir is not None and not data_dir.is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a directory")
    recorded = {info.source for info in config.data.values()}
    if data_dir is None and any(s.startswith("local:") for s in recorded):
        data_dir = Path(next(s for s in recorded if s.startswith("local:")).removeprefix("local:"))
    source = data_source(data_dir)
    prompt_config = PromptConfig(chat=config.prompt.chat, system_prompt=config.prompt.system_prompt, num_fewshot=0)
    plans = []
    for name in config.benchmarks:
        path = config.benchmark_files.get(name)
        if path is not None and not benchmarks.known(name):
            if not Path(path).is_file():
                raise UsageError(f"run uses benchmark {name!r} from {path}, which is not found; restore the file")
            benchmarks.load_file(path)
        if not benchmarks.known(name):
            raise UsageError(f"run uses benchmark {name!r}, which is not installed here")
        plan = load_plan(get_benchmark(name, unsafe_code_exec=unsafe_code_exec), source, config.limit, prompt_config)
        if plan.data_hash != config.data[name].content_hash:
            raise UsageError(f"{name} data differs from the data this run used (hash {plan.data_hash} vs "
                             f"{config.data[name].content_hash}); pass --data-dir with the original files")
        plans.append(plan)
    require_isolation(plans, unsafe_code_exec)
    store.lock()
    try:
        for plan in plans:
            store.append_problems(problem_records(plan))
        samples = store.read_samples()
        opened = {h for h, text in store.read_prompts().items() if opens_thinking(text)}
        by_id = {(p.benchmark.name, q.id): (p, q) for p in plans for q in p.problems}
        advance = progress("grading", len(samples))
        regraded: list[SampleRecord] = []
        for chunk_start in range(0, len(samples), 256):
            chunk = samples[chunk_start:chunk_start + 256]
            grouped: dict[str, list[int]] = defaultdict(list)
            for i, s in enumerate(chunk):
                if (s.benchmark, s.problem_id) in by_id:
                    grouped[s.benchmark].append(i)
            new = list(chunk)
            for bench_name, idxs in grouped.items():
                plan = next(p for p in plans if p.benchmark.name == bench_name)
                problems = [by_id[(bench_name, chunk[i].problem_id)][1] for i in idxs]
                verdicts = plan.benchmark.grade_many(
                    problems, [graded_text(chunk[i].completion, chunk[i].prompt_hash in opened) for i in idxs])
                for i, v in zip(idxs, verdicts, strict=True):
                    new[i] = dataclasses.replace(chunk[i], extracted=v.extracted, correct=bool(v.correct),
                                                 reason=v.reason, subscores=dict(v.subscores), trust=v.trust)
            regraded += new
            advance(len(chunk))
        store.replace_samples(regraded)
        graders = {**config.graders, **{p.benchmark.name: p.benchmark.grader.version for p in plans}}
        store.write_config(dataclasses.replace(config, graders=graders))
        metrics = metrics_for(store, plans)
        store.write_metrics(metrics)
    finally:
        store.close()
    return RunResult(output=store.dir, metrics=metrics, generated=0, resumed=len(samples))
