"""A real Ray cluster on this machine for the tests: a head and more nodes, each its own `ray start`.

Everything runs inside a private network namespace that holds only a loopback interface (made with
`unshare --net`, entered with setns(2)). Ray then takes 127.0.0.1 as every node's address and binds its
servers there, so nothing of the cluster is reachable from outside this namespace, even from the
machine's own loopback, and clusters of other checkouts running at the same time never meet ours. Ports
are still picked free inside the namespace (two nodes share it). The cluster has its own temporary
directory and authentication token, CPU-only nodes (`--num-gpus 0`), and is always stopped: `stop()`
(also at interpreter exit) terminates each `ray start --block`, which stops its node, then kills any
process of ours left over; the `ray start` processes also get SIGTERM if the test process dies.

`run(...)` starts a command inside the namespace (a driver: `evalkit run --ray ...`); `python(code)`
runs a snippet connected to the cluster.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
RAY = str(Path(sys.executable).with_name("ray"))

_HOLDER = r"""
import fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0))[:18])[1]  # SIOCGIFFLAGS
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # SIOCSIFFLAGS: lo up
print("ready", flush=True)
sys.stdin.read()  # lives until the test process closes our stdin (or dies)
"""

_FREE_PORTS = r"""
import json, socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(json.dumps([s.getsockname()[1] for s in socks]))
"""


class ClusterUnavailable(RuntimeError):
    """This machine cannot host the test cluster (no network namespace for us); tests skip with this reason."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


class NetworkNamespace:
    """A network namespace with only loopback, kept alive by a small holder process."""

    def __init__(self) -> None:
        if shutil.which("unshare") is None:
            raise ClusterUnavailable("util-linux `unshare` is missing")
        self.holder = subprocess.Popen(["unshare", "--net", "--", sys.executable, "-c", _HOLDER],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.holder.stdout.readline() if self.holder.stdout else b""
        if line.strip() != b"ready":
            err = self.holder.stderr.read().decode(errors="replace").strip() if self.holder.stderr else ""
            self.holder.kill()
            raise ClusterUnavailable(f"cannot create a network namespace (needs root): {err[:200]}")
        self.path = f"/proc/{self.holder.pid}/ns/net"

    def enter(self) -> None:
        """preexec_fn: move the child into the namespace and have it signalled if the test process dies."""
        libc = _libc()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.holder.stdin:
                self.holder.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.holder.wait(timeout=5)
        if self.holder.poll() is None:
            self.holder.kill()


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class NodeProcess:
    name: str
    proc: subprocess.Popen
    log: Path
    temp_dir: Path
    seen: set[int] = field(default_factory=set)  # every descendant pid observed (killed at stop if still there)

    def processes(self) -> list[int]:
        pids = [self.proc.pid, *descendants(self.proc.pid)]
        self.seen.update(pids)
        return pids

    def ray_start_pid(self) -> int:
        """The `ray start --block` process (under a wrapper such as bwrap, the innermost one)."""
        starts = [p for p in self.processes() if " start " in cmdline(p) and cmdline(p).split()[:2][-1].endswith("ray")]
        return starts[-1] if starts else self.proc.pid


class LocalCluster:
    """A head and `len(nodes) - 1` more nodes; each entry of `nodes` is that node's `ray start` options."""

    def __init__(self, nodes: Sequence[dict] = ({"num_cpus": 2}, {"num_cpus": 2}), *,
                 wrappers: Sequence[Sequence[str]] | None = None, object_store_mb: int = 80) -> None:
        self.node_options = list(nodes)
        self.wrappers = list(wrappers) if wrappers is not None else [[] for _ in nodes]
        self.object_store_mb = object_store_mb
        self.root = Path(tempfile.mkdtemp(prefix="ekray", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
        self.token = self.root / "auth_token"
        self.token.write_text(secrets.token_hex(32))
        self.netns: NetworkNamespace | None = None
        self.nodes: list[NodeProcess] = []
        self.address = ""
        atexit.register(self.stop)

    # -- environment ----------------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(self.token), RAY_USAGE_STATS_ENABLED="0",
                   PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        if self.address:
            env["RAY_ADDRESS"] = self.address
        env.update(extra)
        return env

    def run(self, args: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start a command inside the cluster's namespace (RAY_ADDRESS set to the head)."""
        assert self.netns is not None
        kwargs.setdefault("env", self.env())
        return subprocess.Popen(list(args), preexec_fn=self.netns.enter, **kwargs)

    def check_output(self, args: Sequence[str], timeout: float = 120, **kwargs) -> str:
        proc = self.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[:3]} failed ({proc.returncode}): {err[-2000:]}")
        return out

    def python(self, code: str, timeout: float = 120) -> str:
        return self.check_output([sys.executable, "-c", code], timeout=timeout)

    def free_ports(self, n: int) -> list[int]:
        return json.loads(self.python_plain(_FREE_PORTS, str(n)))

    def python_plain(self, code: str, *argv: str) -> str:
        return self.check_output([sys.executable, "-c", code, *argv], timeout=60)

    # -- life cycle -----------------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> LocalCluster:
        self.netns = NetworkNamespace()
        try:
            for i in range(len(self.node_options)):
                self.start_node(i, timeout)
            self.wait_for_nodes(len(self.node_options), timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, i: int, timeout: float = 120) -> NodeProcess:
        options = self.node_options[i]
        port, dashboard, agent = self.free_ports(3)
        temp_dir = self.root / f"n{i}"
        temp_dir.mkdir(exist_ok=True)
        args = [RAY, "start", "--block", "--num-cpus", str(options.get("num_cpus", 1)), "--num-gpus", "0",
                "--temp-dir", str(temp_dir), "--disable-usage-stats", "--dashboard-agent-listen-port", str(agent),
                "--min-worker-port", "0", "--max-worker-port", "0",
                "--object-store-memory", str(self.object_store_mb * 1024 * 1024)]
        if options.get("resources"):
            args += ["--resources", json.dumps(options["resources"])]
        if i == 0:
            args += ["--head", "--port", str(port), "--include-dashboard", "false", "--dashboard-port", str(dashboard)]
            self.address = f"127.0.0.1:{port}"
        else:
            args += ["--address", self.address]
        log = self.root / f"node{i}.log"
        with log.open("wb") as out:
            proc = self.run([*self.wrappers[i], *args], stdout=out, stderr=subprocess.STDOUT, env=self.env())
        node = NodeProcess(name=f"node{i}", proc=proc, log=log, temp_dir=temp_dir)
        if i < len(self.nodes):
            self.nodes[i] = node
        else:
            self.nodes.append(node)
        deadline = time.monotonic() + timeout
        while b"Ray runtime started" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start of node {i} failed: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        node.processes()
        return node

    def wait_for_nodes(self, n: int, timeout: float = 120) -> None:
        self.python(f"""
import time, ray
ray.init(logging_level="ERROR")
deadline = time.monotonic() + {timeout}
while sum(1 for x in ray.nodes() if x["Alive"]) != {n}:
    assert time.monotonic() < deadline, ray.nodes()
    time.sleep(0.2)
""", timeout=timeout + 30)

    def stop_node(self, i: int, timeout: float = 15, *, abrupt: bool = False) -> None:
        """Stop one node: SIGTERM to its `ray start --block`, which stops the node's processes; `abrupt` also
        sends SIGTERM to every process of the node at once (as `ray stop` does on a machine: the node's workers
        die mid-task). Whatever is left after `timeout` is killed."""
        node = self.nodes[i]
        if node.proc.poll() is not None and not self._alive(node.seen):
            return
        top = node.ray_start_pid()
        for pid in [top, *(reversed(descendants(top)) if abrupt else [])]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while (node.proc.poll() is None or self._alive(node.seen)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if node.proc.poll() is None or self._alive(node.seen):
            print(f"{node.name}: still running after SIGTERM: "
                  f"{[cmdline(p)[:60] for p in self._alive(node.seen | {node.proc.pid})]}", file=sys.stderr)
        for pid in self._alive(node.seen | {node.proc.pid}):
            if pid == node.proc.pid or self._in_our_namespace(pid):  # never a reused pid of someone else's
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.proc.wait(timeout=5)

    def _in_our_namespace(self, pid: int) -> bool:
        """Whether the process lives in this cluster's network namespace: only our processes do."""
        if self.netns is None:
            return False
        try:
            return os.readlink(f"/proc/{pid}/ns/net") == os.readlink(self.netns.path)
        except OSError:
            return False

    @staticmethod
    def _alive(pids: set[int]) -> list[int]:
        """The pids still running (not zombies)."""
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X"):
                alive.append(pid)
        return alive

    def stop(self) -> None:
        for i in reversed(range(len(self.nodes))):
            with contextlib.suppress(Exception):
                self.stop_node(i)
        if self.netns is not None:
            self.netns.close()
            self.netns = None
        shutil.rmtree(self.root, ignore_errors=True)

    # -- looking inside -------------------------------------------------------------------------------

    def actor_processes(self, class_name: str, method: str | None = None) -> list[int]:
        """Pids of our actors of `class_name` (busy in `method` when given), found by Ray's process titles."""
        title = f"ray::{class_name}" + (f".{method}" if method else "")
        pids = []
        for node in self.nodes:
            for pid in node.processes():
                line = cmdline(pid).strip()
                if line == title or (method is None and line.startswith(title)):
                    pids.append(pid)
        return pids

    def node_of_pid(self, pid: int) -> int:
        for i, node in enumerate(self.nodes):
            if pid in node.processes():
                return i
        return -1
