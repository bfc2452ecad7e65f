"""Benchmarks from a TOML file: a 20-problem set of our own end to end, every data format, the directory
EVALKIT_BENCHMARKS names, `evalkit list`, grading and resuming a file benchmark's run, a code benchmark,
and one line with exit code 2 for each kind of bad file."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import benchmarks
from benchmarks.base import DataError, DataSource
from benchmarks.from_file import BenchmarkFileError, read_spec
from evalkit.cli import app
from evalkit.runner import RunSettings, regrade, run
from evalkit.schema import SamplingParams

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))
from scripted import ScriptedEngine  # noqa: E402

runner = CliRunner()

#: Twenty problems: "What is a + b?" with the level the sum falls in, half of them answered right by the engine.
PROBLEMS = [{"uid": f"p{i}", "q": f"What is {i} + {i + 1}?", "ans": 2 * i + 1, "level": "easy" if i < 10 else "hard"}
            for i in range(20)]
ENGINE_ANSWERS = {f"What is {i} + {i + 1}?": str(2 * i + 1 if i % 2 == 0 else 0) for i in range(20)}

TOML = """
description = "sums of two numbers (a test set)"

[data]
path = "sums.jsonl"

[fields]
id = "uid"
question = "q"
answer = "ans"

[fields.breakdown]
level = "level"
digit = {{ field = "uid", pattern = '(\\d)$' }}

[grader]
name = "math"
{policy}
[prompt]
chat = "Add these: {{{{question}}}} Put the result in \\\\boxed{{}}."
completion = "Q: {{{{question}}}}\\nA:"
exemplar = "Q: {{{{question}}}}\\nA: {{{{answer}}}}\\n\\n"
stop = ["Q:"]

[fewshot]
path = "sums.jsonl"
"""


def write_set(directory: Path, name: str = "sums", *, policy: str = "", rows: list[dict] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sums.jsonl").write_text("".join(json.dumps(r) + "\n" for r in (rows or PROBLEMS)))
    path = directory / f"{name}.toml"
    path.write_text(TOML.format(policy=policy))
    return path


def settings(specs: list[str], out: Path, **overrides) -> RunSettings:
    return RunSettings(model="scripted", benchmarks=specs, engine="openai", output=out,
                       sampling=SamplingParams(n=2, temperature=0.7, max_tokens=16), **overrides)


def test_a_twenty_problem_file_runs_end_to_end(tmp_path: Path):
    path = write_set(tmp_path / "bench", "sums_e2e")
    engine = ScriptedEngine(ENGINE_ANSWERS)
    result = run(settings([str(path)], tmp_path / "run"), engine_factory=lambda *_: engine)
    m = result.metrics["sums_e2e"]
    assert m.n_problems == 20 and m.n_samples == 40 and m.accuracy == pytest.approx(0.5)
    assert m.breakdowns["level"]["easy"].n_problems == 10 and m.breakdowns["level"]["easy"].accuracy == 0.5
    by_digit = m.breakdowns["digit"]  # the id's last digit: the engine answers the even ones right
    assert sorted(by_digit) == list("0123456789") and all(g.n_problems == 2 for g in by_digit.values())
    assert [by_digit[d].accuracy for d in "0123"] == [1.0, 0.0, 1.0, 0.0]
    assert m.breakdowns["level"]["hard"].accuracy_ci95 is not None
    # the chat template of the file is what the model saw
    prompts = [json.loads(line) for line in (tmp_path / "run" / "prompts.jsonl").read_text().splitlines()]
    assert "Add these: What is 0 + 1? Put the result in \\\\boxed{}." in prompts[0]["prompt"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["benchmarks"] == ["sums_e2e"] and config["benchmark_files"] == {"sums_e2e": str(path.resolve())}
    assert config["graders"]["sums_e2e"].startswith("graders.math@")
    problems = [json.loads(line) for line in (tmp_path / "run" / "problems.jsonl").read_text().splitlines()]
    assert problems[0]["labels"] == {"level": "easy", "digit": "0"} and problems[0]["gold"] == "1"
    # the same command resumes; `evalkit grade` finds the file again from config.json
    again = run(settings([str(path)], tmp_path / "run"), engine_factory=lambda *_: ScriptedEngine({}))
    assert again.generated == 0 and again.resumed == 40
    regraded = regrade(tmp_path / "run")
    assert regraded.metrics["sums_e2e"].accuracy == pytest.approx(0.5)


def test_completion_prompts_and_fewshot_source_of_a_file(tmp_path: Path):
    from evalkit.prompts import build_prompt, choose_shots
    from evalkit.schema import PromptConfig

    bench = benchmarks.get(benchmarks.load_file(write_set(tmp_path / "b", "sums_prompts")))
    problems = bench.load(DataSource(None))
    shots = choose_shots(bench.fewshot_pool(DataSource(None)), 2, bench.name)
    text = build_prompt(bench, problems[3], PromptConfig(chat=False, num_fewshot=2), shots).text
    assert text.endswith("Q: What is 3 + 4?\nA:") and text.count("Q: ") == 3 and "\nA: " in text
    assert bench.completion_stop == ("Q:",)


def test_policy_options_of_a_file_reach_the_grader(tmp_path: Path):
    rows = [{"uid": "a", "q": "Measure it.", "ans": "4.5e33", "level": "x"}]
    path = write_set(tmp_path / "b", "tolerant", policy="[grader.policy]\nrel_tol = 1e-4\napproximate_golds = true\n"
                                                         "units = \"any\"\n", rows=rows)
    bench = benchmarks.get(benchmarks.load_file(path))
    problem = bench.load(DataSource(None))[0]
    assert bench.grade(problem, "\\boxed{4.5002 \\times 10^{33} \\mathrm{erg}}").correct
    assert "rel_tol=0.0001" in bench.grader.version


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet", "jsonl.gz"])
def test_every_data_format(fmt: str, tmp_path: Path):
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"uid": r["uid"], "q": r["q"], "ans": r["ans"], "level": r["level"]} for r in PROBLEMS[:5]]
    data = tmp_path / f"sums.{fmt}"
    if fmt == "json":
        data.write_text(json.dumps(rows))
    elif fmt == "csv":
        data.write_text("uid,q,ans,level\n" + "".join(f'{r["uid"]},"{r["q"]}",{r["ans"]},{r["level"]}\n' for r in rows))
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), data)
    elif fmt == "jsonl.gz":
        data.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    else:
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    toml = tmp_path / f"sums_format_{fmt.replace('.', '_')}.toml"
    toml.write_text(f'[data]\npath = "{data.name}"\n[fields]\nid = "uid"\nquestion = "q"\nanswer = "ans"\n')
    bench = benchmarks.get(benchmarks.load_file(toml))
    problems = bench.load(DataSource(None))
    assert [p.gold for p in problems] == ["1", "3", "5", "7", "9"] and problems[2].id == "p2"
    assert bench.grade(problems[2], "so \\boxed{5}").correct and not bench.grade(problems[2], "\\boxed{6}").correct


def test_a_directory_of_files_is_listed_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    directory = tmp_path / "mine"
    write_set(directory, "sums_dir")
    monkeypatch.setenv("EVALKIT_BENCHMARKS", str(directory))
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if "sums_dir" in line)
    assert "sums of two numbers" in line and str(directory / "sums_dir.toml") in line
    assert "reasoning" in listed.output and "olympiadbench, minerva_math" in listed.output
    assert "amc23.toml" in listed.output  # the shipped file benchmark
    result = run(settings(["sums_dir"], tmp_path / "run"), engine_factory=lambda *_: ScriptedEngine(ENGINE_ANSWERS))
    assert result.metrics["sums_dir"].accuracy == pytest.approx(0.5)


def test_a_code_benchmark_from_a_file(tmp_path: Path):
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (CI installs it)")
    rows = [{"task": "t1", "text": "Write add(a, b) returning a + b.", "fn": "add",
             "asserts": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"],
             "ref": "def add(a, b):\n    return a + b\n"}]
    (tmp_path / "code.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    toml = tmp_path / "adder.toml"
    toml.write_text('[data]\npath = "code.jsonl"\n[fields]\nid = "task"\nquestion = "text"\nanswer = "ref"\n'
                    'entry_point = "fn"\ntests = "asserts"\n[grader]\nname = "code"\n')
    bench = benchmarks.get(benchmarks.load_file(toml))
    problem = bench.load(DataSource(None))[0]
    assert bench.task == "code" and "Write add(a, b)" in bench.chat_instruction(problem)
    right = "```python\ndef add(a, b):\n    return a + b\n```"
    wrong = "```python\ndef add(a, b):\n    return a - b\n```"
    assert [v.correct for v in bench.grade_many([problem] * 2, [right, wrong])] == [True, False]


# -- bad files: one line each, exit code 2 ---------------------------------------------------------------

GOOD = '[data]\npath = "sums.jsonl"\n[fields]\nquestion = "q"\nanswer = "ans"\n'
BAD_FILES = {
    "missing data file": (GOOD.replace("sums.jsonl", "nowhere.jsonl"), r"data: data file not found: .*nowhere"),
    "unknown key": (GOOD + "[prompt]\nchatt = \"{{question}}\"\n", r"prompt\.chatt: unknown key; known keys"),
    "unknown top-level key": ("grade = 1\n" + GOOD, r"grade: unknown key"),
    "unknown grader": (GOOD + "[grader]\nname = \"maths\"\n", r"grader\.name: unknown grader 'maths'; did "
                                                                  r"you mean 'math'\?"),
    "missing field in a row": (GOOD.replace('answer = "ans"', 'answer = "answer"'),
                               r"data row 1: missing field 'answer'"),
    "unknown policy option": (GOOD + "[grader]\nname = \"math\"\n[grader.policy]\nrel_toll = 0.1\n",
                              r"grader\.policy: unknown policy option 'rel_toll'"),
    "policy for gsm8k": (GOOD + "[grader]\nname = \"gsm8k\"\n[grader.policy]\nrel_tol = 0.1\n",
                         r"grader\.policy: only the math grader takes policy options"),
    "no data": ("[fields]\nquestion = \"q\"\nanswer = \"ans\"\n", r"data: is required"),
    "no answer field": ('[data]\npath = "sums.jsonl"\n[fields]\nquestion = "q"\n', r"fields\.answer: is required"),
    "bad toml": ("[data\n", r"not valid TOML"),
    "bad format": (GOOD.replace("sums.jsonl", "sums.txt"), r"data\.path: cannot tell the format of 'sums\.txt'"),
    "placeholder the row lacks": (GOOD + "[prompt]\nchat = \"{{question}} ({{topic}})\"\n",
                                  r"data row 1: prompt\.chat uses \{\{topic\}\}, which the row does not have"),
    "bad regex": (GOOD + "[fields.breakdown]\nx = { field = \"q\", pattern = \"(\" }\n",
                  r"fields\.breakdown\.x\.pattern: not a regular expression"),
    "code without tests": (GOOD + "[grader]\nname = \"code\"\n",
                           r"fields\.entry_point: is required by the code grader"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_one_line_with_exit_2(case: str, tmp_path: Path):
    text, expected = BAD_FILES[case]
    (tmp_path / "sums.jsonl").write_text(json.dumps({"q": "What is 1 + 1?", "ans": 2}) + "\n")
    bad = tmp_path / f"bad_{case.replace(' ', '_').replace('-', '_')}.toml"  # one name per case: names are global
    bad.write_text(text)
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "-m", str(model), "-b", str(bad), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("error: "), result.output
    import re

    message = " ".join(result.output.split())
    assert message.startswith(f"error: {bad}: ") and re.search(expected, message), result.output
    assert not out.exists()


def test_file_benchmark_names_and_clashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "sums.jsonl").write_text(json.dumps({"q": "1+1", "ans": 2}) + "\n")
    clash = tmp_path / "gsm8k.toml"  # a built-in's name
    clash.write_text(GOOD)
    with pytest.raises(DataError, match="defines benchmark 'gsm8k', which already exists"):
        benchmarks.load_file(clash)
    renamed = tmp_path / "other.toml"
    renamed.write_text('name = "bad name"\n' + GOOD)
    with pytest.raises(BenchmarkFileError, match="is not a benchmark name"):
        read_spec(renamed)
    directory = tmp_path / "dir"
    directory.mkdir()
    (directory / "one.toml").write_text('name = "two"\n' + GOOD.replace("sums.jsonl", "../sums.jsonl"))
    monkeypatch.setenv("EVALKIT_BENCHMARKS", str(directory))
    with pytest.raises(BenchmarkFileError, match="'two' differs from the file name 'one.toml'"):
        benchmarks.get("one")
    monkeypatch.setenv("EVALKIT_BENCHMARKS", str(tmp_path / "missing"))
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 2 and "EVALKIT_BENCHMARKS" in result.output and "not a directory" in result.output


def test_the_reproduce_command_names_the_file(tmp_path: Path):
    from evalkit.options import run_arguments
    from evalkit.store import RunStore

    path = write_set(tmp_path / "bench", "sums_repro")
    run(settings([str(path), "gsm8k"], tmp_path / "run", data_dir=_gsm8k(tmp_path)),
        engine_factory=lambda *_: ScriptedEngine(ENGINE_ANSWERS))
    args = run_arguments(RunStore(tmp_path / "run").read_config(), tmp_path / "again")
    assert args[args.index("--benchmarks") + 1] == f"{path.resolve()},gsm8k"


def _gsm8k(tmp_path: Path) -> Path:
    from scripted import write_gsm8k

    write_gsm8k(tmp_path / "data", [("What is 1 plus 1?", "2")])
    return tmp_path / "data"


def test_a_file_benchmark_is_a_training_task(tmp_path: Path):
    from evalkit.train.tasks import make_task

    task = make_task(str(write_set(tmp_path / "b", "sums_train")), None, chat=False)
    train, heldout = task.train_examples(), task.heldout_examples()
    assert task.name == "sums_train" and len(train) == 20 and len(heldout) == 20  # [fewshot] is the train split
    assert heldout[3].prompt == "Q: What is 3 + 4?\nA:"
    verdicts = task.grader.grade_batch(["so \\boxed{7}", "so \\boxed{8}"], [heldout[3].gold] * 2)
    assert [v.reward for v in verdicts] == [1.0, 0.0]
