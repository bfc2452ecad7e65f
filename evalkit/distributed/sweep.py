"""The driver of `evalkit run --ray`: cells, replicas, the chunk queue and the one writer per run directory.

See `evalkit.distributed` for the design. One event loop waits (`ray.wait`, with a short timeout so that
deadlines are checked) on everything in flight: replica start-ups, prompt rendering, chunks and code
grading. Results are written as they come back; failures of replicas put their chunks back in the queue.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.distributed import cluster
from evalkit.distributed.cluster import ActorPlace, ClusterError, first_line, import_ray
from evalkit.distributed.code_pool import CodePool, PendingGrade
from evalkit.distributed.replica import (
    ChunkResult,
    EngineReplica,
    ReplicaSpec,
    check_engine,
    replica_spec,
)
from evalkit.distributed.settings import RaySettings
from evalkit.engines import ENGINES
from evalkit.engines.base import Request, SamplingParams
from evalkit.models import ResolvedModel, resolve_model
from evalkit.prompts import graded_text, opens_thinking
from evalkit.runner import (
    BenchmarkPlan,
    ProgressFactory,
    RunResult,
    RunSettings,
    build_config,
    data_source,
    default_output,
    grade_records,
    load_plans,
    metrics_for,
    model_config,
    record_plans,
    set_rendered,
    stored_sample_keys,
    validate_settings,
)
from evalkit.schema import RunConfig
from evalkit.store import RunStore

#: Chunks a replica holds at once: one generating, one queued behind it (no idle round trip between chunks).
IN_FLIGHT_PER_REPLICA = 2
#: Replacements of a lost replica per slot, after which the slot is given up.
REPLACEMENTS_PER_SLOT = 3
#: A chunk out this many times longer than the median chunk is handed to an idle replica as well.
SLOW_FACTOR = 4.0
SLOW_MIN_S = 2.0
WAIT_TICK_S = 0.25


@dataclass
class Chunk:
    id: int
    plan: int  # index into the cell's plans
    items: list[tuple[int, Request, list[int]]]  # (problem index, request, sample indices)
    params: SamplingParams
    first_issued: float | None = None
    holders: int = 0  # replicas it is in flight on


@dataclass
class Replica:
    slot: int
    handle: Any
    group: Any
    ready_ref: Any
    started: float
    info: ActorPlace | None = None
    inflight: set[int] = field(default_factory=set)
    alive: bool = True


@dataclass
class Cell:
    """One run directory: one checkpoint x the benchmarks x the settings."""

    index: int
    settings: RunSettings
    model: ResolvedModel | None
    engine: str
    spec: ReplicaSpec
    plans: list[BenchmarkPlan]
    config: RunConfig  # before rendering: its identity (and so the default output) is already final
    output: Path
    state: str = "waiting"  # waiting -> starting -> running -> finished
    store: RunStore | None = None
    written: set[tuple[str, str, int]] = field(default_factory=set)
    queue: deque[Chunk] = field(default_factory=deque)
    chunks: dict[int, Chunk] = field(default_factory=dict)  # not yet written
    grading: set[int] = field(default_factory=set)  # chunks generated, their code being graded
    replicas: list[Replica] = field(default_factory=list)
    replacements: dict[int, int] = field(default_factory=dict)
    rendering: bool = False
    durations: list[float] = field(default_factory=list)
    resumed: int = 0
    generated: int = 0
    result: RunResult | None = None
    advance: Callable[[int], None] = lambda n: None
    started: float = 0.0  # when its replicas were asked for
    running: float = 0.0  # when its first replica had rendered the prompts

    @property
    def label(self) -> str:
        return self.spec.label


def _finished_result(cell: Cell) -> RunResult | None:
    """The cell's result when its directory already holds every sample and metrics (nothing to start)."""
    store = RunStore(cell.output)
    if not store.config_path.is_file() or not store.metrics_path.is_file():
        return None
    try:
        old = store.read_config()
    except Exception:
        return None  # damaged: the normal path reports it
    if old.identity() != cell.config.identity():
        return None
    done = stored_sample_keys(store)
    wanted = set(range(cell.settings.sampling.n))
    if any(not wanted <= done.get((p.benchmark.name, q.id), set()) for p in cell.plans for q in p.problems):
        return None
    metrics = metrics_for(store, cell.plans)
    return RunResult(output=store.dir, metrics=metrics, generated=0, resumed=sum(m.n_samples for m in metrics.values()))


def _chunk_size(total_requests: int, replicas: int, requested: int | None) -> int:
    if requested:
        return requested
    return max(1, min(64, math.ceil(total_requests / (replicas * 8))))


class Sweep:
    """Runs every cell to completion on the connected cluster (see the module docstring)."""

    def __init__(self, cells: list[Cell], ray_settings: RaySettings, progress: ProgressFactory,
                 code_pool: CodePool | None, nodes: Sequence[cluster.Node], log: Callable[[str], None]) -> None:
        self.ray = import_ray()
        self.cells = cells
        self.rs = ray_settings
        self.progress = progress
        self.pool = code_pool
        self.nodes = list(nodes)
        self.log = log
        self.refs: dict[Any, tuple] = {}
        self.next_chunk = 0
        self.actor_class = self.ray.remote(EngineReplica)

    # -- capacity -----------------------------------------------------------------------------------

    def cells_at_once(self, spec: ReplicaSpec) -> int:
        need = spec.resources()
        used = {"CPU": self.pool.num_cpus} if self.pool is not None and self.pool.num_cpus else {}
        slots = sum(cluster.replicas_per_node(need, n, used) for n in self.nodes)
        if slots == 0:
            raise ClusterError(f"no node of the cluster can hold one replica of {spec.label} (it needs "
                               f"{cluster.describe_need(need)}); the cluster has: {cluster.describe_nodes(self.nodes)}")
        return max(1, slots // self.rs.replicas)

    # -- the loop -----------------------------------------------------------------------------------

    def run(self) -> list[RunResult]:
        todo = deque(c for c in self.cells if c.state == "waiting")
        limit = self.cells_at_once(self.cells[0].spec) if todo else 0
        try:
            while todo or any(c.state in ("starting", "running") for c in self.cells):
                while todo and sum(c.state in ("starting", "running") for c in self.cells) < limit:
                    self.start_cell(todo.popleft())
                self.dispatch()
                self.wait_and_handle()
                self.check_deadlines()
                for cell in self.cells:
                    if cell.state == "running" and not cell.chunks:
                        self.finish_cell(cell)
        finally:
            for cell in self.cells:
                self.stop_replicas(cell)
                if cell.store is not None:
                    cell.store.close()
        return [c.result for c in self.cells if c.result is not None]

    def start_cell(self, cell: Cell) -> None:
        cell.state = "starting"
        cell.started = time.monotonic()
        for slot in range(self.rs.replicas):
            self.start_replica(cell, slot)

    def start_replica(self, cell: Cell, slot: int) -> None:
        need = cell.spec.resources()
        group = None
        options: dict[str, Any] = {"num_cpus": need.get("CPU", 0.0), "num_gpus": need.get("GPU", 0.0),
                                   "max_restarts": 0, "max_task_retries": 0}
        if need.get("GPU", 0) > 0:
            from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

            group = cluster.reserve_bundle(need, self.rs.start_timeout_s, f"replica {slot + 1} of {cell.label}")
            options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=0)
        else:
            options["scheduling_strategy"] = "SPREAD"
        handle = self.actor_class.options(**options).remote(cell.spec)
        replica = Replica(slot=slot, handle=handle, group=group, ready_ref=handle.ready.remote(),
                          started=time.monotonic())
        cell.replicas.append(replica)
        self.refs[replica.ready_ref] = ("ready", cell, replica)

    def ready_replicas(self, cell: Cell) -> list[Replica]:
        return [r for r in cell.replicas if r.alive and r.info is not None]

    def dispatch(self) -> None:
        for cell in self.cells:
            if cell.state != "running":
                continue
            for replica in self.ready_replicas(cell):
                while len(replica.inflight) < IN_FLIGHT_PER_REPLICA and cell.queue:
                    self.issue(cell, replica, cell.queue.popleft())
            self.requeue_slow(cell)

    def issue(self, cell: Cell, replica: Replica, chunk: Chunk) -> None:
        ref = replica.handle.generate.remote([r for _, r, _ in chunk.items], chunk.params)
        replica.inflight.add(chunk.id)
        chunk.holders += 1
        if chunk.first_issued is None:
            chunk.first_issued = time.monotonic()
        self.refs[ref] = ("chunk", cell, replica, chunk)

    def requeue_slow(self, cell: Cell) -> None:
        """A chunk out far longer than the median chunk, on one replica only, also goes to an idle replica."""
        if cell.queue or not cell.durations:
            return
        idle = [r for r in self.ready_replicas(cell) if not r.inflight]
        if not idle:
            return
        median = sorted(cell.durations)[len(cell.durations) // 2]
        threshold = max(SLOW_MIN_S, SLOW_FACTOR * median * IN_FLIGHT_PER_REPLICA)
        now = time.monotonic()
        for chunk in sorted(cell.chunks.values(), key=lambda c: c.first_issued or now):
            if not idle:
                return
            if chunk.holders == 1 and chunk.first_issued is not None and now - chunk.first_issued > threshold:
                self.issue(cell, idle.pop(), chunk)

    def wait_and_handle(self) -> None:
        if not self.refs:
            time.sleep(WAIT_TICK_S)
            return
        ready, _ = self.ray.wait(list(self.refs), num_returns=1, timeout=WAIT_TICK_S)
        rest = [r for r in self.refs if r not in ready]
        if ready and rest:  # take everything else that is done too, without waiting again
            more, _ = self.ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        for ref in ready:
            entry = self.refs.pop(ref, None)
            if entry is not None:  # None: dropped by an earlier event (the replica it belonged to was lost)
                getattr(self, f"on_{entry[0]}")(ref, *entry[1:])

    # -- events ---------------------------------------------------------------------------------------

    def on_ready(self, ref: Any, cell: Cell, replica: Replica) -> None:
        try:
            info: ActorPlace = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            self.replica_lost(cell, replica, f"it died while starting ({first_line(exc)})")
            return
        if info.error:
            raise ClusterError(f"replica {replica.slot + 1} of {cell.label} on node "
                               f"{cluster.node_of(info.node_id, self.nodes)} cannot start: {info.error}")
        replica.info = info
        if cell.state == "starting" and not cell.rendering:
            self.render(cell, replica)

    def render(self, cell: Cell, replica: Replica) -> None:
        cell.rendering = True
        prompts = [p for plan in cell.plans for p in plan.prompts]
        self.refs[replica.handle.render.remote(prompts)] = ("render", cell, replica)

    def on_render(self, ref: Any, cell: Cell, replica: Replica) -> None:
        cell.rendering = False
        try:
            texts: list[str] = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            raise ClusterError(f"cannot render the prompts of {cell.label}: {first_line(exc.cause or exc)}") from None
        except self.ray.exceptions.RayError as exc:
            self.replica_lost(cell, replica, first_line(exc))
            return
        at = 0
        for plan in cell.plans:
            set_rendered(plan, texts[at:at + len(plan.prompts)])
            at += len(plan.prompts)
        self.open_cell(cell)

    def open_cell(self, cell: Cell) -> None:
        """The writer takes the run directory: config, prompts, problems; the missing requests become chunks."""
        config = build_config(cell.settings, cell.config.model, cell.plans, data_source(cell.settings.data_dir))
        store = RunStore(cell.output)
        resuming = store.check_compatible(config, overwrite=cell.settings.overwrite)
        store.open(config)
        cell.store = store
        done = stored_sample_keys(store)
        cell.written = {(b, pid, j) for (b, pid), js in done.items() for j in js}
        cell.resumed = len(cell.written) if resuming else 0
        work = record_plans(store, cell.plans, done, cell.settings.sampling.n)
        total = sum(len(reqs) for _, reqs in work)
        size = _chunk_size(total, self.rs.replicas, self.rs.chunk_size)
        for index, (plan, reqs) in enumerate(work):
            params = dataclasses.replace(cell.settings.sampling, stop=plan.stop)
            for start in range(0, len(reqs), size):
                chunk = Chunk(id=self.next_chunk, plan=index, items=reqs[start:start + size], params=params)
                self.next_chunk += 1
                cell.chunks[chunk.id] = chunk
                cell.queue.append(chunk)
        cell.advance = self.progress(f"{cell.output.name}: generating and grading",
                                     sum(r.n for _, reqs in work for _, r, _ in reqs))
        cell.state = "running"
        cell.running = time.monotonic()

    def on_chunk(self, ref: Any, cell: Cell, replica: Replica, chunk: Chunk) -> None:
        chunk.holders -= 1
        try:
            result: ChunkResult = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            raise ClusterError(f"replica {replica.slot + 1} of {cell.label} failed on a chunk: "
                               f"{first_line(exc.cause or exc)}") from None
        except self.ray.exceptions.RayError as exc:  # the actor died, its node was lost, its result was lost
            self.replica_lost(cell, replica, first_line(exc))  # the chunk is still in its inflight: re-queued
            return
        replica.inflight.discard(chunk.id)
        if result.error:
            raise ClusterError(f"replica {replica.slot + 1} of {cell.label} failed on a chunk: {result.error}")
        if chunk.id not in cell.chunks or chunk.id in cell.grading:
            return  # a duplicate (the chunk was also handed to another replica, which answered first)
        cell.durations.append(result.seconds)
        plan = cell.plans[chunk.plan]
        if plan.benchmark.task == "code" and self.pool is not None:
            tasks = [t for k, comps in sorted(result.results, key=lambda kc: kc[0])
                     for t in plan.benchmark.references([plan.problems[chunk.items[k][0]]] * len(comps))]
            texts = [graded_text(c.text, opens_thinking(plan.rendered[chunk.items[k][0]]))
                     for k, comps in sorted(result.results, key=lambda kc: kc[0]) for c in comps]
            pending = self.pool.submit(texts, tasks)
            cell.grading.add(chunk.id)
            self.refs[pending.ref] = ("graded", cell, chunk, result, pending, 0)
            return
        del cell.chunks[chunk.id]
        self.write(cell, chunk, result, None)

    def on_graded(self, ref: Any, cell: Cell, chunk: Chunk, result: ChunkResult, pending: PendingGrade,
                  attempt: int) -> None:
        try:
            verdicts = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            raise ClusterError(f"code grading failed: {first_line(exc.cause or exc)}") from None
        except self.ray.exceptions.RayError:  # the grading actor (or its node) was lost: grade again elsewhere
            assert self.pool is not None
            self.pool.forget(pending.actor)
            if attempt >= 3:
                raise ClusterError("code grading lost its actors 4 times; check the cluster's nodes "
                                   "(`ray status`)") from None
            again = self.pool.submit(pending.completions, pending.tasks)
            self.refs[again.ref] = ("graded", cell, chunk, result, again, attempt + 1)
            return
        cell.grading.discard(chunk.id)
        cell.chunks.pop(chunk.id, None)
        self.write(cell, chunk, result, verdicts)

    def write(self, cell: Cell, chunk: Chunk, result: ChunkResult, verdicts: list | None) -> None:
        """Append each request's graded samples (one write + fsync), skipping any already in the directory."""
        plan = cell.plans[chunk.plan]
        assert cell.store is not None
        at = 0
        for k, completions in sorted(result.results, key=lambda kc: kc[0]):
            index, _, sample_indices = chunk.items[k]
            mine = verdicts[at:at + len(completions)] if verdicts is not None else None
            at += len(completions)
            records = grade_records(plan, index, sample_indices, completions, mine)
            fresh = [r for r in records if (r.benchmark, r.problem_id, r.sample_index) not in cell.written]
            if fresh:
                cell.store.append_samples(fresh)
                cell.written.update((r.benchmark, r.problem_id, r.sample_index) for r in fresh)
                cell.generated += len(fresh)
                cell.advance(len(fresh))

    # -- failures -------------------------------------------------------------------------------------

    def replica_lost(self, cell: Cell, replica: Replica, why: str) -> None:
        """Put the replica's chunks back at the head of the queue and start a replacement in its slot."""
        if not replica.alive:
            return
        replica.alive = False
        for entry in [e for e in self.refs.values() if e[0] == "chunk" and e[2] is replica]:
            entry[3].holders -= 1
        self.refs = {ref: e for ref, e in self.refs.items() if not (len(e) > 2 and e[2] is replica)}
        for chunk_id in sorted(replica.inflight, reverse=True):
            chunk = cell.chunks.get(chunk_id)
            if chunk is not None and chunk.holders <= 0 and chunk not in cell.queue:
                chunk.holders, chunk.first_issued = 0, None
                cell.queue.appendleft(chunk)
        replica.inflight.clear()
        self.kill(replica)
        if cell.state == "starting" and cell.rendering and not any(
                e[0] == "render" and e[1] is cell for e in self.refs.values()):
            cell.rendering = False
            others = [r for r in self.ready_replicas(cell) if r is not replica]
            if others:
                self.render(cell, others[0])
        used = cell.replacements.get(replica.slot, 0)
        if used >= REPLACEMENTS_PER_SLOT:
            self.log(f"replica {replica.slot + 1} of {cell.label} lost ({why}); its slot is given up")
        else:
            cell.replacements[replica.slot] = used + 1
            self.log(f"replica {replica.slot + 1} of {cell.label} lost ({why}); its chunks are re-queued and a "
                     "replacement is starting")
            self.start_replica(cell, replica.slot)
        if not any(r.alive for r in cell.replicas):
            raise ClusterError(f"every replica of {cell.label} was lost (last: {why}); check the cluster's nodes")

    def check_deadlines(self) -> None:
        now = time.monotonic()
        for cell in self.cells:
            for replica in cell.replicas:
                if not replica.alive or replica.info is not None or now - replica.started < self.rs.start_timeout_s:
                    continue
                if self.ready_replicas(cell):  # the others carry the cell; stop waiting for this one
                    self.log(f"replica {replica.slot + 1} of {cell.label} did not start within "
                             f"{self.rs.start_timeout_s:g} s; going on without it")
                    replica.alive = False
                    self.refs.pop(replica.ready_ref, None)
                    self.kill(replica)
                    continue
                raise ClusterError(f"no replica of {cell.label} started within {self.rs.start_timeout_s:g} s "
                                   f"(--ray-start-timeout; each needs {cluster.describe_need(cell.spec.resources())}); "
                                   f"the cluster has: {cluster.describe_nodes(cluster.alive_nodes())}")

    # -- the end of a cell ----------------------------------------------------------------------------

    def finish_cell(self, cell: Cell) -> None:
        assert cell.store is not None
        metrics = metrics_for(cell.store, cell.plans)
        cell.store.write_metrics(metrics)
        cell.store.close()
        cell.result = RunResult(output=cell.store.dir, metrics=metrics, generated=cell.generated, resumed=cell.resumed)
        cell.store = None
        cell.state = "finished"
        self.stop_replicas(cell)
        now = time.monotonic()
        busy = sum(cell.durations) / max(1e-9, (now - cell.running) * self.rs.replicas)
        self.log(f"{cell.output}: {cell.generated} samples generated in {now - cell.running:.1f} s (replicas busy "
                 f"{min(busy, 1.0):.0%} of it), after {cell.running - cell.started:.1f} s starting "
                 f"{self.rs.replicas} replica(s)")

    def kill(self, replica: Replica) -> None:
        with contextlib.suppress(Exception):  # already gone with its node
            self.ray.kill(replica.handle, no_restart=True)
        cluster.release(replica.group)
        replica.group = None

    def stop_replicas(self, cell: Cell) -> None:
        for replica in cell.replicas:
            replica.alive = False
            self.kill(replica)
        self.refs = {ref: e for ref, e in self.refs.items() if e[1] is not cell}


# ------------------------------------------------------------------------------------------ entry point


def prepare_cell(index: int, settings: RunSettings, cluster_has_gpus: bool) -> Cell:
    """Check one checkpoint's settings and data on the driver (nothing is started yet)."""
    validate_settings(settings)
    loads = settings.engine == "auto" or ENGINES.get(settings.engine).loads_model
    model = resolve_model(settings.model) if loads else None
    engine = choose_cluster_engine(settings.engine, model, cluster_has_gpus)
    spec = replica_spec(engine, settings.model, model, settings.engine_options, cluster_has_gpus)
    source = data_source(settings.data_dir)
    plans = load_plans(settings, source)  # code is graded by the pool's actors, which check isolation on their nodes
    recorded = dataclasses.replace(settings, engine_options=spec.options)
    config = build_config(recorded, model_config(recorded, model, engine), plans, source)
    output = settings.output or default_output(config)
    return Cell(index=index, settings=recorded, model=model, engine=engine, spec=spec, plans=plans, config=config,
                output=output)


def choose_cluster_engine(requested: str, model: ResolvedModel | None, cluster_has_gpus: bool) -> str:
    """`--engine auto` for the cluster (not the driver's machine): llamacpp for GGUF, vllm with GPUs, else hf."""
    if requested != "auto":
        return requested
    if model is not None and model.gguf_file:
        return "llamacpp"
    return "vllm" if cluster_has_gpus else "hf"


def checkpoint_paths(cells: Sequence[Cell]) -> set[str]:
    """What every node must see: each checkpoint as `--model` names it (absolute, links not followed) and the
    file its link points at."""
    paths = set()
    for cell in cells:
        if cell.model is None or not cell.model.is_local:
            continue
        paths.add(cell.model.gguf_file or cell.model.path)
        given = Path(cell.settings.model).expanduser()
        if given.exists():
            paths.add(str(given.absolute()))
    return paths


def run_sweep(settings_list: Sequence[RunSettings], ray_settings: RaySettings,
              progress: ProgressFactory, log: Callable[[str], None] = lambda line: None) -> list[RunResult]:
    """Evaluate every checkpoint of `settings_list` (one run directory each) on the cluster."""
    ray_settings.validate()
    if not settings_list:
        return []
    for s in settings_list:
        validate_settings(s)
        check_engine(s.engine)
    where = cluster.connect(ray_settings.address)
    nodes = cluster.alive_nodes()
    if not nodes:
        raise ClusterError(f"{where} has no alive node")
    has_gpus = any(n.resources.get("GPU", 0) > 0 for n in nodes)
    cells = [prepare_cell(i, s, has_gpus) for i, s in enumerate(settings_list)]
    outputs = [c.output.resolve() for c in cells]
    if len(set(outputs)) != len(outputs):
        raise ClusterError("two checkpoints map to one run directory; pass distinct --model paths or --output")
    paths = sorted(checkpoint_paths(cells))
    cluster.check_paths_on_every_node(paths, "checkpoint", nodes)
    if settings_list[0].data_dir is not None:
        cluster.check_paths_on_every_node([str(settings_list[0].data_dir.resolve())], "--data-dir", nodes)
    results: dict[int, RunResult] = {}
    for cell in cells:
        finished = _finished_result(cell)
        if finished is not None:
            cell.state, cell.result = "finished", finished
            results[cell.index] = finished
            log(f"{cell.output}: already complete, skipped")
    needs_code = any(p.benchmark.task == "code" for c in cells if c.state == "waiting" for p in c.plans)
    pool = None
    if needs_code:
        pool = CodePool(ray_settings.address, unsafe=True if settings_list[0].unsafe_code_exec else None,
                        size=ray_settings.code_actors, start_timeout_s=ray_settings.start_timeout_s)
        pool.actors()
    sweep = Sweep(cells, ray_settings, progress, pool, nodes, log)
    for result in sweep.run():
        results.setdefault(next(c.index for c in cells if c.result is result), result)
    return [results[c.index] for c in cells if c.index in results]
