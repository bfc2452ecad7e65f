"""Host side: a pool of long-lived sandbox workers and the job protocol to them.

Workers are started once (about 30 ms each: bubblewrap plus an interpreter) and then serve jobs
over a pipe; `run_many` feeds them from one thread per worker, so the host does no heavy work and
results come back in input order. A worker that stops answering (it should never happen: candidates
run in their own processes under deadlines) is killed and replaced, and its job reported as an error.
The worker's code is sent as source over its stdin, so nothing of the evaluator is mounted inside.
"""

from __future__ import annotations

import atexit
import contextlib
import json
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

from sandbox import _frames
from sandbox.isolation import Isolation, extra_sys_path, pick_uid_base, worker_command

#: Modules shipped into the worker, in dependency order.
WORKER_MODULES = ("_codec", "_frames", "_seccomp", "_child", "_judge", "_worker")
#: Extra seconds the host waits beyond a job's own budget before declaring the worker stuck.
HOST_GRACE_S = 30.0
STARTUP_TIMEOUT_S = 60.0

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


class WorkerError(RuntimeError):
    """A worker could not be started or stopped answering."""


class WorkerProcess:
    """One sandboxed worker and its pipes."""

    def __init__(self, isolation: Isolation, uid: int | None, cpu: int | None = None):
        self.isolation = isolation
        self.proc = subprocess.Popen(
            worker_command(isolation, _BOOT), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
        )
        self.to_worker = self.proc.stdin.fileno()  # type: ignore[union-attr]
        self.from_worker = self.proc.stdout.fileno()  # type: ignore[union-attr]
        os.set_blocking(self.to_worker, False)
        config = {"uid": uid, "tmp_root": "/tmp" if isolation.isolated else None, "seccomp": True,
                  "sys_path": extra_sys_path(isolation), "cpu": cpu}
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
            hello = _frames.read_frame(self.from_worker, deadline)
        except (OSError, _frames.ChannelClosed, _frames.ChannelTimeout) as exc:
            self.kill()
            raise WorkerError(f"sandbox worker failed to start: {exc}") from None
        if type(hello) is not list or hello[:1] != ["ready"]:
            self.kill()
            raise WorkerError("sandbox worker sent an unexpected greeting")
        self.info = json.loads(hello[1])

    def run(self, job: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        try:
            _frames.write_frame(self.to_worker, ["job", json.dumps(job)], deadline)
            reply = _frames.read_frame(self.from_worker, deadline)
        except (OSError, _frames.ChannelClosed, _frames.ChannelTimeout) as exc:
            self.kill()
            raise WorkerError(f"sandbox worker stopped answering: {exc}") from None
        if type(reply) is not list or len(reply) != 2 or reply[0] != "result":
            self.kill()
            raise WorkerError("sandbox worker sent a malformed result")
        return json.loads(reply[1])

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


#: Workers are started from this one long-lived thread: bubblewrap's --die-with-parent follows the
#: thread that started it, so a worker started from a short-lived thread would die with that thread.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawner")


class Pool:
    """Up to `size` workers, started on demand and kept warm between calls."""

    def __init__(self, isolation: Isolation, size: int):
        self.isolation = isolation
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
                return _SPAWNER.submit(WorkerProcess, self.isolation, uid, cpu).result()
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
        """Run wire-format jobs on up to `concurrency` workers; results in input order."""
        results: list[dict[str, Any] | None] = [None] * len(jobs)
        pending: queue.Queue[int] = queue.Queue()
        for i in range(len(jobs)):
            pending.put(i)
        errors: list[BaseException] = []

        def drain() -> None:
            worker: WorkerProcess | None = None
            try:
                while True:
                    try:
                        i = pending.get_nowait()
                    except queue.Empty:
                        return
                    if worker is None:
                        worker = self._acquire()
                    job = jobs[i]
                    try:
                        results[i] = worker.run(job, float(job["timeout_s"]) * 2 + HOST_GRACE_S)
                    except WorkerError as exc:
                        results[i] = {"status": "error", "detail": str(exc), "trust": "strong", "duration": 0.0}
                        self._release(worker)
                        worker = None
            except BaseException as exc:
                errors.append(exc)
            finally:
                if worker is not None:
                    self._release(worker)

        n_threads = max(1, min(concurrency, len(jobs)))
        if n_threads == 1:
            drain()
        else:
            threads = [threading.Thread(target=drain, daemon=True) for _ in range(n_threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if any(r is None for r in results):
            raise errors[0] if errors else WorkerError("sandbox jobs were left unfinished")
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
