"""Host side: one memory cgroup per sandbox worker, so a candidate's memory limit counts everything.

RLIMIT_AS counts only the candidate's address space; tmpfs files, pipe buffers, page tables and
other kernel memory escape it. A memory cgroup counts them all. Each worker gets its own group (made
here, by the evaluator, under the cgroup it already runs in) and bind-mounts it into its sandbox;
each candidate joins it before it allocates anything, and the worker sets the group's limit to the
job's `memory_mb` before each candidate. Only one candidate of a worker is alive at a time (the worker
waits for the previous one to be gone), so the group's usage is always the current candidate's.

Available when the evaluator may create cgroups (root, a writable cgroup v1 memory hierarchy, or a
cgroup v2 group with the memory controller delegated); otherwise `create` returns None and the
candidate is limited by rlimits and by the closed memfd/SysV paths alone (see `_seccomp`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PREFIX = "evalkit-sandbox-"
_counter = itertools.count()
_lock = threading.Lock()
_leftover: list[Path] = []  # groups whose removal must wait for their last process to finish exiting


@dataclass(frozen=True)
class MemoryCgroup:
    path: Path
    version: int  # 1 or 2

    @property
    def limit_file(self) -> str:
        return "memory.limit_in_bytes" if self.version == 1 else "memory.max"

    @property
    def events_file(self) -> str:
        """Where the kernel counts OOM kills ("oom_kill N")."""
        return "memory.oom_control" if self.version == 1 else "memory.events"


def _own_groups() -> list[tuple[Path, int]]:
    """(directory of the cgroup this process is in, version) for each memory hierarchy mounted here."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
        membership = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    paths: dict[str, str] = {}
    for line in membership:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "":
            paths["v2"] = path
        elif "memory" in controllers.split(","):
            paths["v1"] = path
    found = []
    for line in mounts:
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        root, mount_point, fstype = fields[3], fields[4], fields[sep + 1]
        super_options = fields[sep + 3].split(",") if len(fields) > sep + 3 else []
        if fstype == "cgroup" and "memory" in super_options and "v1" in paths:
            version, own = 1, paths["v1"]
        elif fstype == "cgroup2" and "v2" in paths:
            version, own = 2, paths["v2"]
        else:
            continue
        if root != "/" and not own.startswith(root):
            continue
        relative = own[len(root):] if root != "/" else own
        found.append((Path(mount_point) / relative.lstrip("/"), version))
    return sorted(found, key=lambda g: g[1])  # v1 first: on hybrid machines v2 rarely has memory


def _usable(parent: Path, version: int) -> bool:
    if version == 2:
        try:
            delegated = (parent / "cgroup.subtree_control").read_text().split()
        except OSError:
            return False
        if "memory" not in delegated:
            return False
    return os.access(parent, os.W_OK)


@functools.lru_cache(maxsize=1)
def parent_group() -> tuple[Path, int] | None:
    """Where this process may create memory cgroups, or None (then the sandbox runs without them)."""
    for parent, version in _own_groups():
        if _usable(parent, version):
            _remove_stale(parent)
            return parent, version
    return None


def _remove_stale(parent: Path) -> None:
    """Groups left behind by evaluator processes that were killed (empty ones only; rmdir refuses others)."""
    with contextlib.suppress(OSError):
        for entry in parent.iterdir():
            if not entry.name.startswith(_PREFIX):
                continue
            pid = entry.name[len(_PREFIX):].split("-")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    entry.rmdir()


def create() -> MemoryCgroup | None:
    """A new, empty memory cgroup for one worker, or None when cgroups are unavailable here."""
    found = parent_group()
    if found is None:
        return None
    parent, version = found
    path = parent / f"{_PREFIX}{os.getpid()}-{next(_counter)}"
    try:
        path.mkdir()
    except OSError:
        return None
    if version == 1:  # the candidate's OOM must kill the candidate, never freeze it
        with contextlib.suppress(OSError):
            (path / "memory.oom_control").write_text("0")
    return MemoryCgroup(path, version)


def remove(group: MemoryCgroup, wait_s: float = 1.0) -> None:
    """Delete a worker's group once its processes are gone (retried later if they are still exiting)."""
    give_up = time.monotonic() + wait_s
    while True:
        try:
            group.path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= give_up:
                with _lock:
                    _leftover.append(group.path)
                return
            time.sleep(0.01)


def remove_leftovers() -> None:
    with _lock:
        paths, _leftover[:] = list(_leftover), []
    for path in paths:
        with contextlib.suppress(OSError):
            path.rmdir()
