"""A sandbox worker: a long-lived judge process plus a pristine fork server (the "zygote").

One worker runs inside its own bubblewrap sandbox (no network, own pid/ipc/uts/mount namespaces,
read-only system files, the evaluator and the datasets not mounted) and handles jobs one at a time:
  1. the zygote (forked at start-up, before any job exists, so its memory holds no test and no
     expected value) forks a candidate process, which locks itself down (`_child.lock_down`);
  2. the judge sends it the program, then runs the test against a proxy (`_judge`);
  3. the candidate's process group is killed (seccomp stops it from making other processes; without
     seccomp every process under its uid is killed too), its scratch directory is closed to the next
     candidate at once and removed once the process is gone, and the verdict goes back to the host.
Each worker is pinned to one CPU when there are enough: the judge and its candidate then hand
messages back and forth on one core, which is markedly faster than waking another (virtual) CPU.
Forking from a small warm zygote costs a couple of milliseconds; a fresh interpreter would cost 13+.
Shipped as source into the sandbox: imports nothing from evalkit.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import shutil
import signal
import socket
import sys
import tempfile
import time

from sandbox import _child, _judge, _seccomp
from sandbox._codec import CodecError
from sandbox._frames import ChannelClosed, read_frame, write_frame

#: Imported once in the zygote so that candidates do not pay for them.
PRELOAD = ("array", "bisect", "cmath", "collections", "copy", "dataclasses", "datetime", "decimal", "fractions",
           "functools", "hashlib", "heapq", "itertools", "json", "math", "operator", "random", "re", "statistics",
           "string", "typing", "unicodedata")


def _zygote(sock: socket.socket, seccomp_program: bytes | None) -> None:
    seccomp = _seccomp.Installer(seccomp_program) if seccomp_program is not None else None
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps finished candidates
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            __import__(name)
    gc.collect()
    gc.freeze()  # forked children then share these pages instead of touching them
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 65536, 2)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _child.main(fds[0], fds[1], json.loads(msg), seccomp)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        sock.sendall(str(pid).encode())


class Worker:
    def __init__(self, config: dict):
        sys.path.extend(config.get("sys_path") or [])  # the allowed third-party packages (numpy)
        if config.get("cpu") is not None:  # judge and candidates on one core: each hand-off stays local
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {config["cpu"]})
        self.uid: int | None = config.get("uid")
        self.tmp_root: str = config.get("tmp_root") or tempfile.gettempdir()
        self.seccomp_program = _seccomp.build_filter() if config.get("seccomp", True) else None
        self.zygote_sock: socket.socket | None = None
        self.pending: list[tuple[int, str]] = []  # (pid, scratch) of killed candidates to clean up
        self.zygote_pid = 0

    def start_zygote(self, close_fds: tuple[int, ...]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                for fd in close_fds:
                    os.close(fd)
                _zygote(theirs, self.seccomp_program)
            finally:
                os._exit(0)
        theirs.close()
        self.zygote_sock, self.zygote_pid = ours, pid

    def _spawn(self, scratch: str, job: dict) -> _judge.Channel:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        spec = {"scratch": scratch, "memory_mb": job["memory_mb"], "uid": self.uid,
                "cpu_s": int(math.ceil(job["timeout_s"])) + 1}
        try:
            socket.send_fds(self.zygote_sock, [json.dumps(spec).encode()], [req_r, resp_w])
            pid = int(self.zygote_sock.recv(64))
        finally:
            os.close(req_r)
            os.close(resp_w)
        return _judge.Channel(pid, req_w, resp_r)

    def _kill(self, channel: _judge.Channel, scratch: str) -> None:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(channel.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):  # closed to the next candidate (same uid) at once
            os.chown(scratch, 0, 0)
            os.chmod(scratch, 0o700)
        if self.uid is not None and self.seccomp_program is None:  # with seccomp it cannot have made processes
            _kill_uid(self.uid)
        for fd in (channel.req_w, channel.resp_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.pending.append((channel.pid, scratch))
        self._clean()

    def _clean(self, wait_s: float = 0.0) -> None:
        """Remove the scratch directories of candidates that are gone (a dying one may still write)."""
        give_up = time.monotonic() + wait_s
        while self.pending:
            pid, scratch = self.pending[0]
            try:
                os.kill(pid, 0)
                if time.monotonic() < give_up:
                    time.sleep(0.0005)
                    continue
                if len(self.pending) < 64:
                    return
            except OSError:
                pass
            self.pending.pop(0)
            try:
                os.rmdir(scratch)  # the common case: the candidate wrote nothing
            except OSError:
                shutil.rmtree(scratch, ignore_errors=True)

    def _attempt(self, job: dict, mode: str, deadline: float) -> tuple[_judge.Verdict, dict]:
        scratch = tempfile.mkdtemp(prefix="job-", dir=self.tmp_root)
        if self.uid is not None:
            os.chown(scratch, self.uid, self.uid)
        os.chmod(scratch, 0o700)
        channel = self._spawn(scratch, job)
        extra: dict = {}
        try:
            if mode == "inproc":
                program = "\n".join([job.get("context") or "", job["solution"], job["test"]])
                verdict = _judge.load_program(channel, "inproc", program, job["entry_point"], deadline)
                return verdict or _judge.Verdict("passed", "test ran inside the candidate process", "weak"), extra
            verdict = _judge.load_program(channel, "rpc", job["solution"], job["entry_point"], deadline)
            if verdict is not None:
                return verdict, extra
            if job["kind"] == "script":
                return _judge.run_script(channel, job, deadline), extra
            if job["kind"] == "io":
                return _judge.run_io(channel, job, deadline), extra
            verdict, extra["outputs"], extra["times"] = _judge.run_calls(channel, job, deadline)
            return verdict, extra
        finally:
            self._kill(channel, scratch)

    def run_job(self, job: dict) -> dict:
        start = time.monotonic()
        deadline = start + float(job["timeout_s"])
        try:
            try:
                verdict, extra = self._attempt(job, "rpc", deadline)
            except _judge.NeedsInProcess as exc:
                if not job.get("allow_inproc", True):
                    verdict, extra = _judge.Verdict("error", f"test cannot run against a proxy: {exc}"), {}
                else:
                    verdict, extra = self._attempt(job, "inproc", time.monotonic() + float(job["timeout_s"]))
                    if verdict.status == "passed":
                        verdict.detail = f"weak verdict (test ran in the candidate process): {exc}"
        except (CodecError, ValueError, TypeError, KeyError) as exc:
            verdict, extra = _judge.Verdict("error", f"bad job: {type(exc).__name__}: {exc}"), {}
        result = {"id": job.get("id"), "status": verdict.status, "detail": verdict.detail, "trust": verdict.trust,
                  "duration": time.monotonic() - start}
        result.update(extra)
        return result


def _kill_uid(uid: int) -> None:
    """SIGKILL every process that runs under the candidate's uid (anything it managed to leave)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith(b"Uid:"):
                if int(line.split()[1]) == uid:
                    with contextlib.suppress(OSError):
                        os.kill(int(entry), signal.SIGKILL)
                break


def main(proto_in: int, proto_out: int, config: dict) -> None:
    """Serve jobs from the host until it hangs up."""
    worker = Worker(config)
    worker.start_zygote(close_fds=(proto_in, proto_out))
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(null, fd)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - test code may print; it must not reach the protocol
    hello = {"seccomp": worker.seccomp_program is not None, "uid": worker.uid, "pid": os.getpid()}
    write_frame(proto_out, ["ready", json.dumps(hello)])
    while True:
        try:
            job = read_frame(proto_in)
        except (ChannelClosed, OSError):
            break
        write_frame(proto_out, ["result", json.dumps(worker.run_job(_job_from_wire(job)))])
    with contextlib.suppress(OSError):
        os.kill(worker.zygote_pid, signal.SIGKILL)


def _job_from_wire(message: object) -> dict:
    """Jobs travel as ["job", json-text] so that the strict frame codec never sees JSON objects."""
    if type(message) is not list or len(message) != 2 or message[0] != "job":
        raise ChannelClosed("host sent a malformed job")
    return json.loads(message[1])
