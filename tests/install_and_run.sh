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
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# torch first, pinned: this version is a local CPU build; any other spec pulls several GB of CUDA.
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e '.[dev]'
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
