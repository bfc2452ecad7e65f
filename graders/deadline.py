"""Run a function in a worker process under a hard deadline, callable from any thread.

Why a process pool and not signals: symbolic math on adversarial input (power towers, huge
factorials, deep nesting) can run for minutes and cannot be interrupted from inside Python.
`signal.alarm` works only on the main thread, takes whole seconds and clobbers the caller's own
alarms, which is how math-verify silently zeroes rewards inside Ray/verl workers. Here a worker
that overruns is SIGKILLed by the parent and replaced; the caller gets `DeadlineExceeded` on time.

How workers are made: one "zygote" process per pool is started as a fresh interpreter
(`python -I -c`, with the caller's `sys.path` but not its working directory, never a fork of the
caller: safe in processes that already run threads, and unlike
multiprocessing's spawn it does not re-run the caller's `__main__`, so scripts need no main
guard). The zygote imports the heavy modules once (sympy, math-verify) and then forks a worker
on request, handing it one end of a socketpair created by the parent. A replacement worker is
therefore ready in milliseconds, already warm, so the next call after a kill is not delayed by
imports. Workers are persistent (a call is a socket round trip, ~0.1-0.3 ms) and run under an
address-space limit, so a runaway allocation ends in a MemoryError instead of swapping the host.
The zygote finds this package wherever the caller imported it from (the caller's working directory
is not on its path), and a zygote that cannot start (a module it cannot import, a crash) or a bad
`EVALKIT_GRADER_WORKERS` raises `GraderUnavailable` with the reason: an infrastructure failure
is never reported as a slow or crashed call. This module owns process management only; it knows
nothing about math.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from graders.errors import GraderUnavailable

#: Time the zygote may take to start and import its preload modules.
STARTUP_TIMEOUT_S = 120.0
#: Time a fork request may take (the zygote is idle, so this is generous).
FORK_TIMEOUT_S = 10.0


class DeadlineExceeded(Exception):
    """The call ran past its deadline; its worker was killed and is being replaced."""


class WorkerCrashed(Exception):
    """The worker died during the call (e.g. killed by the OOM killer); it is being replaced."""


# -- processes (zygote side) ------------------------------------------------------------------


def _serve_calls(conn: Connection, memory_limit_mb: int | None) -> None:
    """Worker loop: receive (fn, args), send back (ok, value-or-exception), until EOF."""
    if memory_limit_mb:
        try:
            import resource

            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass  # not every platform lets a process lower its limit; the deadline still holds
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result: tuple[bool, Any] = (True, fn(*args))
        except BaseException as exc:  # reported to the caller, never kills the worker
            result = (False, exc)
        try:
            conn.send(result)
        except (EOFError, OSError):
            return
        except Exception as exc:  # unpicklable result or exception
            conn.send((False, RuntimeError(f"worker could not return its result: {exc!r}")))


def zygote_main(control_fd: int, preload: Sequence[str], memory_limit_mb: int | None) -> None:
    """Import `preload`, then fork one worker per request received on `control_fd`, until EOF.

    Stdout is pointed at stderr so stray prints from libraries cannot reach the caller's stdout;
    SIGCHLD is ignored so killed workers are reaped automatically; Ctrl-C is left to the parent,
    whose exit closes the sockets and so ends the zygote and its workers.
    """
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    control = socket.socket(fileno=control_fd)
    try:
        for name in preload:  # "module" or "module:function" (called once, to warm caches forks inherit)
            module_name, _, function = name.partition(":")
            module = importlib.import_module(module_name)
            if function:
                getattr(module, function)()
    except BaseException as exc:  # reported to the parent, which raises GraderUnavailable
        control.sendall(f"error {type(exc).__name__}: {exc}".replace("\n", " ").encode() + b"\n")
        return
    control.sendall(b"ready\n")
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 16, 1)
        except OSError:
            return
        if not fds:  # EOF: the parent is gone
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                _serve_calls(Connection(fds[0]), memory_limit_mb)
            finally:
                os._exit(0)
        os.close(fds[0])
        control.sendall(f"{pid}\n".encode())


# -- pool (caller side) ---------------------------------------------------------------------------


@dataclass
class _Worker:
    pid: int
    conn: Connection


class _Zygote:
    """The parent's handle on a zygote process; `fork()` is serialised by a lock."""

    def __init__(self, preload: Sequence[str], memory_limit_mb: int | None) -> None:
        parent_sock, child_sock = socket.socketpair()
        code = _ZYGOTE_CODE
        args = [json.dumps(_zygote_path()), str(child_sock.fileno()), json.dumps(list(preload)),
                json.dumps(memory_limit_mb)]
        try:
            self.process = subprocess.Popen([sys.executable, "-I", "-c", code, *args], stdin=subprocess.DEVNULL,
                                            pass_fds=(child_sock.fileno(),))
        except OSError as exc:
            parent_sock.close()
            raise GraderUnavailable(f"the grader's worker process could not be started ({sys.executable}): {exc}") \
                from exc
        finally:
            child_sock.close()
        self.sock = parent_sock
        self.lock = threading.Lock()
        self.reader = parent_sock.makefile("rb")
        parent_sock.settimeout(STARTUP_TIMEOUT_S)
        try:
            line = self.reader.readline().decode(errors="replace").strip()
        except (OSError, TimeoutError) as exc:
            self.close()
            raise GraderUnavailable(f"the grader's worker process did not start within {STARTUP_TIMEOUT_S:g}s: "
                                    f"{exc!r}") from exc
        if line != "ready":
            self.close()
            reason = line.removeprefix("error ") or f"it exited with code {self.process.returncode}"
            raise GraderUnavailable(f"the grader's worker process could not start: {reason} (python "
                                    f"{sys.executable}; preload {', '.join(preload) or 'none'})")
        parent_sock.settimeout(FORK_TIMEOUT_S)

    def fork(self) -> _Worker:
        ours, theirs = socket.socketpair()
        try:
            with self.lock:
                socket.send_fds(self.sock, [b"f"], [theirs.fileno()])
                line = self.reader.readline()
        except (OSError, TimeoutError) as exc:
            ours.close()
            raise WorkerCrashed(f"grader zygote failed to fork: {exc!r}") from exc
        finally:
            theirs.close()
        if not line.strip().isdigit():
            ours.close()
            raise WorkerCrashed("grader zygote is gone")
        return _Worker(int(line), Connection(ours.detach()))

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.reader.close()
        self.sock.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class DeadlinePool:
    """A fixed-size pool of persistent worker processes with per-call deadlines.

    Thread-safe: each call checks a worker out, so at most `size` calls run at once and the rest
    wait for a free worker. The deadline counts from the moment the worker receives the call, so
    queueing behind other calls does not eat into it. Safe across `fork` of the parent: a child
    process notices the pid change and starts its own zygote and workers.
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
        self._zygote: _Zygote | None = None
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._live = 0  # workers checked out or idle
        self.kills = 0

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> Any:
        """`fn(*args)` in a worker; raises DeadlineExceeded after `timeout_s` seconds of work.

        `fn` must be a module-level function (it is pickled by reference). Exceptions raised by
        `fn` are re-raised here.
        """
        worker = self._acquire()
        try:
            worker.conn.send((fn, args))
            if not worker.conn.poll(max(timeout_s, 0.0)):
                self._discard(worker)
                raise DeadlineExceeded(f"{getattr(fn, '__name__', fn)} ran past {timeout_s:g}s")
            ok, value = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self._discard(worker)
            raise WorkerCrashed(f"grader worker died: {exc!r}") from exc
        self._idle.put(worker)
        if not ok:
            raise value
        return value

    def warm_up(self) -> None:
        """Start the zygote and every worker now, so the first calls are not slow."""
        workers = [self._acquire() for _ in range(self.size)]
        for worker in workers:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop all workers and the zygote; the pool starts fresh ones if used again."""
        if self._pid != os.getpid():
            return
        with self._lock:
            zygote, self._zygote = self._zygote, None
        while True:
            try:
                _kill(self._idle.get_nowait())
            except queue.Empty:
                break
        if zygote is not None:
            zygote.close()  # its exit ends every worker still running (their sockets close)
        self._reset()

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
        if not start_new:
            return self._idle.get()
        try:
            return self._fork()
        except BaseException:
            with self._lock:
                self._live -= 1
            raise

    def _fork(self) -> _Worker:
        for attempt in range(2):  # a zygote that died (OOM killer, a stray signal) is replaced once
            with self._lock:
                if self._zygote is None or not self._zygote.alive():
                    self._zygote = _Zygote(self.preload, self.memory_limit_mb)
                zygote = self._zygote
            try:
                return zygote.fork()
            except WorkerCrashed as exc:
                with self._lock:
                    if self._zygote is zygote:
                        self._zygote = None
                zygote.close()
                if attempt:
                    raise GraderUnavailable(f"the grader's worker process cannot start workers: {exc}") from exc
        raise AssertionError("unreachable")

    def _discard(self, worker: _Worker) -> None:
        """Kill an overrun or broken worker; its slot is refilled by the next call that needs one."""
        _kill(worker)
        with self._lock:
            self._live -= 1
            self.kills += 1


def _kill(worker: _Worker) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(worker.pid, signal.SIGKILL)
    worker.conn.close()


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
        pool = DeadlinePool(configured_size(), preload=key)
        _POOLS.append(pool)
        return pool


def configured_size() -> int:
    """The pool size the environment asks for; raises GraderUnavailable for a bad setting."""
    env = os.environ.get("EVALKIT_GRADER_WORKERS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise GraderUnavailable(f"EVALKIT_GRADER_WORKERS must be a positive integer (the number of grader "
                                    f"worker processes), got {env!r}; unset it to use half the CPUs")
        return int(env)
    return min(8, max(1, (os.cpu_count() or 2) // 2))


# The zygote's entry point. It reports an import failure (this package missing from its path, a
# broken install) on the control socket instead of dying silently.
_ZYGOTE_CODE = """import sys, json, socket
sys.path[:0] = json.loads(sys.argv[1])
try:
    from graders.deadline import zygote_main
except BaseException as exc:
    message = f"error {type(exc).__name__}: {exc}".replace("\\n", " ")
    socket.socket(fileno=int(sys.argv[2])).sendall(message.encode() + b"\\n")
    raise SystemExit(1)
zygote_main(int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4]))
"""


def _zygote_path() -> list[str]:
    """The caller's import path, with the directory this package was imported from first (the
    caller may have found it through its working directory, which the zygote does not inherit)."""
    package_root = str(Path(__file__).resolve().parents[1])
    return [package_root, *(p for p in sys.path if p and p != package_root)]


@atexit.register
def _close_pools() -> None:
    for pool in _POOLS:
        pool.close()
