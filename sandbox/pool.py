"""Host side: a pool of long-lived sandbox workers and the job protocol to them.

Workers are started once (about 30 ms each: bubblewrap plus an interpreter, then a self-test job
through the whole isolation path) and then serve jobs over a pipe; `run_many` feeds them from one
thread per worker, so the host does no heavy work and results come back in input order.
The worker's code is sent as source over its stdin, so nothing of the evaluator is mounted inside.

Everything a worker sends is untrusted (it judges hostile values): results are size-capped, typed
and their text cleaned (`_typed_result`). A worker that sends no verdict by its job's deadline plus
the judge's grace is stopped and the sample fails with a reason naming that limit; a worker that dies
or sends a malformed frame fails only the job it was running and is replaced. A worker that cannot
start, or reports that the isolation itself failed, raises WorkerError: that is never a verdict.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import math
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sandbox import _cgroup, _frames
from sandbox._codec import MAX_MESSAGE_BYTES, CodecError, clean_text
from sandbox._judge import judge_grace_s
from sandbox.errors import WorkerError
from sandbox.isolation import CGROUP_MOUNT, Isolation, extra_sys_path, pick_uid_base, worker_command

#: Modules shipped into the worker, in dependency order.
WORKER_MODULES = ("_codec", "_frames", "_seccomp", "_child", "_judge", "_worker")
#: Seconds the host waits beyond a job's own budget (its time limit plus the judge's grace) for the verdict.
HOST_GRACE_S = 5.0
STARTUP_TIMEOUT_S = 60.0
#: Largest result a worker may send for a test job (reference runs carry outputs: up to a whole frame).
MAX_RESULT_BYTES = 1024 * 1024
#: Jobs smaller than this (encoded) are sent while the worker still runs the previous one.
PIPELINE_BYTES = 16 * 1024
STATUSES = ("passed", "failed", "timeout", "error")
TRUSTS = ("strong", "weak")
#: The per-candidate isolation layers a worker applies (all on; tests/perf/bench_sandbox.py turns them
#: off one at a time to measure what each costs).
LAYERS = ("namespaces", "pid_namespace", "memory_cgroup", "judge_limits")

_BOOT = """
import json, os, struct, sys, types
def _read(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            raise SystemExit(0)
        data += chunk
    return data
payload = json.loads(_read(struct.unpack(">I", _read(4))[0]))
package = types.ModuleType("sandbox")
package.__path__ = []
sys.modules["sandbox"] = package
for name, source in payload["modules"]:
    module = types.ModuleType("sandbox." + name)
    module.__file__ = "<sandbox/" + name + ".py>"
    sys.modules[module.__name__] = module
    setattr(package, name, module)
    exec(compile(source, module.__file__, "exec"), module.__dict__)
proto_in, proto_out = os.dup(0), os.dup(1)
sys.modules["sandbox._worker"].main(proto_in, proto_out, payload["config"])
"""


def _worker_sources() -> list[tuple[str, str]]:
    here = Path(__file__).resolve().parent
    return [(name, (here / f"{name}.py").read_text(encoding="utf-8")) for name in WORKER_MODULES]


class WorkerLost(Exception):
    """The worker died or broke the protocol while running a job: that job fails, the worker is replaced."""


class JudgeOverran(WorkerLost):
    """No verdict arrived within the job's time limit plus the judge's grace: the worker was stopped."""


def host_budget_s(job: dict[str, Any]) -> float:
    """How long the host waits for a job's verdict: its own budget (twice when it may fall back to running
    in-process), the judge's grace, and HOST_GRACE_S for the hops."""
    timeout = float(job["timeout_s"])
    attempts = 2 if job.get("allow_inproc", True) else 1
    return attempts * (timeout + judge_grace_s(timeout)) + HOST_GRACE_S


def _finite(value: object) -> float:
    return float(value) if type(value) in (int, float) and math.isfinite(value) and value >= 0 else 0.0  # type: ignore[arg-type]


def _typed_result(raw: object) -> dict[str, Any]:
    """A worker's result with every field checked: WorkerLost when it is not a result at all."""
    if type(raw) is not dict or raw.get("status") not in STATUSES or raw.get("trust", "strong") not in TRUSTS:
        raise WorkerLost("sandbox worker sent a malformed result")
    result: dict[str, Any] = {"status": raw["status"], "detail": clean_text(raw.get("detail"), 1000),
                              "trust": raw.get("trust", "strong"), "duration": _finite(raw.get("duration")),
                              "retire": raw.get("retire") is True, "infra": raw.get("infra") is True}
    if "outputs" in raw or "times" in raw:
        outputs, times = raw.get("outputs"), raw.get("times")
        if type(outputs) is not list or type(times) is not list or len(outputs) != len(times):
            raise WorkerLost("sandbox worker sent malformed reference outputs")
        result["outputs"], result["times"] = outputs, [_finite(t) for t in times]
    return result


class WorkerProcess:
    """One sandboxed worker, its pipes and its memory cgroup."""

    def __init__(self, isolation: Isolation, uid: int | None, cpu: int | None = None,
                 layers: dict[str, bool] | None = None):
        self.isolation = isolation
        layers = {name: True for name in LAYERS} | dict(layers or {})
        self.cgroup = _cgroup.create() if layers["memory_cgroup"] else None
        inside = None if self.cgroup is None else CGROUP_MOUNT if isolation.isolated else str(self.cgroup.path)
        try:
            self.proc = subprocess.Popen(
                worker_command(isolation, _BOOT, None if self.cgroup is None else str(self.cgroup.path)),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            self._remove_cgroup()
            raise WorkerError(f"sandbox worker failed to start: {exc}") from None
        self.to_worker = self.proc.stdin.fileno()  # type: ignore[union-attr]
        self.from_worker = self.proc.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(self.to_worker, False)
        config = {"uid": uid, "tmp_root": "/tmp" if isolation.isolated else None, "seccomp": True,
                  "sys_path": extra_sys_path(isolation), "cpu": cpu, "cgroup": inside,
                  "cgroup_version": None if self.cgroup is None else self.cgroup.version, "layers": layers}
        boot = json.dumps({"modules": _worker_sources(), "config": config}).encode()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        try:
            os.write(self.to_worker, len(boot).to_bytes(4, "big"))
            view = memoryview(boot)
            while view:
                try:
                    view = view[os.write(self.to_worker, view):]
                except BlockingIOError:
                    time.sleep(0.001)
            hello = _frames.read_frame(self.from_worker, deadline, MAX_RESULT_BYTES)
            info = json.loads(hello[1]) if type(hello) is list and hello[:1] == ["ready"] else None  # type: ignore[index]
        except (OSError, ValueError, TypeError, _frames.ChannelClosed, _frames.ChannelTimeout) as exc:
            self.kill()
            raise WorkerError(f"sandbox worker failed to start: {clean_text(str(exc), 200)}") from None
        if type(info) is not dict:
            self.kill()
            raise WorkerError("sandbox worker sent an unexpected greeting")
        if info.get("self_test") != "passed":
            self.kill()
            raise WorkerError(f"sandbox worker failed its self-test ({clean_text(info.get('self_test'), 300)}); "
                              "the isolation layers do not work on this machine")
        self.info = info

    def send(self, job: dict[str, Any], message: str | None = None) -> None:
        """Queue one job (the worker takes it when it is free); WorkerLost when the worker is gone."""
        try:
            _frames.write_frame(self.to_worker, ["job", message or json.dumps(job)], time.monotonic() + HOST_GRACE_S)
        except (OSError, _frames.ChannelClosed, _frames.ChannelTimeout) as exc:
            self.kill()
            raise WorkerLost(f"sandbox worker stopped answering ({clean_text(str(exc), 200)})") from None

    def receive(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """The typed result of the oldest job sent; WorkerLost (the worker is killed) when none comes back
        within `timeout_s`, counted from now (the worker starts a job when the previous one is done)."""
        deadline = time.monotonic() + timeout_s
        limit = MAX_MESSAGE_BYTES if job.get("kind") == "calls" else MAX_RESULT_BYTES
        try:
            reply = _frames.read_frame(self.from_worker, deadline, limit)
        except _frames.ChannelTimeout:
            self.kill()
            raise JudgeOverran(f"judge limit: no verdict within {timeout_s:.0f} s (the job's time limit plus the "
                               "judge's grace); the sandbox worker was stopped") from None
        except (OSError, CodecError, _frames.ChannelClosed) as exc:
            self.kill()
            raise WorkerLost(f"sandbox worker stopped answering ({clean_text(str(exc), 200)})") from None
        try:
            if type(reply) is not list or len(reply) != 2 or reply[0] != "result" or type(reply[1]) is not str:
                raise WorkerLost("sandbox worker sent a malformed result")
            return _typed_result(json.loads(reply[1]))
        except (ValueError, RecursionError, WorkerLost) as exc:
            self.kill()
            raise WorkerLost(clean_text(str(exc), 200) or "sandbox worker sent a malformed result") from None

    def run(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        self.send(job)
        return self.receive(job, timeout_s)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._remove_cgroup()

    def _remove_cgroup(self) -> None:
        if self.cgroup is not None:
            _cgroup.remove(self.cgroup)
            self.cgroup = None


#: Workers are started from this one long-lived thread: bubblewrap's --die-with-parent follows the
#: thread that started it, so a worker started from a short-lived thread would die with that thread.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")


class Pool:
    """Up to `size` workers, started on demand and kept warm between calls."""

    def __init__(self, isolation: Isolation, size: int, layers: dict[str, bool] | None = None):
        self.isolation = isolation
        self.layers = dict(layers or {})
        self.size = max(1, size)
        self._uid_base = pick_uid_base(1024) if isolation.drop_uid else None
        self._idle: queue.LifoQueue[WorkerProcess] = queue.LifoQueue()
        self._started = 0
        self._spawned = 0
        self._cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self._lock = threading.Lock()
        self._closed = False

    def grow(self, size: int) -> None:
        with self._lock:
            self.size = max(self.size, size)

    def _acquire(self) -> WorkerProcess:
        with self._lock:
            if self._closed:
                raise WorkerError("the sandbox pool is closed")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            start = self._started < self.size
            if start:
                index = self._spawned % 1024
                uid = None if self._uid_base is None else self._uid_base + index
                cpu = self._cpus[self._spawned % len(self._cpus)] if self.size <= len(self._cpus) else None
                self._started += 1
                self._spawned += 1
        if start:
            try:
                return _SPAWNER.submit(WorkerProcess, self.isolation, uid, cpu, self.layers).result()
            except BaseException:
                with self._lock:
                    self._started -= 1
                raise
        return self._idle.get()

    def _release(self, worker: WorkerProcess) -> None:
        if worker.alive and not self._closed:
            self._idle.put(worker)
            return
        worker.kill()
        with self._lock:
            self._started -= 1

    def run(self, jobs: Sequence[dict[str, Any]], concurrency: int) -> list[dict[str, Any]]:
        """Run wire-format jobs on up to `concurrency` workers; results in input order.

        A job whose worker is lost gets a failed/error result of its own; WorkerError (a worker cannot
        start, or reports that the isolation itself failed) stops the batch and is raised.
        """
        results: list[dict[str, Any] | None] = [None] * len(jobs)
        pending: queue.Queue[int] = queue.Queue()
        for i in range(len(jobs)):
            pending.put(i)
        errors: list[BaseException] = []

        def lost(exc: WorkerLost) -> dict[str, Any]:
            status = "failed" if isinstance(exc, JudgeOverran) else "error"
            return {"status": status, "detail": str(exc), "trust": "strong", "duration": 0.0}

        def drain() -> None:
            worker: WorkerProcess | None = None
            inflight: collections.deque[int] = collections.deque()  # sent to `worker`, oldest first

            def drop_worker() -> None:  # the jobs it had queued never started: back to the queue with them
                nonlocal worker
                for j in inflight:
                    pending.put(j)
                inflight.clear()
                if worker is not None:
                    self._release(worker)
                worker = None

            try:
                while not errors:
                    # One job running, and one more waiting in the worker's pipe when it is small: the worker
                    # then never waits for us (small, so that our write cannot block while the worker's does).
                    while len(inflight) < 2:
                        try:
                            i = pending.get_nowait()
                        except queue.Empty:
                            break
                        message = json.dumps(jobs[i])
                        if inflight and len(message) >= PIPELINE_BYTES:
                            pending.put(i)
                            break
                        if worker is None:
                            worker = self._acquire()
                        inflight.append(i)
                        try:
                            worker.send(jobs[i], message)
                        except WorkerLost:
                            drop_worker()
                    if not inflight:
                        return
                    i = inflight.popleft()
                    try:
                        result = worker.receive(jobs[i], host_budget_s(jobs[i]))  # type: ignore[union-attr]
                    except WorkerLost as exc:
                        results[i] = lost(exc)
                        drop_worker()
                        continue
                    if result["infra"]:
                        raise WorkerError(f"sandbox: {result['detail']}")
                    results[i] = result
                    if result["retire"]:  # the worker asked to be replaced (its memory grew, a candidate hung)
                        worker.kill()  # type: ignore[union-attr]
                        drop_worker()
            except BaseException as exc:
                errors.append(exc)
            finally:
                drop_worker()

        n_threads = max(1, min(concurrency, len(jobs)))
        if n_threads == 1:
            drain()
        else:
            threads = [threading.Thread(target=drain, daemon=True) for _ in range(n_threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        if any(r is None for r in results):
            raise WorkerError("sandbox jobs were left unfinished")
        return results  # type: ignore[return-value]

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break


_default: dict[tuple[bool, bool], Pool] = {}
_default_lock = threading.Lock()


def default_pool(isolation: Isolation, size: int) -> Pool:
    """The process-wide pool for this isolation, grown to at least `size` workers."""
    key = (isolation.isolated, isolation.drop_uid)
    with _default_lock:
        pool = _default.get(key)
        if pool is None:
            pool = _default[key] = Pool(isolation, size)
        else:
            pool.grow(size)
        return pool


@atexit.register
def _shutdown() -> None:
    for pool in list(_default.values()):
        pool.close()
    _cgroup.remove_leftovers()
