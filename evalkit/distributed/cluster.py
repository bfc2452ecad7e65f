"""The Ray cluster as the driver sees it: connecting, its nodes, path checks and resource reservations.

Every wait here has a deadline and every failure is one line (`ClusterError`, exit code 2): a driver
that cannot reach its cluster, a checkpoint a node cannot see, or GPUs that cannot be reserved must
never leave `evalkit run --ray` hanging (the harnesses we replace hang at `ray.get` or on a placement
group, lm-eval #1734 #2379).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.distributed.settings import AUTO, LOCAL
from evalkit.errors import EvalkitError

#: The Ray namespace of evalkit's named actors (the code-grading pool that run, train and verl share).
NAMESPACE = "evalkit"
#: Seconds the driver waits for the cluster's address to accept a connection.
PROBE_TIMEOUT_S = 10.0
#: Seconds a node gets to answer a path check (it may have to start a Python worker first).
NODE_CHECK_TIMEOUT_S = 120.0
RAY_HINT = "pip install 'evalkit[ray]' (the same Ray version on every node)"


@dataclass(frozen=True)
class ActorPlace:
    """Where an actor (an engine replica, a code grader) runs, and why it could not start (None when it did)."""

    node_id: str
    ip: str
    pid: int
    error: str | None = None

    @classmethod
    def here(cls, error: str | None) -> ActorPlace:
        """The calling actor's own place, from Ray's runtime context."""
        import ray

        return cls(node_id=ray.get_runtime_context().get_node_id(), ip=ray.util.get_node_ip_address(),
                   pid=os.getpid(), error=error)


class ClusterError(EvalkitError, RuntimeError):
    """The cluster cannot do what the sweep needs; the message says what to change."""


def import_ray() -> Any:
    """The `ray` module, or a one-line error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs Ray: {RAY_HINT}") from None
    return ray


def first_line(exc: BaseException) -> str:
    """The first meaningful line of an exception (Ray's own messages run over many lines)."""
    for line in str(exc).strip().splitlines():
        if line.strip():
            return line.strip()[:300]
    return type(exc).__name__


def target_address(address: str) -> str | None:
    """The cluster to connect to (HOST:PORT), or None for a new local cluster."""
    if address == LOCAL:
        return None
    if address == AUTO:
        return os.environ.get("RAY_ADDRESS") or None
    return address


def probe_address(target: str, where: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Refuse at once an address nothing answers on: `ray.init` would retry for minutes."""
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(f"--ray {target!r} is not HOST:PORT (the address `ray start --head` prints), auto or local")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterError(f"cannot connect to {where}: nothing answers there ({exc.strerror or exc}); start it with "
                           "`ray start --head` (other nodes: `ray start --address HEAD:PORT`), or pass --ray without "
                           "an address for a local cluster") from None


def connect(address: str) -> str:
    """Connect this process to the cluster (`ray.init`); returns how to name it in messages."""
    ray = import_ray()
    target = target_address(address)
    where = f"the Ray cluster at {target}" if target else "a local Ray cluster"
    if ray.is_initialized():
        return where
    if target:
        probe_address(target, where)
    try:
        if target:
            ray.init(address=target, namespace=NAMESPACE, logging_level=logging.ERROR, log_to_driver=False)
        else:
            ray.init(address="local", namespace=NAMESPACE, logging_level=logging.ERROR, log_to_driver=False,
                     include_dashboard=False)  # "local": a new cluster, never one found on this machine
    except Exception as exc:  # ConnectionError, RuntimeError, TimeoutError ... as Ray versions differ
        hint = ("start it with `ray start --head` (other nodes: `ray start --address HEAD:PORT`), or pass --ray "
                "without an address for a local cluster") if target else "see Ray's message above"
        raise ClusterError(f"cannot connect to {where}: {first_line(exc)}; {hint}") from None
    return where


@dataclass(frozen=True)
class Node:
    """One alive node of the cluster."""

    node_id: str
    ip: str
    resources: Mapping[str, float]
    is_head: bool

    def describe(self) -> str:
        cpus, gpus = self.resources.get("CPU", 0), self.resources.get("GPU", 0)
        return f"{self.ip} ({'head, ' if self.is_head else ''}CPU {cpus:g}, GPU {gpus:g}, id {self.node_id[:8]})"


def alive_nodes() -> list[Node]:
    ray = import_ray()
    nodes = [Node(node_id=n["NodeID"], ip=n.get("NodeManagerAddress", "?"), resources=dict(n.get("Resources", {})),
                  is_head="node:__internal_head__" in n.get("Resources", {}))
             for n in ray.nodes() if n.get("Alive")]
    return sorted(nodes, key=lambda n: (not n.is_head, n.ip, n.node_id))


def describe_nodes(nodes: Sequence[Node]) -> str:
    return "; ".join(n.describe() for n in nodes) or "no alive node"


def node_of(node_id: str, nodes: Sequence[Node] | None = None) -> str:
    """How a node is named in messages, from its id (its IP when it is still known)."""
    for node in nodes if nodes is not None else alive_nodes():
        if node.node_id == node_id:
            return node.describe()
    return f"node {node_id[:8]}"


def _missing_paths(paths: list[str]) -> list[str]:
    """Runs on one node: the paths that do not exist there."""
    return [p for p in paths if not Path(p).exists()]


def check_paths_on_every_node(paths: Sequence[str], what: str, nodes: Sequence[Node] | None = None,
                              timeout_s: float = NODE_CHECK_TIMEOUT_S) -> None:
    """Refuse when some alive node does not see one of `paths` (they must be on a shared filesystem)."""
    if not paths:
        return
    ray = import_ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = alive_nodes() if nodes is None else nodes
    remote = ray.remote(num_cpus=0, max_retries=0)(_missing_paths)
    refs = {}
    for node in nodes:
        strategy = NodeAffinitySchedulingStrategy(node.node_id, soft=False)
        refs[remote.options(scheduling_strategy=strategy).remote(list(paths))] = node
    ready, pending = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
    if pending:
        late = ", ".join(refs[r].describe() for r in pending)
        raise ClusterError(f"node(s) {late} did not answer a path check within {timeout_s:g} s; check that they "
                           "are healthy (`ray status`)")
    for ref in ready:
        try:
            missing = ray.get(ref)
        except Exception as exc:
            raise ClusterError(f"cannot check {what} on node {refs[ref].describe()}: {first_line(exc)}") from None
        if missing:
            raise ClusterError(f"{what} {missing[0]} does not exist on node {refs[ref].describe()}; every node must "
                               "see the same path (put checkpoints, data and outputs on a shared filesystem)")


def replicas_per_node(need: Mapping[str, float], node: Node, used: Mapping[str, float] | None = None) -> int:
    """How many actors asking for `need` the node's total resources hold (minus what `used` takes)."""
    counts = []
    for key, amount in need.items():
        if amount <= 0:
            continue
        have = node.resources.get(key, 0.0) - (used or {}).get(key, 0.0)
        counts.append(int(have // amount + 1e-9) if have > 0 else 0)
    return min(counts) if counts else 1 << 20


def describe_need(need: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in need.items() if v > 0) or "nothing"


def reserve_bundle(need: Mapping[str, float], timeout_s: float, what: str) -> Any:
    """A one-bundle STRICT_PACK placement group holding `need` on one node, created within `timeout_s`.

    Ray would keep an unmeetable reservation pending forever; here it fails with one line naming what was
    asked and what the cluster has.
    """
    import_ray()
    from ray.util.placement_group import placement_group, remove_placement_group

    bundle = {k: float(v) for k, v in need.items() if v > 0}
    group = placement_group([bundle], strategy="STRICT_PACK")
    try:
        ready = group.wait(timeout_seconds=timeout_s)
    except Exception as exc:
        remove_placement_group(group)
        raise ClusterError(f"cannot reserve {describe_need(bundle)} for {what}: {first_line(exc)}") from None
    if not ready:
        remove_placement_group(group)
        raise ClusterError(f"could not reserve {describe_need(bundle)} on one node for {what} within {timeout_s:g} s "
                           f"(--ray-start-timeout); the cluster has: {describe_nodes(alive_nodes())}; free GPUs, add "
                           "nodes, or lower --replicas or --tensor-parallel-size")
    return group


def release(group: Any) -> None:
    if group is None:
        return
    from ray.util.placement_group import remove_placement_group

    try:
        remove_placement_group(group)
    except Exception:  # the cluster is going away; nothing is left to release
        return
