"""Run a function in a worker process under a hard deadline, callable from any thread.

Why a process pool and not signals: symbolic math on adversarial input (power towers, huge
factorials, deep nesting) can run for minutes and cannot be interrupted from inside Python.
`signal.alarm` works only on the main thread, takes whole seconds and clobbers the caller's own
alarms, which is how math-verify silently zeroes rewards inside Ray/verl workers. Here a worker
that overruns is SIGKILLed by the parent and replaced; the caller gets `DeadlineExceeded` on time.

Workers are persistent (a call costs a pipe round trip, ~0.3 ms, not a fork) and started lazily
as fresh interpreters (`python -c`), never by forking: that is safe in processes that already run
threads (a trainer), and unlike multiprocessing's `spawn` it does not re-run the caller's
`__main__` script, so user scripts need no `if __name__ == "__main__"` guard. They preload the
modules they need once, and run under an address-space limit so a runaway allocation ends in a
MemoryError inside the worker instead of swapping the host. This module owns process management
only; it knows nothing about math.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

#: Time a fresh worker may take to start and import its preload modules.
STARTUP_TIMEOUT_S = 120.0


class DeadlineExceeded(Exception):
    """The call ran past its deadline; its worker was killed and is being replaced."""


class WorkerCrashed(Exception):
    """The worker died during the call (e.g. killed by the OOM killer); it is being replaced."""


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    send: Connection
    recv: Connection


def serve(preload: Sequence[str], memory_limit_mb: int | None) -> None:
    """Worker main loop on stdin/stdout: receive (fn, args), send (ok, value-or-exception) until EOF.

    The protocol owns fds 0 and 1; fd 1 is then pointed at stderr so stray prints from libraries
    cannot corrupt it. Ctrl-C is left to the parent, which closes the pipe and so ends the worker.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    recv = Connection(os.dup(0), writable=False)
    send = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    if memory_limit_mb:
        try:
            import resource

            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass  # not every platform lets a process lower its limit; the deadline still holds
    for name in preload:
        importlib.import_module(name)
    send.send(("ready", None))
    while True:
        try:
            fn, args = recv.recv()
        except (EOFError, OSError):
            return
        try:
            result: tuple[bool, Any] = (True, fn(*args))
        except BaseException as exc:  # reported to the caller, never kills the worker
            result = (False, exc)
        try:
            send.send(result)
        except Exception as exc:  # unpicklable result or exception
            send.send((False, RuntimeError(f"worker could not return its result: {exc!r}")))


class DeadlinePool:
    """A fixed-size pool of persistent worker processes with per-call deadlines.

    Thread-safe: each call checks a worker out, so at most `size` calls run at once and the rest
    wait for a free worker. The deadline counts from the moment the worker receives the call, so
    queueing behind other calls does not eat into it. Safe across `fork` of the parent: a child
    process notices the pid change and starts its own workers.
    """

    def __init__(self, size: int, *, preload: Sequence[str] = (), memory_limit_mb: int | None = 4096) -> None:
        if size < 1:
            raise ValueError("DeadlinePool size must be at least 1")
        self.size = size
        self.preload = tuple(preload)
        self.memory_limit_mb = memory_limit_mb
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._live = 0  # workers started or starting, not yet discarded
        self._all: set[int] = set()
        self._workers: list[_Worker] = []

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> Any:
        """`fn(*args)` in a worker; raises DeadlineExceeded after `timeout_s` seconds of work.

        `fn` must be a module-level function (it is pickled by reference). Exceptions raised by
        `fn` are re-raised here.
        """
        worker = self._acquire()
        try:
            worker.send.send((fn, args))
            if not worker.recv.poll(max(timeout_s, 0.0)):
                self._discard(worker)
                raise DeadlineExceeded(f"{getattr(fn, '__name__', fn)} ran past {timeout_s:g}s")
            ok, value = worker.recv.recv()
        except (EOFError, OSError) as exc:
            self._discard(worker)
            raise WorkerCrashed(f"grader worker died: {exc!r}") from exc
        self._idle.put(worker)
        if not ok:
            raise value
        return value

    def warm_up(self) -> None:
        """Start every worker now (each imports its preload), so the first calls are not slow."""
        workers = [self._acquire() for _ in range(self.size)]
        for worker in workers:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop all workers; the pool starts fresh ones if used again."""
        if self._pid != os.getpid():
            return
        with self._lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            _kill(worker)
        self._reset()

    # -- internals -------------------------------------------------------------------------------

    def _acquire(self) -> _Worker:
        if self._pid != os.getpid():  # we are a forked child: the parent's workers are not ours
            self._reset()
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            start_new = self._live < self.size
            if start_new:
                self._live += 1
        if start_new:
            try:
                return self._start()
            except BaseException:
                with self._lock:
                    self._live -= 1
                raise
        return self._idle.get()

    def _start(self) -> _Worker:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        code = (
            "import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
            "from graders.deadline import serve; serve(json.loads(sys.argv[2]), json.loads(sys.argv[3]))"
        )
        paths = [p for p in sys.path if p]
        args = [json.dumps(paths), json.dumps(list(self.preload)), json.dumps(self.memory_limit_mb)]
        try:
            process = subprocess.Popen([sys.executable, "-c", code, *args], stdin=to_child_r, stdout=from_child_w,
                                       close_fds=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        worker = _Worker(process, Connection(to_child_w, readable=False), Connection(from_child_r, writable=False))
        with self._lock:
            self._workers.append(worker)
        try:
            if not worker.recv.poll(STARTUP_TIMEOUT_S):
                raise WorkerCrashed(f"grader worker did not start within {STARTUP_TIMEOUT_S:g}s")
            worker.recv.recv()
        except (EOFError, OSError) as exc:
            self._forget(worker)
            _kill(worker)
            raise WorkerCrashed(f"grader worker failed to start: {exc!r}") from exc
        except WorkerCrashed:
            self._forget(worker)
            _kill(worker)
            raise
        return worker

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)

    def _discard(self, worker: _Worker) -> None:
        """Kill an overrun or broken worker and start its replacement in the background."""
        self._forget(worker)
        _kill(worker)
        # The replacement takes over the dead worker's slot, so `_live` is unchanged.
        threading.Thread(target=self._replace, name="evalkit-grader-respawn", daemon=True).start()

    def _replace(self) -> None:
        try:
            self._idle.put(self._start())
        except BaseException:
            with self._lock:
                self._live -= 1


def _kill(worker: _Worker) -> None:
    try:
        worker.process.kill()
        worker.process.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        pass
    worker.send.close()
    worker.recv.close()


_POOLS: list[DeadlinePool] = []
_POOLS_LOCK = threading.Lock()


def shared_pool(preload: Sequence[str]) -> DeadlinePool:
    """The process-wide pool for `preload` (one per distinct preload list), created on first use.

    Size: `EVALKIT_GRADER_WORKERS`, else half the CPUs (at least 1, at most 8), since grading
    shares the machine with generation or training.
    """
    key = tuple(preload)
    with _POOLS_LOCK:
        for pool in _POOLS:
            if pool.preload == key:
                return pool
        pool = DeadlinePool(_default_size(), preload=key)
        _POOLS.append(pool)
        return pool


def _default_size() -> int:
    env = os.environ.get("EVALKIT_GRADER_WORKERS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"EVALKIT_GRADER_WORKERS must be a positive integer, got {env!r}")
        return int(env)
    return min(8, max(1, (os.cpu_count() or 2) // 2))


@atexit.register
def _close_pools() -> None:
    for pool in _POOLS:
        pool.close()
