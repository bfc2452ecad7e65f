"""A sandbox worker: a long-lived judge process plus a pristine fork server (the "zygote").

One worker runs inside its own bubblewrap sandbox (no network, own pid/ipc/uts/mount namespaces,
read-only system files, the evaluator and the datasets not mounted) and handles jobs one at a time:
  1. the zygote (forked at start-up, before any job exists, so its memory holds no test and no
     expected value) forks a candidate into a pid namespace of its own; the candidate locks itself
     down (`_child.lock_down`: its own mount and IPC namespaces, private /tmp and /proc, the worker's
     memory cgroup, rlimits, uid drop, seccomp);
  2. the judge sends it the program, then runs the test against a proxy (`_judge`), under the judge's
     own limits (deadline, memory);
  3. the candidate is killed (seccomp stops it from making other processes; without seccomp every
     process under its uid is killed too) and the verdict goes back to the host. Its files, IPC
     objects and memory go with its namespaces, so there is nothing to clean up, and before the next
     candidate starts the worker waits until this one is gone, so candidates never overlap.
Nothing a candidate does reaches the zygote (it never reads from candidates) or a later candidate.
Where the namespaces cannot be made (unsafe mode without root), candidates get scratch directories
that the worker removes itself, iteratively and through permission traps (`remove_tree`).
Each worker is pinned to one CPU when there are enough: the judge and its candidate then hand
messages back and forth on one core, which is markedly faster than waking another (virtual) CPU.
Forking from a small warm zygote costs a couple of milliseconds; a fresh interpreter would cost 13+.
Shipped as source into the sandbox: imports nothing from evalkit.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import math
import os
import select
import signal
import socket
import sys
import tempfile
import time

from sandbox import _child, _judge, _seccomp
from sandbox._codec import CodecError, clean_text
from sandbox._frames import ChannelClosed, read_frame, write_frame

#: Imported once in the zygote so that candidates do not pay for them.
PRELOAD = ("array", "bisect", "cmath", "collections", "copy", "dataclasses", "datetime", "decimal", "fractions",
           "functools", "hashlib", "heapq", "itertools", "json", "math", "operator", "random", "re", "statistics",
           "string", "typing", "unicodedata")
CLONE_NEWPID = 0x20000000
CAP_KILL, CAP_SYS_ADMIN = 5, 21
#: How long a killed candidate may take to be gone before the worker asks to be replaced.
EXIT_WAIT_S = 10.0
#: The worker asks to be replaced once it has grown this much past its size after start-up.
RETIRE_GROWTH_BYTES = 512 * 1024 * 1024
#: Test in every new worker: it proves the whole isolation path works before any real job runs.
SELF_TEST = {"kind": "script", "solution": "def f(x):\n    return x + 1\n", "test": "assert f(1) == 2\n",
             "entry_point": "f", "timeout_s": 30.0, "memory_mb": 256, "context": "", "call_timeout_s": None,
             "allow_inproc": False}


class InfraError(Exception):
    """The worker could not run a job for reasons of its own (never a verdict on the sample)."""


def _zygote(sock: socket.socket, seccomp_program: bytes | None, pid_namespaces: bool, drop_uid: bool) -> None:
    seccomp = _seccomp.Installer(seccomp_program) if seccomp_program is not None else None
    _child.prepare_zygote(drop_uid, seccomp)
    libc = ctypes.CDLL(None, use_errno=True)
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY) if pid_namespaces else -1
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
        try:  # the next child is pid 1 of a fresh pid namespace: no pid it sees tells of earlier candidates
            if pid_namespaces and libc.unshare(CLONE_NEWPID) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWPID) failed")
            pid = os.fork()
        except OSError as exc:
            pid = -(exc.errno or 1)
        if pid == 0:
            try:
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _child.main(fds[0], fds[1], json.loads(msg), seccomp)
            finally:
                os._exit(70)
        if pid_namespaces and libc.setns(own_pid_ns, CLONE_NEWPID) != 0:
            os._exit(71)  # cannot go back to our own namespace: stop, the worker reports it
        for fd in fds:
            os.close(fd)
        sock.sendall(str(pid).encode())


def _effective_capabilities() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def _read_int_field(path: str, key: str) -> int:
    """`key N` from a cgroup file such as memory.events (0 when absent)."""
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


class _Dying:
    """A killed candidate that may still be exiting (its memory is freed as it goes)."""

    __slots__ = ("pid", "pidfd", "scratch")

    def __init__(self, pid: int, scratch: str | None):
        self.pid, self.scratch = pid, scratch
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except (OSError, AttributeError):
            self.pidfd = None

    def gone(self, timeout: float) -> bool:
        if self.pidfd is not None:
            return bool(select.select([self.pidfd], [], [], max(0.0, timeout))[0])
        give_up = time.monotonic() + timeout
        while True:
            try:
                os.kill(self.pid, 0)
            except OSError:
                return True
            if time.monotonic() >= give_up:
                return False
            time.sleep(0.0005)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class Worker:
    def __init__(self, config: dict):
        sys.path.extend(config.get("sys_path") or [])  # the allowed third-party packages (numpy)
        if config.get("cpu") is not None:  # judge and candidates on one core: each hand-off stays local
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {config["cpu"]})
        self.uid: int | None = config.get("uid")
        self.tmp_root: str = config.get("tmp_root") or tempfile.gettempdir()
        self.seccomp_program = _seccomp.build_filter() if config.get("seccomp", True) else None
        layers = config.get("layers") or {}
        can_unshare = bool(_effective_capabilities() & (1 << CAP_SYS_ADMIN))
        self.namespaces = can_unshare and layers.get("namespaces", True)
        self.pid_namespaces = can_unshare and layers.get("pid_namespace", True)
        self.judge_limits = layers.get("judge_limits", True)
        self.cgroup: str | None = config.get("cgroup")
        self.cgroup_version = int(config.get("cgroup_version") or 1)
        self.zygote_sock: socket.socket | None = None
        self.zygote_pid = 0
        self.dying: list[_Dying] = []
        self.memory_limit: int | None = None
        self.retire = False
        self.base_size = 0

    def start_zygote(self, close_fds: tuple[int, ...]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                for fd in close_fds:
                    os.close(fd)
                _zygote(theirs, self.seccomp_program, self.pid_namespaces, self.uid is not None)
            finally:
                os._exit(0)
        theirs.close()
        self.zygote_sock, self.zygote_pid = ours, pid
        present = _effective_capabilities()
        if present:  # the judge reads candidate data: it keeps only what it uses (the zygote keeps the rest)
            wanted = (CAP_KILL,) if self.namespaces else (0, 1, 3, CAP_KILL)  # + chown, dac_override, fowner
            _child.drop_capabilities(keep=tuple(cap for cap in wanted if present & (1 << cap)))
        self.base_size = _judge._vsz_bytes()

    # -- candidates ------------------------------------------------------------------------------

    def _spawn(self, job: dict) -> tuple[_judge.Channel, _Dying]:
        scratch = None if self.namespaces else self._make_scratch()
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        spec = {"namespaces": self.namespaces, "pid_namespace": self.pid_namespaces, "scratch": scratch,
                "cgroup": self.cgroup, "uid": self.uid, "memory_mb": job["memory_mb"],
                "cpu_s": int(math.ceil(job["timeout_s"])) + 1}
        try:
            socket.send_fds(self.zygote_sock, [json.dumps(spec).encode()], [req_r, resp_w])
            reply = self.zygote_sock.recv(64)
        except OSError as exc:
            raise InfraError(f"the sandbox's fork server is gone ({exc})") from None
        finally:
            os.close(req_r)
            os.close(resp_w)
        try:
            pid = int(reply)
        except ValueError:
            pid = 0
        if pid <= 0:
            os.close(req_w)
            os.close(resp_r)
            why = os.strerror(-pid) if pid < 0 else "the fork server stopped"
            raise InfraError(f"cannot start a candidate process ({why})")
        channel = _judge.Channel(pid, req_w, resp_r, trusted=job["kind"] == "calls")
        if self.cgroup:
            events = f"{self.cgroup}/{'memory.oom_control' if self.cgroup_version == 1 else 'memory.events'}"
            kills = _read_int_field(events, "oom_kill")
            limit_mb = job["memory_mb"]

            def explain() -> str:
                return f"its memory limit ({limit_mb} MB) was exceeded" if _read_int_field(events, "oom_kill") > kills \
                    else ""

            channel.explain_death = explain
        return channel, _Dying(pid, scratch)

    def _make_scratch(self) -> str:
        scratch = tempfile.mkdtemp(prefix="job-", dir=self.tmp_root)
        if self.uid is not None:
            os.chown(scratch, self.uid, self.uid)
        os.chmod(scratch, 0o700)
        return scratch

    def _kill(self, channel: _judge.Channel, dying: _Dying) -> None:
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(OSError):
                kill(channel.pid, signal.SIGKILL)
        if dying.scratch is not None:
            with contextlib.suppress(OSError):  # closed to the next candidate (same uid) at once
                os.chown(dying.scratch, 0, 0)
                os.chmod(dying.scratch, 0o700)
        if self.uid is not None and self.seccomp_program is None:  # with seccomp it cannot have made processes
            _kill_uid(self.uid)
        for fd in (channel.req_w, channel.resp_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.dying.append(dying)
        self._bury(wait_s=0.0)

    def _bury(self, wait_s: float) -> None:
        """Forget candidates that are gone (removing their scratch directories); wait up to `wait_s` for them."""
        give_up = time.monotonic() + wait_s
        while self.dying:
            dying = self.dying[0]
            if not dying.gone(give_up - time.monotonic()):
                if wait_s > 0:
                    self.retire = True  # it would not die: let the host start a fresh worker after this job
                return
            self.dying.pop(0)
            dying.close()
            if dying.scratch is not None:
                remove_tree(dying.scratch)

    def _set_memory_limit(self, memory_mb: int) -> None:
        if not self.cgroup or self.memory_limit == memory_mb:
            return
        name = "memory.limit_in_bytes" if self.cgroup_version == 1 else "memory.max"
        try:
            with open(f"{self.cgroup}/{name}", "w") as f:
                f.write(str(memory_mb * 1024 * 1024))
        except OSError as exc:
            raise InfraError(f"cannot set the candidates' memory limit ({exc})") from None
        self.memory_limit = memory_mb

    # -- jobs ------------------------------------------------------------------------------------

    def _attempt(self, job: dict, mode: str, deadline: float,
                 limits: _judge.JudgeLimits) -> tuple[_judge.Verdict, dict]:
        channel, dying = self._spawn(job)
        extra: dict = {}
        try:
            with limits.enforced() if self.judge_limits else contextlib.nullcontext():
                if mode == "inproc":
                    program = "\n".join([job.get("context") or "", job["solution"], job["test"]])
                    verdict = _judge.load_program(channel, "inproc", program, job["entry_point"], deadline)
                    return verdict or _judge.Verdict("passed", "test ran inside the candidate process", "weak"), extra
                verdict = _judge.load_program(channel, "rpc", job["solution"], job["entry_point"], deadline)
                if verdict is not None:
                    return verdict, extra
                if job["kind"] == "script":
                    return _judge.run_script(channel, job, deadline, limits), extra
                if job["kind"] == "io":
                    return _judge.run_io(channel, job, deadline, limits), extra
                verdict, extra["outputs"], extra["times"] = _judge.run_calls(channel, job, deadline, limits)
                return verdict, extra
        finally:
            self._kill(channel, dying)

    def _judge_job(self, job: dict) -> tuple[_judge.Verdict, dict]:
        timeout = float(job["timeout_s"])
        deadline = time.monotonic() + timeout
        limits = _judge.JudgeLimits(deadline + _judge.judge_grace_s(timeout))
        try:
            try:
                verdict, extra = self._attempt(job, "rpc", deadline, limits)
            except _judge.NeedsInProcess as exc:
                if not job.get("allow_inproc", True):
                    return _judge.Verdict("error", f"test cannot run against a proxy: {clean_text(str(exc))}"), {}
                deadline = time.monotonic() + timeout
                limits = _judge.JudgeLimits(deadline + _judge.judge_grace_s(timeout))
                verdict, extra = self._attempt(job, "inproc", deadline, limits)
                if verdict.status == "passed":
                    verdict.detail = f"weak verdict (test ran in the candidate process): {clean_text(str(exc))}"
        except _judge.JudgeLimitExceeded:
            verdict, extra = _judge.Verdict("failed", limits.exceeded or "judge limit: deadline"), {}
        except MemoryError:
            verdict, extra = _judge.Verdict("failed", limits.memory_exceeded()), {}
            self.retire = True  # its heap may stay fragmented; a fresh worker judges the next sample
        except RecursionError:
            verdict, extra = _judge.Verdict("failed", "judge limit: the candidate's value nests too deeply"), {}
        if limits.exceeded:
            verdict, extra = _judge.Verdict("failed", limits.exceeded), {}
        return verdict, extra

    def run_job(self, job: dict) -> dict:
        """One job's result. Never raises: a failure of the worker itself is reported as `infra`."""
        start = time.monotonic()
        result: dict = {"id": job.get("id")}
        try:
            self._bury(wait_s=EXIT_WAIT_S)  # the previous candidate is gone: no overlap, all its memory free
            self._set_memory_limit(int(job["memory_mb"]))
            verdict, extra = self._judge_job(job)
            result.update(extra)
        except (InfraError, _judge.SetupFailed) as exc:
            verdict, result["infra"] = _judge.Verdict("error", clean_text(str(exc))), True
        except (CodecError, ValueError, TypeError, KeyError) as exc:
            verdict = _judge.Verdict("error", f"bad job: {type(exc).__name__}: {clean_text(str(exc), 200)}")
        except Exception as exc:  # a defect of the judge: this job only, and a fresh worker for the next
            verdict = _judge.Verdict("error", f"the judge failed: {type(exc).__name__}: {clean_text(str(exc), 200)}")
            self.retire = True
        result.update({"status": verdict.status, "detail": clean_text(verdict.detail, 1000), "trust": verdict.trust,
                       "duration": time.monotonic() - start})
        if _judge._vsz_bytes() > self.base_size + RETIRE_GROWTH_BYTES:
            self.retire = True
        if self.retire:
            result["retire"] = True
        return result


def remove_tree(path: str, max_steps: int = 1_000_000) -> bool:
    """Delete a directory tree of any depth without recursion, through permission traps; True when gone.

    Walks with directory fds (the paths of a deep tree exceed PATH_MAX) and keeps only the names on
    the way down, never follows symlinks, opens up directories the candidate made unreadable, and
    skips what cannot be removed instead of looping on it. At most `max_steps` entries are visited.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError:
        return not os.path.lexists(path)
    names: list[str] = []  # from `path` down to the directory `fd` is open on
    stuck: set[int] = set()  # inodes of directories that could not be opened or emptied
    steps = 0
    while steps < max_steps:
        steps += 1
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o700)
        subdir = None
        with contextlib.suppress(OSError), os.scandir(fd) as entries:
            for entry in entries:
                steps += 1
                try:
                    if not entry.is_dir(follow_symlinks=False):
                        os.unlink(entry.name, dir_fd=fd)
                    elif entry.inode() not in stuck:
                        subdir = entry.name
                        break
                except OSError:
                    continue
        if subdir is not None:
            child = _open_dir(subdir, fd, flags)
            if child is None:
                with contextlib.suppress(OSError):
                    stuck.add(os.stat(subdir, dir_fd=fd, follow_symlinks=False).st_ino)
                continue
            os.close(fd)
            fd = child
            names.append(subdir)
            continue
        if not names:
            break
        inode = os.fstat(fd).st_ino
        parent = os.open("..", flags, dir_fd=fd)  # the candidate is gone: nothing moves under us
        os.close(fd)
        fd = parent
        try:
            os.rmdir(names.pop(), dir_fd=fd)
        except OSError:
            stuck.add(inode)
    os.close(fd)
    if names:
        return False
    try:
        os.rmdir(path)
    except OSError:
        return not os.path.lexists(path)
    return True


def _open_dir(name: str, dir_fd: int, flags: int) -> int | None:
    for _ in range(2):
        try:
            return os.open(name, flags, dir_fd=dir_fd)
        except OSError:  # a directory the candidate made unreadable: open it up once
            with contextlib.suppress(OSError):  # a directory (checked without following links), and no one moves it
                os.chmod(name, 0o700, dir_fd=dir_fd)
    return None


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
    test = worker.run_job(SELF_TEST)
    hello = {"seccomp": worker.seccomp_program is not None, "uid": worker.uid, "pid": os.getpid(),
             "namespaces": worker.namespaces, "pid_namespaces": worker.pid_namespaces,
             "memory_cgroup": worker.cgroup is not None,
             "self_test": "passed" if test["status"] == "passed" else f"{test['status']}: {test['detail']}"}
    write_frame(proto_out, ["ready", json.dumps(hello)])
    while True:
        try:
            job = read_frame(proto_in)
        except (ChannelClosed, OSError):
            break
        result = worker.run_job(_job_from_wire(job))
        write_frame(proto_out, ["result", json.dumps(result)])
        if result.get("retire"):
            break  # the host replaces this worker
    with contextlib.suppress(OSError):
        os.kill(worker.zygote_pid, signal.SIGKILL)


def _job_from_wire(message: object) -> dict:
    """Jobs travel as ["job", json-text] so that the strict frame codec never sees JSON objects."""
    if type(message) is not list or len(message) != 2 or message[0] != "job":
        raise ChannelClosed("host sent a malformed job")
    return json.loads(message[1])

