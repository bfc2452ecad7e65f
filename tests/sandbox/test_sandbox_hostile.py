"""Hostile completions: none may pass, and none may touch the host (files, processes, network)."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

import sandbox
from sandbox.isolation import UID_RANGE

sys.path.insert(0, str(Path(__file__).parent))
from hostile import ATTACKS, CONTEXT, TEST  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

HONEST = "def add(a, b):\n    return a + b\n"


def _candidate_processes() -> list[int]:
    """Host pids running under a candidate uid (the sandbox's uid range)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        uid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")), 0)
        if UID_RANGE[0] <= uid < UID_RANGE[1]:
            found.append(int(entry))
    return found


def _tmp_listing() -> set[str]:
    return {p.name for p in Path("/tmp").iterdir() if p.name.startswith("evk_attack")}


@pytest.fixture(scope="module")
def attack_run(isolated, tmp_path_factory):
    canary_dir = tmp_path_factory.mktemp("canary")
    canary = canary_dir / "canary.txt"
    canary.write_text("intact")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    port = server.getsockname()[1]
    tmp_before = _tmp_listing()
    names = list(ATTACKS)
    jobs = [{"solution": ATTACKS[n].format(canary=canary_dir, port=port, repo=REPO), "test": TEST, "entry_point": "add",
             "context": CONTEXT, "timeout_s": 3.0, "memory_mb": 1024} for n in names]
    jobs.append({"solution": HONEST, "test": TEST, "entry_point": "add", "context": CONTEXT})
    results = sandbox.run_many(jobs, workers=2)
    time.sleep(0.2)
    try:
        server.accept()
        connected = True
    except BlockingIOError:
        connected = False
    finally:
        server.close()
    return {"results": dict(zip([*names, "honest"], results, strict=True)), "canary_dir": canary_dir,
            "canary": canary, "connected": connected, "tmp_before": tmp_before}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_does_not_pass(attack_run, name):
    result = attack_run["results"][name]
    assert not result.passed, f"{name} fooled the judge: {result}"
    assert result.status in ("failed", "timeout"), result


def test_honest_solution_passes_in_the_same_batch(attack_run):
    result = attack_run["results"]["honest"]
    assert result.passed and result.trust == "strong" and result.isolated


def test_host_files_untouched(attack_run):
    assert attack_run["canary"].read_text() == "intact"
    assert sorted(p.name for p in attack_run["canary_dir"].iterdir()) == ["canary.txt"]
    assert _tmp_listing() == attack_run["tmp_before"]
    assert not (REPO / "evk_attack_file").exists()


def test_no_connection_reached_the_host(attack_run):
    assert attack_run["connected"] is False


def test_no_candidate_process_survives(attack_run):
    """Killed candidates may take a moment to exit (freeing a large heap); none may stay."""
    give_up = time.monotonic() + 10
    while _candidate_processes() and time.monotonic() < give_up:
        time.sleep(0.05)
    assert _candidate_processes() == []


def test_timeouts_are_reported_as_timeouts(attack_run):
    for name in ("infinite_loop_module", "infinite_loop_in_call", "ignore_signals_and_spin"):
        assert attack_run["results"][name].status == "timeout", name


def test_candidate_cannot_see_evaluator_dataset_or_network(isolated):
    probe = (
        "import os, socket\n"
        "def probe():\n"
        "    seen = [p for p in ('/work', '/root/venv', '/home', '/etc/passwd') if os.path.exists(p)]\n"
        "    try:\n"
        "        socket.socket()\n"
        "        sockets = True\n"
        "    except OSError:\n"
        "        sockets = False\n"
        "    return [seen, os.getuid() == 0, sockets, os.getcwd(), os.listdir('.')]\n"
    )
    result = sandbox.run_tests(probe, "assert probe() == [[], False, False, '/tmp', []]", "probe")
    assert result.passed, result


def test_helper_from_prompt_cannot_be_redefined(isolated):
    """HumanEval/32-style: the test uses the prompt's `poly`; the candidate's own `poly` is irrelevant."""
    context = "def poly(xs, x):\n    return sum(c * x ** i for i, c in enumerate(xs))\ndef find_zero(xs):\n    ''\n"
    test = "def check(candidate):\n    assert abs(poly([1, 2], candidate([1, 2]))) < 1e-6\ncheck(find_zero)\n"
    cheat = "def poly(xs, x):\n    return 0\ndef find_zero(xs):\n    return 0.0\n"
    honest = "def find_zero(xs):\n    return -xs[0] / xs[1]\n"
    cheat_result, honest_result = sandbox.run_many(
        [{"solution": cheat, "test": test, "entry_point": "find_zero", "context": context},
         {"solution": honest, "test": test, "entry_point": "find_zero", "context": context}])
    assert not cheat_result.passed
    assert honest_result.passed


def test_a_candidate_cannot_read_what_an_earlier_candidate_left(isolated):
    writer = "open('secret.txt', 'w').write('42')\ndef add(a, b):\n    return 0\n"
    reader = (
        "import glob, os\n"
        "def add(a, b):\n"
        "    found = []\n"
        "    for path in glob.glob('/tmp/*/secret.txt') + glob.glob('/tmp/*'):\n"
        "        try:\n"
        "            found.append(open(path).read() if path.endswith('.txt') else len(os.listdir(path)))\n"
        "        except OSError:\n"
        "            pass\n"
        "    return found\n"
    )
    jobs = [{"solution": writer, "test": "add(1, 2)", "entry_point": "add"},
            {"solution": reader, "test": "assert add(1, 2) == []", "entry_point": "add"}]
    _, read = sandbox.run_many(jobs, workers=1)
    assert read.passed, read  # its /tmp is its own, empty, tmpfs
