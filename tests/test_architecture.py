"""The import rules of the layout, checked the way click's tests/test_imports.py checks its imports.

Each part is imported in a fresh interpreter (every module of the part, so that lazy imports made at
module level count too) and the modules it loaded are compared with what the part must never load:

- graders and sandbox never load the core (`evalkit`): rewards load alone inside TRL / verl / Ray workers;
- the sandbox knows no benchmark and no grader;
- benchmarks know no engine (nor the runner, the trainer or the reports);
- reports read run directories only: no benchmark, engine, grader, sandbox or trainer;
- and nothing outside the trainer loads a heavy library (torch, transformers, vllm, llama_cpp,
  openai) at import time; those load inside the engine or command that needs them.

A violation names the chain of imports that pulled the forbidden module in. A deliberately bad
module (tests/fixtures/bad_imports) shows that the check fails when a forbidden import comes back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD_MODULES = Path(__file__).resolve().parent / "fixtures" / "bad_imports"
HEAVY = ("torch", "transformers", "vllm", "llama_cpp", "openai")

IMPORT_SCRIPT = r"""
import builtins, importlib, json, sys

first_importer = {}
real_import = builtins.__import__

def tracking_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "?")
    before = set(sys.modules)
    module = real_import(name, globals, locals, fromlist, level)
    for new in set(sys.modules) - before:
        first_importer.setdefault(new, importer)
    return module

builtins.__import__ = tracking_import
extra_paths, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for package, path in extra_paths:
    importlib.import_module(package).__path__.append(path)
for name in modules:
    before = set(sys.modules)
    importlib.import_module(name)
    for new in set(sys.modules) - before - {name}:
        first_importer.setdefault(new, name)
print(json.dumps({"loaded": sorted(sys.modules), "first_importer": first_importer}))
"""


@dataclass(frozen=True)
class Rule:
    part: str  # a top-level package, or a sub-package like "evalkit.engines"
    never: tuple[str, ...]  # module prefixes it must never load
    skip: tuple[str, ...] = ()  # modules of the part not checked against `never` (none today but the trainer)


RULES = (
    Rule("graders", never=("evalkit", "benchmarks", "reports", *HEAVY)),
    Rule("sandbox", never=("evalkit", "benchmarks", "graders", "reports", *HEAVY)),
    Rule("benchmarks", never=("evalkit.engines", "evalkit.runner", "evalkit.train", "evalkit.cli", "reports", *HEAVY)),
    Rule("reports", never=("benchmarks", "evalkit.engines", "evalkit.runner", "evalkit.train", "graders", "sandbox",
                           *HEAVY)),
    Rule("evalkit", never=HEAVY, skip=("evalkit.train.",)),
)

#: Violations that another change in flight removes; each entry must still be a violation (so that it
#: is deleted here as soon as it is fixed). part -> forbidden prefix -> why it is tolerated for now.
KNOWN: dict[str, dict[str, str]] = {}


def modules_of(part: str) -> list[str]:
    """Every module of a package, by walking its files (nothing is imported to find them)."""
    base = ROOT.joinpath(*part.split("."))
    names = []
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def load(modules: list[str], extra_paths: list[tuple[str, str]] = ()) -> dict:
    """`sys.modules` of a fresh interpreter after importing `modules`, and who first imported each module."""
    done = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT, json.dumps(list(extra_paths)), json.dumps(modules)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".") or (prefix.endswith(".") and module.startswith(prefix))


def violations(rule: Rule, result: dict) -> dict[str, str]:
    """Forbidden prefix -> the import chain that loaded it (`a -> b -> c`), for each broken rule."""
    found: dict[str, str] = {}
    for prefix in rule.never:
        hits = [m for m in result["loaded"] if _matches(m, prefix)]
        if not hits:
            continue
        chain = [min(hits, key=len)]
        while (importer := result["first_importer"].get(chain[-1])) is not None and importer not in chain:
            chain.append(importer)
        found[prefix] = " <- ".join(chain)
    return found


@pytest.mark.parametrize("rule", RULES, ids=[r.part for r in RULES])
def test_import_rules(rule: Rule):
    modules = [m for m in modules_of(rule.part) if not any(_matches(m, s) for s in rule.skip)]
    found = violations(rule, load(modules))
    known = KNOWN.get(rule.part, {})
    stale = sorted(set(known) - set(found))
    assert not stale, f"{rule.part} no longer loads {stale}: delete the entries from KNOWN in {Path(__file__).name}"
    broken = {prefix: chain for prefix, chain in found.items() if prefix not in known}
    assert not broken, f"{rule.part} loads what it must never load:\n" + "\n".join(
        f"  {prefix}: {chain}" for prefix, chain in broken.items())


def test_the_part_lists_are_complete():
    """Every package of the distribution is covered by a rule (a new top-level package needs one)."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages == {r.part for r in RULES}


def test_a_forbidden_import_added_back_is_caught():
    """A grader module that imports the core (what sandbox/isolation.py did) fails the graders rule, and the
    message names the chain."""
    rule = next(r for r in RULES if r.part == "graders")
    result = load(["graders.bad_reward"], [("graders", str(BAD_MODULES / "graders"))])
    found = violations(rule, result)
    assert "evalkit" in found and found["evalkit"].endswith("graders.bad_reward")
    result = load(["benchmarks.bad_bench"], [("benchmarks", str(BAD_MODULES / "benchmarks"))])
    found = violations(next(r for r in RULES if r.part == "benchmarks"), result)
    assert set(found) == {"evalkit.engines"} and found["evalkit.engines"].endswith("benchmarks.bad_bench")
