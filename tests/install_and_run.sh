#!/usr/bin/env bash
# Install everything the tests need into ./.venv (Debian packages too, when root or sudo is available)
# and run the whole test suite. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
if command -v apt-get >/dev/null && { [ "$(id -u)" = "0" ] || [ -n "$SUDO" ]; }; then
  # bubblewrap: the code sandbox's isolation layer (namespaces without a daemon).
  if ! command -v bwrap >/dev/null; then
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq bubblewrap >/dev/null
  fi
  # chromium: the headless browser the `evalkit view` tests drive through Playwright (never Playwright's own
  # browser download). Optional: where apt cannot install it, those tests skip and say why.
  if ! command -v chromium >/dev/null; then
    { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
      >/dev/null 2>&1 || echo "note: apt could not install chromium; the browser tests of evalkit view will skip" >&2
  fi
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# torch first, pinned: this version is a local CPU build; any other spec pulls several GB of CUDA.
.venv/bin/pip install -q torch==2.13.0
# llama-cpp-python compiles from source. A native build (-march=native) segfaults in llama_decode on CPUs
# with AVX-512/AMX (seen with 0.3.36 on this project's machines), so build the portable CPU variant
# (AVX2 and runtime-checked kernels) once and keep the wheel in a cache of our own: pip's own wheel cache
# does not key on CMAKE_ARGS and may hold a native build.
if ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/evalkit/wheels-portable"
  mkdir -p "$WHEELS"
  if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/pip wheel -q --no-deps --no-cache-dir -w "$WHEELS" 'llama-cpp-python>=0.3'
  fi
  .venv/bin/pip install -q "$(ls "$WHEELS"/llama_cpp_python-*.whl | sort -V | tail -n 1)"
fi
.venv/bin/pip install -q -e '.[dev]'
.venv/bin/ruff check .
# Types of the packages that load alone in other programs (rewards in TRL / verl workers) or read others' files.
.venv/bin/mypy graders reports
.venv/bin/python -m pytest -q --durations=20 "$@"
