"""A seccomp filter for the candidate process, built as raw BPF (no libseccomp binding needed).

Why a denylist of these calls: namespaces already hide the network and the host's files, and the
non-root uid cannot signal the judge; the filter closes what remains for code that only needs to
compute: creating processes (fork bombs, helpers that outlive the sample), exec'ing programs,
opening sockets (abstract unix sockets included), signalling or tracing other processes, kernel
interfaces with a history of escapes (io_uring, bpf, userfaultfd, perf, namespaces, mounts), and
what no namespace separates: the per-uid kernel keyrings, locks and change notifications on the
read-only files every sample shares (flock, fcntl locks and leases, inotify: a channel between
concurrent samples), moving off the assigned CPU, and memory the address-space limit does not count
(memfd, memfd_secret, SysV shared memory, message queues and semaphores).
Threads stay allowed (`clone` with CLONE_THREAD); `clone3` answers ENOSYS so that libc falls back to `clone`.
Only x86_64 has a table here; elsewhere `build_filter` returns None and the sandbox says so.

Shipped as source into the sandbox: imports nothing from evalkit.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
CLONE_THREAD = 0x00010000

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

X86_64_CLONE = 56
X86_64_CLONE3 = 435
#: Denied with EPERM on x86_64 (syscall name: number).
X86_64_DENY = {
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
    "socket": 41, "socketpair": 53,
    "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
    "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "setuid": 105, "setgid": 106, "setreuid": 113, "setregid": 114, "setresuid": 117, "setresgid": 119,
    "setfsuid": 122, "setfsgid": 123, "setgroups": 116,
    "reboot": 169, "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
    "delete_module": 176, "swapon": 167, "swapoff": 168, "acct": 163, "syslog": 103,
    "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159,
    "personality": 135, "mknod": 133, "mknodat": 259, "quotactl": 179,
    "open_by_handle_at": 304, "name_to_handle_at": 303, "lookup_dcookie": 212,
    "fanotify_init": 300, "ioperm": 173, "iopl": 172, "vmsplice": 278,
    "move_pages": 279, "migrate_pages": 256,
    "memfd_create": 319, "memfd_secret": 447, "shmget": 29, "msgget": 68, "semget": 64,
    "sched_setaffinity": 203, "flock": 73, "inotify_init": 253, "inotify_init1": 294, "inotify_add_watch": 254,
}
X86_64_FCNTL = 72
#: fcntl commands denied: record locks (F_GETLK/F_SETLK/F_SETLKW and the OFD variants), leases, dnotify.
FCNTL_DENY = (5, 6, 7, 36, 37, 38, 1024, 1026)


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def build_filter() -> bytes | None:
    """The BPF program (packed sock_filter array) for this machine, or None without a syscall table."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    prog = [
        _insn(_LD_W_ABS, 0, 0, 4),  # arch
        _insn(_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, 0),  # syscall number
        _insn(_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _insn(_RET_K, 0, 0, eperm),
        _insn(_JEQ_K, 0, 1, X86_64_CLONE3),
        _insn(_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]
    for nr in sorted(X86_64_DENY.values()):
        prog += [_insn(_JEQ_K, 0, 1, nr), _insn(_RET_K, 0, 0, eperm)]
    # fcntl(fd, cmd, ...): deny the commands above, allow the rest (F_GETFL, F_SETFD, ...)
    prog += [_insn(_JEQ_K, 0, 2 + 2 * len(FCNTL_DENY), X86_64_FCNTL), _insn(_LD_W_ABS, 0, 0, 24)]
    for cmd in FCNTL_DENY:
        prog += [_insn(_JEQ_K, 0, 1, cmd), _insn(_RET_K, 0, 0, eperm)]
    prog += [_insn(_RET_K, 0, 0, SECCOMP_RET_ALLOW)]
    prog += [
        _insn(_JEQ_K, 0, 3, X86_64_CLONE),
        _insn(_LD_W_ABS, 0, 0, 16),  # low 32 bits of args[0]: the clone flags
        _insn(_JSET_K, 1, 0, CLONE_THREAD),
        _insn(_RET_K, 0, 0, eperm),
        _insn(_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Installer:
    """Prepared in the zygote (library loaded, program buffer built) so a candidate only makes two prctl calls."""

    def __init__(self, program: bytes):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self._buf = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.cast(self._buf, ctypes.c_void_p))

    def prepare(self) -> None:
        """Resolve what `install` calls (in the zygote, so that children do not copy pages doing it)."""
        self._prctl = self.libc.prctl
        self._ref = ctypes.byref(self._fprog)

    def install(self) -> None:
        """Set no_new_privs and load the filter for the calling process; OSError on failure."""
        prctl = getattr(self, "_prctl", None) or self.libc.prctl
        if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, getattr(self, "_ref", None) or ctypes.byref(self._fprog),
                 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
