"""The real source of verl and OpenRLHF, for tests that call our rewards exactly as those trainers do.

Neither trainer is installed (they pin CUDA stacks); their wheels are downloaded once from PyPI into
`~/.cache/evalkit` and unpacked, and the tests put the unpacked package on `sys.path` of a child
process, where their reward loaders and managers import and run for real (the dev extra installs
the few libraries those modules import: ray, tensordict, omegaconf, hydra-core, aiohttp, codetiming,
pylatexenc). `EVALKIT_VERL_SRC` / `EVALKIT_OPENRLHF_SRC` point at an unpacked copy instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

VERL_VERSION = "0.9.1"
OPENRLHF_VERSION = "0.11.2"
CACHE = Path.home() / ".cache" / "evalkit"


def _unpack(project: str, version: str, package: str) -> Path | None:
    """`<cache>/<project>-<version>-src`, holding `package/` from the project's wheel (fetched once)."""
    dest = CACHE / f"{project}-{version}-src"
    if (dest / package / "__init__.py").is_file():
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", f"{project}=={version}", "--no-deps",
                               "--only-binary", ":all:", "-q", "-d", tmp], capture_output=True, timeout=600)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            return None
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=CACHE))
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name in wheel.namelist():
                rel = name.split("/purelib/", 1)[1] if "/purelib/" in name else name
                if rel.startswith(f"{package}/") and not rel.endswith("/"):
                    target = staging / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(wheel.read(name))
        if not (dest / package / "__init__.py").is_file():
            staging.rename(dest)
    return dest


def source_root(project: str) -> Path:
    """The directory to put on `sys.path` for `verl` or `openrlhf`; skips the test when it cannot be had."""
    version, package, env = {"verl": (VERL_VERSION, "verl", "EVALKIT_VERL_SRC"),
                             "openrlhf": (OPENRLHF_VERSION, "openrlhf", "EVALKIT_OPENRLHF_SRC")}[project]
    override = os.environ.get(env)
    if override and (Path(override) / package / "__init__.py").is_file():
        return Path(override)
    root = _unpack(project, version, package)
    if root is None:
        pytest.skip(f"{project} {version} wheel not available (no package index; set {env} to an unpacked copy)")
    return root


def source_text(project: str, rel: str) -> str:
    return (source_root(project) / rel).read_text()
