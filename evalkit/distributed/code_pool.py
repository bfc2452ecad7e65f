"""Code grading on the cluster: CPU actors that own sandbox workers, shared by run, train and verl.

Each `SandboxGrader` actor runs on one node and grades with `graders.code` there (extraction and the
sandbox's warm worker pool), so model-written code runs on the grading nodes, never in the driver. An
actor reserves no CPU of Ray's accounting by default (`num_cpus=0`): it only feeds its sandbox workers
(`workers`, default one per core of its node), which run outside Ray's scheduler, so grading never waits
behind engine replicas for a CPU slot. At
start it checks that the sandbox can isolate code on its node (`sandbox.require_isolation`: bubblewrap
and namespaces) and reports the failure, which the client raises as one line naming the node.

`CodePool` is the client: a grader object of the grader protocol (`grade_batch`, `same_answer`,
`version`), so `evalkit run --ray` and the trainer (`evalkit train --ray ADDRESS`) use it where they
would use `graders.code_grader.CodeGrader`. Its actors are named (`code-grader-<node id>` in the
`evalkit` namespace) and looked up before they are created, so every driver on one cluster (a sweep,
a trainer, verl's reward workers) shares one pool. `compute_score` and `compute_score_batch` are verl's
reward-function signatures over the same pool (`custom_reward_function.path=<this file>`,
`name=compute_score` or `compute_score_batch` with `reward_manager=batch`, reward kwargs `ray_address=...`):
each score is `graders.rewards.compute_score_batch` computed on a grading node, where the sandbox is.
An actor that dies (its node lost) is replaced and its batch sent again; a batch is never graded twice
into a result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.distributed.cluster import (
    NAMESPACE,
    ActorPlace,
    ClusterError,
    Node,
    alive_nodes,
    connect,
    first_line,
    import_ray,
)
from evalkit.distributed.settings import AUTO
from graders import code as code_grading
from graders.code import CodeTask
from graders.verdict import Verdict

START_TIMEOUT_S = 300.0
#: Times a batch is sent again after the actor grading it died.
MAX_RESUBMITS = 3


class SandboxGrader:
    """The actor: graders.code verdicts on its node, with the node's sandbox workers kept warm."""

    def __init__(self, unsafe: bool | None, workers: int | None) -> None:
        self.workers = workers
        self.error: str | None = None
        try:
            import sandbox

            sandbox.require_isolation(unsafe)  # raises where this node cannot isolate model code
        except Exception as exc:  # no bubblewrap, namespaces refused ...: reported by ready()
            self.error = " ".join(str(exc).split())[:400] or type(exc).__name__

    def ready(self) -> ActorPlace:
        return ActorPlace.here(self.error)

    def grade(self, completions: Sequence[str], tasks: Sequence[CodeTask], unsafe: bool | None) -> list[Verdict]:
        if self.error is not None:
            raise ClusterError(self.error)
        return code_grading.grade_many(list(tasks), list(completions), workers=self.workers, unsafe=unsafe)

    def score(self, batch: Mapping[str, Any]) -> list[Any]:
        """verl's batch call graded here: `graders.rewards.compute_score_batch` (math and code data sources)."""
        from graders import rewards

        return list(rewards.compute_score_batch(**batch))


class CodePool:
    """The client of the cluster's code-grading actors (see the module docstring)."""

    def __init__(self, address: str = AUTO, *, unsafe: bool | None = None, size: int | None = None,
                 workers: int | None = None, num_cpus: float = 0.0,
                 start_timeout_s: float = START_TIMEOUT_S) -> None:
        self.address = address
        self.unsafe = unsafe
        self.size = size
        self.workers = workers
        self.num_cpus = num_cpus
        self.start_timeout_s = start_timeout_s
        self._actors: list[Any] = []
        self._next = 0
        self._lock = threading.Lock()

    # -- the grader protocol ------------------------------------------------------------------------

    @property
    def version(self) -> str:
        return f"graders.code@{code_grading.GRADER_VERSION}"

    def same_answer(self, a: str, b: str) -> bool:
        return a == b

    def grade_batch(self, completions: Sequence[str], references: Sequence[CodeTask]) -> list[Verdict]:
        """Verdicts for the pairs, the batch split across the actors (one shard each) and gathered in order."""
        if len(references) != len(completions):
            raise ValueError(f"grade_batch got {len(completions)} completions but {len(references)} references")
        if not completions:
            return []
        ray = import_ray()
        actors = self.actors()
        n = min(len(actors), len(completions))
        bounds = [(len(completions) * i // n, len(completions) * (i + 1) // n) for i in range(n)]
        shards = [(list(completions[a:b]), list(references[a:b])) for a, b in bounds]
        out: list[Verdict] = []
        for refs in [self.submit(c, r) for c, r in shards]:
            out += self.result(refs, ray)
        return out

    # -- asynchronous use (the sweep driver) ----------------------------------------------------------

    def submit(self, completions: Sequence[str], tasks: Sequence[CodeTask]) -> PendingGrade:
        """Start grading one batch on the next actor; `result` (or the driver's ray.wait) collects it."""
        actor = self._pick()
        ref = actor.grade.remote(list(completions), list(tasks), self.unsafe)
        return PendingGrade(ref=ref, actor=actor, completions=list(completions), tasks=list(tasks))

    def result(self, pending: PendingGrade, ray: Any = None) -> list[Verdict]:
        """The verdicts of a submitted batch; an actor lost meanwhile is replaced and the batch sent again."""
        ray = ray or import_ray()
        for attempt in range(MAX_RESUBMITS + 1):
            try:
                return ray.get(pending.ref)
            except ray.exceptions.RayActorError as exc:
                self.forget(pending.actor)
                if attempt == MAX_RESUBMITS:
                    raise ClusterError(f"code grading failed {MAX_RESUBMITS + 1} times, its actors lost "
                                       f"({first_line(exc)}); check the cluster's nodes (`ray status`)") from None
                pending = self.submit(pending.completions, pending.tasks)
            except ray.exceptions.RayTaskError as exc:
                cause = exc.cause if isinstance(getattr(exc, "cause", None), Exception) else exc
                raise ClusterError(f"code grading failed: {first_line(cause)}") from None
        raise AssertionError("unreachable")

    def forget(self, actor: Any) -> None:
        """Drop a dead actor; the next call starts (or finds) its replacement."""
        with self._lock:
            self._actors = [a for a in self._actors if a is not actor]

    # -- the actors -----------------------------------------------------------------------------------

    def _pick(self) -> Any:
        actors = self.actors()
        with self._lock:
            self._next = (self._next + 1) % len(actors)
            return actors[self._next]

    def actors(self) -> list[Any]:
        """The pool's actors, started (or found) on first use: one per alive node unless `size` says otherwise."""
        with self._lock:
            if self._actors:
                return list(self._actors)
        connect(self.address)
        nodes = alive_nodes()
        if not nodes:
            raise ClusterError("the Ray cluster has no alive node to grade code on")
        targets = [nodes[i % len(nodes)] for i in range(self.size or len(nodes))]
        actors = self._start(targets)
        with self._lock:
            self._actors = actors
        return list(actors)

    def _start(self, targets: Sequence[Node]) -> list[Any]:
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        cls = ray.remote(SandboxGrader)
        counts: dict[str, int] = {}
        actors = []
        for node in targets:
            k = counts[node.node_id] = counts.get(node.node_id, -1) + 1
            name = f"code-grader-{node.node_id[:16]}" + (f"-{k}" if k else "")
            actors.append(cls.options(
                name=name, namespace=NAMESPACE, get_if_exists=True, num_cpus=self.num_cpus, max_restarts=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False),
            ).remote(self.unsafe, self.workers))
        refs = {a.ready.remote(): (a, n) for a, n in zip(actors, targets, strict=True)}
        deadline = time.monotonic() + self.start_timeout_s
        ready, pending = ray.wait(list(refs), num_returns=len(refs), timeout=self.start_timeout_s)
        for ref in ready:
            actor, node = refs[ref]
            try:
                info = ray.get(ref, timeout=max(1.0, deadline - time.monotonic()))
            except Exception as exc:
                raise ClusterError(f"code-grading actor on node {node.describe()} cannot start: "
                                   f"{first_line(exc)}") from None
            if info.error:
                for a in actors:
                    ray.kill(a)
                raise ClusterError(f"code-grading actor on node {node.describe()} cannot start: {info.error}")
        if pending:
            late = ", ".join(refs[r][1].describe() for r in pending)
            raise ClusterError(f"code-grading actors on {late} did not start within {self.start_timeout_s:g} s "
                               f"(each asks for CPU {self.num_cpus:g}); free CPUs there or pass --code-actors")
        return actors

    def close(self) -> None:
        with self._lock:
            self._actors = []


@dataclass
class PendingGrade:
    """A batch being graded: what to send again if its actor dies."""

    ref: Any
    actor: Any
    completions: list[str]
    tasks: list[CodeTask]


_pools: dict[str, CodePool] = {}


def _pool(address: str) -> CodePool:
    if address not in _pools:
        _pools[address] = CodePool(address)
    return _pools[address]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Mapping[str, Any] | None] | None = None, ray_address: str = AUTO,
                        **reward_kwargs: Any) -> list[Any]:
    """verl's batch reward function (`reward_manager=batch`) on the cluster's pool: the batch is split across
    its actors and each shard scored by `graders.rewards.compute_score_batch` there; `reward_kwargs` pass on."""
    n = len(solution_strs)
    if not n:
        return []
    ray = import_ray()
    pool = _pool(ray_address)
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    shards = min(n, len(pool.actors()))
    bounds = [(n * i // shards, n * (i + 1) // shards) for i in range(shards)]
    batches = [{"data_sources": list(data_sources[a:b]), "solution_strs": list(solution_strs[a:b]),
                "ground_truths": list(ground_truths[a:b]), "extra_infos": infos[a:b], **reward_kwargs}
               for a, b in bounds]
    out: list[Any] = []
    for batch in batches:
        for attempt in range(MAX_RESUBMITS + 1):
            actor = pool._pick()
            try:
                out += ray.get(actor.score.remote(batch))
                break
            except ray.exceptions.RayActorError as exc:
                pool.forget(actor)
                if attempt == MAX_RESUBMITS:
                    raise ClusterError(f"reward scoring lost its actors {MAX_RESUBMITS + 1} times "
                                       f"({first_line(exc)})") from None
            except ray.exceptions.RayTaskError as exc:  # the reward's own one-line error (RewardSetupError ...)
                raise ClusterError(f"reward scoring failed: {first_line(exc.cause or exc)}") from None
    return out


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: Mapping[str, Any] | None = None,
                  ray_address: str = AUTO, **reward_kwargs: Any) -> Any:
    """verl's custom reward function, scored on the cluster's grading pool (see the module docstring)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], ray_address=ray_address,
                               **reward_kwargs)[0]
