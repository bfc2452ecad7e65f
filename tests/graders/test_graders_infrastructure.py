"""An infrastructure failure is never a verdict: a worker that cannot start or a bad setting raises.

Only a timeout or a crash on the input itself is graded (as wrong). Everything here would
otherwise zero RL rewards without a word, the failure documented for math-verify.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from graders import GraderUnavailable, deadline
from graders import math as gm

REPO = Path(__file__).resolve().parents[2]
# The fast parser does not read \mathfrak: the worker decides this pair.
SLOW_PAIR = ("so \\boxed{\\mathfrak{x} + 1}", "1 + \\mathfrak{x}")


def test_a_bad_worker_setting_raises_before_any_verdict(monkeypatch):
    for bad in ("abc", "0", "-2", "1.5"):
        monkeypatch.setenv("EVALKIT_GRADER_WORKERS", bad)
        with pytest.raises(GraderUnavailable, match="EVALKIT_GRADER_WORKERS must be a positive integer"):
            gm.grade("\\boxed{1}", "1")  # even a pair the fast path decides: the setting is wrong
        with pytest.raises(GraderUnavailable):
            deadline.configured_size()
    monkeypatch.setenv("EVALKIT_GRADER_WORKERS", "2")
    assert deadline.configured_size() == 2


def test_a_zygote_that_cannot_import_its_modules_raises_with_the_reason():
    pool = deadline.DeadlinePool(1, preload=("graders_no_such_module",))
    try:
        with pytest.raises(GraderUnavailable, match="ModuleNotFoundError.*graders_no_such_module"):
            pool.warm_up()
        with pytest.raises(GraderUnavailable):  # and again on the next call: never a verdict
            pool.call(len, ("abc",), timeout_s=5)
    finally:
        pool.close()


def test_a_process_that_cannot_import_graders_raises_instead_of_grading(monkeypatch):
    # The zygote is a fresh interpreter; simulate one that cannot import this package.
    broken = deadline._ZYGOTE_CODE.replace("from graders.deadline import", "from graders_gone.deadline import")
    monkeypatch.setattr(deadline, "_ZYGOTE_CODE", broken)
    pool = deadline.DeadlinePool(1, preload=())
    monkeypatch.setattr(deadline, "_POOLS", [pool])
    monkeypatch.setattr(gm, "_WORKER_PRELOAD", ())
    try:
        with pytest.raises(GraderUnavailable, match="could not start: ModuleNotFoundError"):
            gm.grade(*SLOW_PAIR)
        assert gm.grade("\\boxed{2}", "2").correct  # the fast path needs no worker
    finally:
        pool.close()


def test_the_worker_finds_graders_from_any_working_directory(tmp_path):
    # `python -c` from another directory: the caller imported graders from the checkout, and the
    # zygote (which does not inherit the working directory) must find the same package.
    assert deadline._zygote_path()[0] == str(REPO)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from graders import math as gm
        print(gm.grade({SLOW_PAIR[0]!r}, {SLOW_PAIR[1]!r}).reason)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["equal_symbolic"]


def test_a_crash_on_the_input_itself_is_a_verdict():
    import graders_pool_tasks as tasks

    pool = deadline.DeadlinePool(1, preload=("graders_pool_tasks",), memory_limit_mb=512)
    try:
        with pytest.raises((MemoryError, deadline.WorkerCrashed)):
            pool.call(tasks.allocate, (2048,), timeout_s=5)
        assert pool.call(tasks.add, (1, 2), timeout_s=5) == 3  # the pool itself is fine
    finally:
        pool.close()


def test_the_cli_reports_an_unavailable_grader_in_one_line_with_exit_code_2():
    import typer
    from typer.testing import CliRunner

    from evalkit.cli import user_errors

    app = typer.Typer()

    @app.command()
    @user_errors
    def grade() -> None:
        raise GraderUnavailable("EVALKIT_GRADER_WORKERS must be a positive integer, got 'abc'")

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "'abc'" in lines[0]


def test_evalkit_grade_with_a_bad_setting_exits_2(tmp_path):
    """End to end: a stored MATH-500 run regraded by the CLI with a broken worker setting."""
    data = tmp_path / "data" / "math500"
    data.mkdir(parents=True)
    row = {"problem": "What is $1+1$?", "solution": "It is $\\boxed{2}$.", "answer": "2", "subject": "Algebra",
           "level": 1, "unique_id": "test/algebra/1.json"}
    (data / "test.jsonl").write_text(json.dumps(row) + "\n")
    make_run = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO)!r})
        from evalkit.engines.base import Completion, Engine
        from evalkit.runner import RunSettings, run
        from evalkit.schema import SamplingConfig

        class Boxed(Engine):
            name = "scripted"
            def render(self, prompt):
                return prompt.text or ""
            def generate(self, requests, params):
                for i, r in enumerate(requests):
                    yield i, [Completion(text="so \\\\boxed{{2}}", tokens=3, finish_reason="stop")] * r.n
            def close(self):
                pass

        run(RunSettings(model="scripted-model", benchmarks=["math500"], engine="openai",
                        sampling=SamplingConfig(n=1, temperature=0.0, max_tokens=8),
                        data_dir=Path({str(tmp_path / "data")!r}), output=Path({str(tmp_path / "run")!r})),
            engine_factory=lambda name, model: Boxed())
    """)
    made = subprocess.run([sys.executable, "-c", make_run], capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    env = {**__import__("os").environ, "EVALKIT_GRADER_WORKERS": "abc"}
    graded = subprocess.run([sys.executable, "-m", "evalkit.cli", "grade", str(tmp_path / "run")], cwd=REPO,
                            capture_output=True, text=True, timeout=300, env=env)
    assert graded.returncode == 2, graded.stdout + graded.stderr
    last = graded.stderr.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("error:") and "EVALKIT_GRADER_WORKERS" in last and "Traceback" not in graded.stderr
