"""The one registry shape behind benchmarks, engines, graders and losses (lm-eval's `Registry`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks
from benchmarks.base import Benchmark
from evalkit.engines import ENGINES
from evalkit.engines.base import Engine
from evalkit.errors import exit_code_of
from evalkit.train.losses import LOSSES
from graders.protocol import GRADERS
from graders.registry import Registry, TargetError, UnknownName

ROOT = Path(__file__).resolve().parents[2]


def test_lazy_targets_import_nothing_until_used():
    code = ("import sys, benchmarks, evalkit.engines, graders.protocol\n"
            "names = benchmarks.names() + evalkit.engines.ENGINES.names() + graders.protocol.GRADERS.names()\n"
            "assert 'gsm8k' in names and 'hf' in names and 'math' in names, names\n"
            "heavy = [m for m in ('benchmarks.code', 'benchmarks.math_bench', 'evalkit.engines.hf_engine', "
            "'graders.code', 'graders.math', 'sandbox') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "benchmarks.get('gsm8k')\n"
            "assert 'benchmarks.math_bench' in sys.modules and 'benchmarks.code' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_misspelt_name_gets_a_suggestion_and_exit_code_2():
    with pytest.raises(UnknownName) as err:
        ENGINES.get("llamacp")
    assert str(err.value) == ("unknown engine 'llamacp'; did you mean 'llamacpp'? known: hf, llamacpp, openai, vllm")
    assert exit_code_of(err.value) == 2 and isinstance(err.value, KeyError)
    with pytest.raises(KeyError, match="did you mean 'humaneval'"):
        benchmarks.get("humanevl")
    with pytest.raises(UnknownName, match=r"unknown grader 'xyz'; known: code, gsm8k, math$"):
        GRADERS.get("xyz")


def test_a_registry_may_raise_its_packages_own_error():
    from evalkit.errors import UsageError
    from evalkit.train.losses import get_loss

    with pytest.raises(UsageError, match="unknown algorithm 'grpoo'; did you mean 'grpo'"):
        get_loss("grpoo")


def test_registration_rules():
    reg: Registry[type] = Registry("widget", base=Benchmark)
    reg.register("a", "benchmarks.math_bench:GSM8K")
    from benchmarks.math_bench import GSM8K, MATH

    reg.register("a", GSM8K)  # the object a lazy string names may replace it
    assert reg.get("a") is GSM8K
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a", MATH)

    @reg.register("b")
    class Local(GSM8K):
        name = "local"

    assert reg.get("b") is Local and reg.names() == ["a", "b"] and "b" in reg and len(reg) == 2
    reg.register("not-a-benchmark", "graders.answer_graders:MathGrader")
    with pytest.raises(TargetError, match="not a subclass of benchmarks.base.Benchmark"):
        reg.get("not-a-benchmark")
    reg.register("missing", "no_such_module:Thing")
    with pytest.raises(TargetError, match=r"cannot load widget 'missing' from 'no_such_module:Thing' "
                                          r"\(ModuleNotFoundError"):
        reg.get("missing")


def _concrete_subclasses(folder: Path, base_names: set[str]) -> set[tuple[str, str]]:
    """(module, class) of every public class in `folder` deriving (transitively, by name) from `base_names`."""
    found: set[tuple[str, str]] = set()
    classes: dict[str, tuple[str, list[str], ast.ClassDef]] = {}
    for path in sorted(folder.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                classes[node.name] = (module, bases, node)
    derived = set(base_names)
    changed = True
    while changed:
        changed = False
        for name, (_, bases, _) in classes.items():
            if name not in derived and any(b in derived for b in bases):
                derived.add(name)
                changed = True
    for name, (module, _, node) in classes.items():
        has_name = any(isinstance(s, ast.Assign) and any(getattr(t, "id", "") == "name" for t in s.targets)
                       for s in node.body)
        if name in derived - base_names and not name.startswith("_") and has_name:
            found.add((module, name))
    return found


def test_every_builtin_benchmark_and_engine_is_registered():
    """A new built-in is never silently missing: every concrete class with a `name` must be in its registry."""
    registered = {(cls.__module__, cls.__name__) for cls in map(benchmarks.BENCHMARKS.get, benchmarks.names())}
    assert _concrete_subclasses(ROOT / "benchmarks", {"Benchmark"}) <= registered
    engines = {(cls.__module__, cls.__name__) for cls in map(ENGINES.get, ENGINES.names())}
    assert _concrete_subclasses(ROOT / "evalkit" / "engines", {"Engine"}) == engines
    assert all(issubclass(cls, Engine) for cls in map(ENGINES.get, ENGINES.names()))
    assert set(LOSSES.names()) >= {"grpo", "dapo", "dr_grpo", "gspo", "mpo", "tepo"}
