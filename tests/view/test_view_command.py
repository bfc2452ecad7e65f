"""`evalkit view` on the command line: flags, errors, a real server process, and `evalkit run` not importing it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app

runner = CliRunner()
VIEWER_MODULES = ("reports.view.server", "reports.view.api", "reports.view.index", "reports.view.query",
                  "reports.view.discover", "http.server")


def test_help_explains_every_flag():
    result = runner.invoke(app, ["view", "--help"])
    assert result.exit_code == 0
    for flag in ("--port", "--host", "--no-browser", "RUN_DIR"):
        assert flag in result.output


@pytest.mark.parametrize("make,expected", [
    (lambda tmp: [str(tmp / "missing")], "no such directory"),
    (lambda tmp: [str((tmp / "file.txt").write_text("x") and tmp / "file.txt")], "is a file"),
    (lambda tmp: [str((tmp / "empty").mkdir() or tmp / "empty")], "holds no run"),
    (lambda tmp: [str(tmp / "nomatch-*")], "matched no run directory"),
    (lambda tmp: [], "runs: no such directory (the default"),
])
def test_bad_run_directories_exit_2_with_one_line(tmp_path, monkeypatch, make, expected):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["view", *make(tmp_path), "--no-browser"])
    assert result.exit_code == 2 and expected in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_non_loopback_host_warns_and_a_busy_port_is_a_clear_error(view_root):
    result = runner.invoke(app, ["view", str(view_root / "runs"), "--host", "192.0.2.1", "--no-browser"])
    assert "warning" in result.output and "not a loopback address" in result.output
    assert result.exit_code == 2 and "cannot listen on 192.0.2.1:0" in result.output  # TEST-NET: never ours
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["view", str(view_root / "runs"), "--port", str(port), "--no-browser"])
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output


def _serve(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "evalkit.cli", "view", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.poll() is not None else url
    return proc, url


def test_the_command_serves_until_interrupted_and_opens_the_browser(view_root, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = f"{sys.executable} -c \"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\" %s"
    proc, url = _serve([str(view_root / "runs"), "--port", "0"], env={"BROWSER": browser})
    try:
        with urllib.request.urlopen(url + "api/runs", timeout=30) as response:
            runs = json.loads(response.read())
        assert {r["id"] for r in runs["runs"]} >= {"qwen-n8", "ckpt/step-100"}
        deadline = time.time() + 20
        while not opened.exists() and time.time() < deadline:
            time.sleep(0.1)
        assert opened.read_text() == url
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in err and "read-only" in err


def test_evalkit_run_never_imports_the_viewer(smollm2_gguf, shared_data, tmp_path):
    """A real `evalkit run` (SmolLM2 through llama.cpp, one problem, four tokens), then its sys.modules."""
    pytest.importorskip("llama_cpp")
    script = textwrap.dedent(f"""
        import json, sys
        from evalkit.cli import app
        try:
            app(["run", "--model", "smollm2-135m", "--benchmarks", "gsm8k", "--limit", "1", "--max-tokens", "4",
                 "--threads", "1", "--data-dir", {str(shared_data)!r}, "--output", {str(tmp_path / "run")!r}])
        except SystemExit as exit:
            assert not exit.code, exit.code
        print(json.dumps(sorted(sys.modules)))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "evalkit.runner" in modules and (tmp_path / "run" / "samples.jsonl").is_file()
    assert not modules & set(VIEWER_MODULES)
    assert Path(tmp_path / "run" / "problems.jsonl").read_text().count("\n") == 1
