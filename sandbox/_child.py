"""The candidate process: lock itself down, run the untrusted program, then answer calls.

Runs in a process forked from the zygote (which has never seen a test or an expected value), as pid 1
of a pid namespace of its own. Order matters: new session, only the two channel fds survive, then
namespaces of its own (mount and IPC): a private tmpfs on /tmp (its cwd and HOME) and a /proc that
shows only itself, so files, SysV and POSIX IPC objects and pids it leaves die with it and nothing of
an earlier candidate is visible; then it joins the worker's memory cgroup (its limit counts tmpfs,
kernel and anonymous memory alike), rlimits, parent-death signal, drop to the per-worker uid (or, in a
user namespace, drop every capability), then the seccomp filter, and only then the untrusted code.
What all candidates share (static rlimits, no_new_privs, environment) is set once in the zygote.
After that nothing here is trusted any more: the candidate may rewrite this loop, but all it can ever
do is send plain data (see `_codec`) that the judge checks.
Shipped as source into the sandbox: imports nothing from evalkit.
"""

from __future__ import annotations

import builtins
import ctypes
import os
import resource
import signal
import sys
import time

from sandbox import _codec, _seccomp
from sandbox._frames import FrameReader, write_frame

PR_SET_PDEATHSIG = 1
FSIZE_BYTES = 16 * 1024 * 1024
NOFILE = 64
NPROC = 64
#: The candidate's private scratch: a tmpfs mounted on /tmp in its own mount namespace (cwd, HOME,
#: TMPDIR), so the kernel frees it with the candidate and no other candidate ever sees it.
SCRATCH_DIR = "/tmp"
SCRATCH_BYTES = 64 * 1024 * 1024
SCRATCH_INODES = 8192
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded once in the zygote, inherited by every candidate
_LIBC.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
#: Longest exception type name and message a candidate reports (the judge truncates again).
MAX_NAME_CHARS = 100
MAX_MESSAGE_CHARS = 300


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _limit(which: int, value: int) -> None:
    try:
        resource.setrlimit(which, (value, value))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(which)
        if hard == resource.RLIM_INFINITY or value < hard:
            resource.setrlimit(which, (value, hard if hard != resource.RLIM_INFINITY else value))


def private_namespaces(uid: int | None) -> None:
    """Mount and IPC namespaces of the candidate's own (needs CAP_SYS_ADMIN, before the uid drop).

    The mount tree is made private first, so nothing mounted here can propagate to the worker or host.
    """
    _check(_LIBC.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare(mount, ipc)")
    _check(_LIBC.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    owner = "" if uid is None else f",uid={uid},gid={uid}"
    options = f"size={SCRATCH_BYTES},nr_inodes={SCRATCH_INODES},mode=0700{owner}".encode()
    _check(_LIBC.mount(b"tmpfs", SCRATCH_DIR.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), "mounting /tmp")
    # Only its own pid namespace, and no system-wide files (meminfo, loadavg, sys): nothing another sample moves.
    # (subset=pid needs Linux 5.8; before that /proc still shows only its own processes.)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if _LIBC.mount(b"proc", b"/proc", b"proc", flags, b"subset=pid") != 0:
        _check(_LIBC.mount(b"proc", b"/proc", b"proc", flags, None), "mounting /proc")


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities(keep: tuple[int, ...] = ()) -> None:
    """Keep only the capabilities numbered in `keep` (effective and permitted); the rest are gone for good."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for cap in keep:
        data[cap // 32].effective |= 1 << (cap % 32)
        data[cap // 32].permitted |= 1 << (cap % 32)
    _check(_LIBC.capset(ctypes.byref(header), data), "capset")


#: rlimits every candidate gets, set once in the zygote (inherited at fork).
STATIC_LIMITS = ((resource.RLIMIT_FSIZE, FSIZE_BYTES), (resource.RLIMIT_NOFILE, NOFILE), (resource.RLIMIT_CORE, 0),
                 (resource.RLIMIT_MEMLOCK, 0), (resource.RLIMIT_MSGQUEUE, 0))
CANDIDATE_ENV = {"PATH": "/usr/bin:/bin", "HOME": SCRATCH_DIR, "TMPDIR": SCRATCH_DIR, "LANG": "C.UTF-8",
                 "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def prepare_zygote(drop_uid: bool, seccomp: _seccomp.Installer | None) -> None:
    """What all candidates share, done once in the zygote and inherited at fork: the static rlimits,
    no_new_privs, the candidates' environment, and the C functions resolved. Each thing a child does
    itself costs it copied pages (every object Python touches after fork is copied on write)."""
    for which, value in STATIC_LIMITS:
        _limit(which, value)
    if drop_uid:  # counted per uid: only meaningful (and harmless to the zygote, root) with the uid drop
        _limit(resource.RLIMIT_NPROC, NPROC)
    if _LIBC.prctl(_seccomp.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    os.environ.clear()
    os.environ.update(CANDIDATE_ENV)
    for name in ("prctl", "unshare", "mount", "capset"):
        getattr(_LIBC, name)
    if seccomp is not None:
        seccomp.prepare()


def lock_down(req_fd: int, resp_fd: int, spec: dict, seccomp: _seccomp.Installer | None) -> None:
    """Everything before the untrusted code runs that is the candidate's own (the rest was done once in the
    zygote, see `prepare_zygote`); any failure here kills the child (fail closed)."""
    os.setsid()
    low = 3  # the zygote keeps 0-2 on /dev/null, so the channel fds are always above 2
    for fd in sorted((req_fd, resp_fd)):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 65536)
    uid = spec.get("uid")
    if spec.get("pid_namespace") and os.getpid() != 1:  # fail closed: the zygote must have made it pid 1
        raise RuntimeError("the candidate is not alone in a pid namespace")
    if spec.get("cgroup"):  # before anything is allocated: from here on every page counts
        _write(f"{spec['cgroup']}/cgroup.procs", b"0")
    if spec.get("namespaces"):
        private_namespaces(uid)
        os.chdir(SCRATCH_DIR)
    else:
        os.chdir(spec["scratch"])
        os.environ["HOME"] = os.environ["TMPDIR"] = spec["scratch"]
    memory = int(spec["memory_mb"]) * 1024 * 1024
    _limit(resource.RLIMIT_AS, memory)
    _limit(resource.RLIMIT_DATA, memory)
    _limit(resource.RLIMIT_CPU, int(spec["cpu_s"]))
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if uid is not None:  # leaving uid 0 clears every capability
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:  # one uid only (a user namespace, or unsafe mode): give up the worker's capabilities instead
        drop_capabilities()
    if seccomp is not None:
        seccomp.install()


def _exception_reply(exc: BaseException) -> list:
    try:
        message = str.__str__(str(exc))[:MAX_MESSAGE_CHARS]
    except BaseException:  # a hostile __str__
        message = ""
    try:
        name = str.__str__(type(exc).__name__)[:MAX_NAME_CHARS]
    except BaseException:  # a metaclass with a hostile __name__
        name = "Exception"
    return ["exc", name, message]


def answer(fn, args: list, kwargs: dict, mode: str) -> list:
    """Call the candidate once; the reply as data: ["ok", value, args-after, s] | ["dg", digest, s] |
    ["exc", type, message] | ["big", detail] | ["bad", detail]."""
    start = time.perf_counter()
    try:
        result = fn(*args, **kwargs)
        if mode == "nn":  # evalplus compares only "is not None" for outputs that are not data
            result = result if isinstance(result, bool) else result is not None
    except BaseException as exc:
        return _exception_reply(exc)
    try:  # the seconds reported include encoding: per-call limits derived from them must cover it too
        wire = _codec.encode(result, lenient=True)
        if mode == "d" or mode.startswith("r") and len(_codec.dumps(wire)) > int(mode[1:]):
            plain = _codec.decode(wire)
            if mode == "d" or not _codec.is_floats(plain):  # large outputs are compared by digest
                return ["dg", _codec.canonical_digest(plain), time.perf_counter() - start]
        mutable = any(type(a) in (list, dict, set) for a in args)
        changed = _codec.encode(list(args), lenient=True) if mutable else None
        return ["ok", wire, changed, time.perf_counter() - start]
    except _codec.TooLarge as exc:
        return ["big", f"return value: {str(exc)[:200]}"]
    except (_codec.CodecError, RecursionError, MemoryError, ValueError) as exc:
        return ["bad", f"return value: {str(exc)[:200]}"]


def serve(req_fd: int, resp_fd: int) -> None:
    """Load the program named by the first message, then answer calls until the judge hangs up."""
    requests = FrameReader(req_fd)
    load = requests.read()
    nonce, mode, program, entry_point = load[1], load[2], load[3], load[4]
    namespace: dict = {"__name__": "__candidate__", "__builtins__": builtins}
    try:
        exec(compile(program, "<candidate>", "exec", dont_inherit=True), namespace)
    except BaseException as exc:  # the candidate's own failure, reported as data
        write_frame(resp_fd, [nonce, *_exception_reply(exc)])
        return
    if mode == "inproc":
        write_frame(resp_fd, [nonce, "done"])
        return
    fn = namespace.get(entry_point)
    if not callable(fn):
        write_frame(resp_fd, [nonce, "missing", entry_point])
        return
    write_frame(resp_fd, [nonce, "ready"])
    while True:
        request = requests.read()
        if request[0] == "many":  # a batch of calls, answered one frame each as they finish
            for index, (a, m) in enumerate(zip(request[2], request[3], strict=True)):
                write_frame(resp_fd, [request[1], "item", index, *answer(fn, _codec.decode(a), {}, m)])
        else:  # ["call", nonce, args, kwargs, mode]
            reply = answer(fn, _codec.decode(request[2]), _codec.decode(request[3]), request[4])
            write_frame(resp_fd, [request[1], *reply])


def main(req_fd: int, resp_fd: int, spec: dict, seccomp: _seccomp.Installer | None) -> None:
    """Entry point in the forked child; never returns."""
    try:
        lock_down(req_fd, resp_fd, spec, seccomp)
    except BaseException as exc:  # our own setup failed: say so (an infrastructure failure, not a verdict)
        try:
            write_frame(resp_fd, ["setup-failed", f"{type(exc).__name__}: {exc}"[:200]])
        finally:
            os._exit(70)
    try:  # before the program is even read: the judge can trust this first frame
        write_frame(resp_fd, ["up"])
    except BaseException:
        os._exit(70)
    try:
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
        serve(req_fd, resp_fd)
    except BaseException:
        pass
    os._exit(0)
