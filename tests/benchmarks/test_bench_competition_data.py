"""The five competition sets on their real files: sizes, ids, breakdowns, gold conventions, and fidelity.

Fidelity: every gold parses, equals itself, and equals its own reference solution where the file gives one
(AIME 2024 `solution`, OlympiadBench `solution`, Minerva's boxed solution). What does not is pinned below
with the reason, so that a change in either direction (a new failure, or a fixed one) fails the test.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import benchmarks
from benchmarks.base import DataError, DataSource, Problem
from graders import math as gm
from graders.extract import _blank_spans, _math_spans
from graders.latex import Unparsed, parse_answer
from graders.policy import DEFAULT_POLICY

NEW = ("aime24", "aime25", "amc23", "olympiadbench", "minerva_math")

#: Golds the fast parser cannot read (they are graded by the slow path, or only when written the same way).
UNPARSED_GOLDS = {
    ("olympiadbench", "1644"): "\\lfloor / \\rfloor: floor brackets are not in the fast parser (slow path decides)",
    ("olympiadbench", "1775"): "\\lfloor / \\rfloor: floor brackets are not in the fast parser (slow path decides)",
    ("olympiadbench", "1974"): "\\lfloor / \\rfloor: floor brackets are not in the fast parser (slow path decides)",
    ("olympiadbench", "2091"): "\\lfloor / \\rfloor: floor brackets are not in the fast parser (slow path decides)",
    ("olympiadbench", "2151"): "\\lfloor / \\rfloor: floor brackets are not in the fast parser (slow path decides)",
    ("olympiadbench", "1883"): "\\lceil / \\rceil: ceiling brackets are not in the fast parser (slow path decides)",
    ("olympiadbench", "1782"): "`m_{\\max }`: a function name as a subscript; a bare `n^2-n-1` is graded different",
    ("olympiadbench", "1965"): "a sentence with `\\mho(a)=0` (an undefined symbol): only the same text is right",
    ("minerva_math", "5"): "written as numpy code, `np.arcsin(10/13)`: only the same text is right",
    ("minerva_math", "12"): "`\\left[ ... \\right]` brackets inside an exponent's fraction (slow path decides)",
    ("minerva_math", "27"): "`\\odot` (M_sun) is not a known symbol: only the same text is right",
    ("minerva_math", "62"): "`^{\\prime}` derivatives of an ODE: only the same text is right",
    ("minerva_math", "89"): "`^{\\prime}` derivatives of an ODE: only the same text is right",
    ("minerva_math", "261"): "`\\hbar` is not a known symbol: only the same text is right",
}

_PROOF = "a proof: the answer is argued, never written as one expression equal to the gold"
_SPLIT = "several answers written apart in prose, not as the gold's list"
#: OlympiadBench problems whose solution does not state the gold in a form the reader below finds.
OLYMPIAD_SOLUTION_EXCEPTIONS = {
    **dict.fromkeys((1641, 1687, 1737, 1738, 1775, 1782, 1828, 1872, 1873, 1883, 1930, 1938, 1940, 1953, 1962,
                     1964, 1969, 1970, 1974, 2006, 2024, 2032), _PROOF),
    **dict.fromkeys((2235, 2570, 2684), _SPLIT),
    1965: "the gold is a sentence (`f(x)=a x+b, where b is an arbitrary integer, ...`) the fast parser cannot read",
    2298: "the interval is written as inequalities ($-\\sqrt{11}<x<-2$ and $\\sqrt{11}<x<9$)",
    2560: "two of the three pairs are one `\\pm` pair, $(4 \\pm 2 \\sqrt{2}, 8)$",
    2045: "gold error: `t(0,4]` lost the `\\in` of $t \\in (0,4]$, so no interval equals it",
    2498: "gold error: `\\frac{1}{2},\\sqrt{x}` is the answer $y=\\frac{1}{2}\\sqrt{x}$ split at a comma",
}


def _load(name: str, shared_data: Path) -> list[Problem]:
    return benchmarks.get(name).load(DataSource(shared_data))


def test_sizes_ids_and_breakdowns(shared_data: Path):
    sizes = {name: _load(name, shared_data) for name in NEW}
    assert {name: len(ps) for name, ps in sizes.items()} == {"aime24": 30, "aime25": 30, "amc23": 40,
                                                              "olympiadbench": 675, "minerva_math": 272}
    for name, problems in sizes.items():
        assert len({p.id for p in problems}) == len(problems), name
    aime24 = sizes["aime24"]
    assert [p.id for p in aime24[:3]] == ["2024-I-1", "2024-I-2", "2024-I-3"] and aime24[-1].id == "2024-II-15"
    assert Counter((p.metadata["year"], p.metadata["part"]) for p in aime24 + sizes["aime25"]) == {
        ("2024", "I"): 15, ("2024", "II"): 15, ("2025", "I"): 15, ("2025", "II"): 15}
    assert Counter(p.metadata["part"] for p in sizes["amc23"]) == {"12A": 22, "12B": 18}
    ob = sizes["olympiadbench"]
    assert Counter(p.metadata["subfield"] for p in ob) == {"Algebra": 264, "Combinatorics": 154, "Geometry": 129,
                                                           "Number Theory": 128}
    assert Counter(p.metadata["answer_type"] for p in ob) == {"Numerical": 572, "Expression": 64, "Tuple": 33,
                                                              "Interval": 6}
    assert sum(p.metadata["multiple_answers"] for p in ob) == 94 and sum(bool(p.metadata["unit"]) for p in ob) == 8
    courses = Counter(p.metadata["course"] for p in sizes["minerva_math"])
    assert len(courses) == 9 and courses["Introduction to Solid State Chemistry (3.091 Fall 2010)"] == 97
    for name in NEW:
        assert benchmarks.get(name).breakdown_keys()


def test_gold_conventions(shared_data: Path):
    aime24 = {p.id: p for p in _load("aime24", shared_data)}
    assert aime24["2024-I-2"].gold == "25" and aime24["2024-II-1"].gold == "73"  # stored "025", "073"
    assert aime24["2024-I-8"].gold == "197"  # the eight-circles problem (480 in Open-Reasoner-Zero's copy)
    aime25 = _load("aime25", shared_data)
    assert aime25[0].gold == "70" and not aime25[0].question.endswith("\\boxed{}.")  # the appended instruction is cut
    assert aime25[15].id == "2025-II-1"
    amc = _load("amc23", shared_data)
    assert amc[0].gold == "27" and all(re.fullmatch(r"-?\d+", p.gold) for p in amc)  # stored as floats, 27.0
    bench = benchmarks.get("aime24")
    assert [v.correct for v in bench.grade_many([aime24["2024-I-2"]] * 4,
                                                ["\\boxed{25}", "\\boxed{025}", "\\boxed{25.0}", "\\boxed{52}"])] \
        == [True, True, True, False]
    amc_bench = benchmarks.get("amc23")
    assert [v.correct for v in amc_bench.grade_many([amc[0]] * 3, ["\\boxed{27}", "\\boxed{27.0}", "\\boxed{26}"])] \
        == [True, True, False]


@pytest.mark.parametrize("name", NEW)
def test_every_gold_parses_and_equals_itself(name: str, shared_data: Path):
    bench = benchmarks.get(name)
    problems = _load(name, shared_data)
    unparsed = set()
    for p in problems:
        try:
            parse_answer(gm.gold_answer(p.gold) or "")
        except Unparsed:
            unparsed.add((name, p.id))
    assert unparsed == {key for key in UNPARSED_GOLDS if key[0] == name}
    verdicts = bench.grade_many(problems, [f"\\boxed{{{gm.gold_answer(p.gold)}}}" for p in problems])
    assert [p.id for p, v in zip(problems, verdicts, strict=True) if not v.correct] == []
    # ... and the grader is not trivially true: the next problem's gold is right only where the two golds agree
    following = problems[1:] + problems[:1]
    shifted = bench.grade_many(problems, [f"\\boxed{{{gm.gold_answer(q.gold)}}}" for q in following])
    same = [gm.is_equiv(gm.gold_answer(p.gold) or "", gm.gold_answer(q.gold) or "")
            for p, q in zip(problems, following, strict=True)]
    assert [v.correct for v in shifted] == same and sum(same) <= len(problems) // 10


def test_aime_2024_and_minerva_solutions_grade_correct(shared_data: Path):
    for name in ("aime24", "minerva_math"):
        bench = benchmarks.get(name)
        problems = _load(name, shared_data)
        verdicts = bench.grade_many(problems, [p.metadata["solution"] for p in problems])
        assert [p.id for p, v in zip(problems, verdicts, strict=True) if not v.correct] == [], name


# -- OlympiadBench: solutions are proofs without a box -----------------------------------------------

_BOLD = re.compile(r"\\mathbf\{((?:[^{}]|\{[^{}]*\})*)\}")
_NUMBER = re.compile(r"(?<![\w.\\])-?\d+(?:\.\d+)?(?![\w])")


def _unbold(text: str) -> str:
    """ARML solutions print the answer in bold with spaced digits: `\\mathbf{6 0}` is 60."""
    return _BOLD.sub(lambda m: re.sub(r"(?<=[\d,.-]) (?=[\d,.])", "", m.group(1)).replace("- ", "-"), text)


def _values(text: str):
    for span in _math_spans(text):
        yield span.text
        yield from re.split(r"=|\\Rightarrow|\\Longrightarrow|\\quad|,\s|:|&|\\\\", span.text)
    yield from (m.group() for m in _NUMBER.finditer(_blank_spans(text)))


def _states(text: str, gold: str) -> bool:
    """Whether one of the values `text` writes is the gold, decided by the grader's fast path alone (proofs hold
    hundreds of spans; what only the slow path could decide is not counted as stated)."""
    gold_text = gm.gold_answer(gold) or ""
    parts = dict.fromkeys(p.strip() for p in _values(text) if p.strip())
    return any(gm._decide(p, gold_text, DEFAULT_POLICY).same is True for p in parts)


def olympiad_solution_reading(problem: Problem) -> str | None:
    """How the solution gives the gold: "final" (graded as a completion, the solution's final answer is the
    gold), "bold" (its last bold answer), "stated" (the gold, or each of its answers, is one of the values it
    writes), or None."""
    solution, gold = problem.metadata["solution"], problem.gold
    text = _unbold(solution)
    if gm.grade(text, gold, question=problem.question).correct:
        return "final"
    bold = [s for s in _math_spans(solution) if "\\mathbf" in s.text]
    if bold and any(gm.grade(f"${_unbold(p)}$", gold).correct
                    for p in [bold[-1].text, *re.split(r"&|\\\\|=", bold[-1].text)] if p.strip()):
        return "bold"
    if _states(text, gold):
        return "stated"
    if problem.metadata["multiple_answers"]:
        items = [p for p in gm._top_level_parts(gold.replace("$", "")) if p]
        if all(_states(text, item) for item in items):
            return "stated"
    return None


def test_olympiadbench_solutions_state_their_gold(shared_data: Path):
    problems = _load("olympiadbench", shared_data)
    readings = {int(p.id): olympiad_solution_reading(p) for p in problems}
    missing = {pid for pid, how in readings.items() if how is None}
    assert missing == set(OLYMPIAD_SOLUTION_EXCEPTIONS), sorted(missing ^ set(OLYMPIAD_SOLUTION_EXCEPTIONS))
    counts = Counter(readings.values())
    assert counts["final"] >= 400 and counts["final"] + counts["bold"] + counts["stated"] == 675 - len(missing)


def test_olympiadbench_multiple_answers_are_all_required_in_any_order(shared_data: Path):
    ob = {p.id: p for p in _load("olympiadbench", shared_data)}
    bench = benchmarks.get("olympiadbench")
    p = ob["1664"]  # $69$,$84$
    assert p.metadata["multiple_answers"] and "several answers" in bench.chat_instruction(p)
    answers = ["\\boxed{69, 84}", "\\boxed{84, 69}", "\\boxed{84} and \\boxed{69}", "\\boxed{69}", "\\boxed{69, 84, 5}",
               "\\boxed{69} or \\boxed{84}", "\\boxed{69, 69}"]
    # against a list gold "or" lists (the math grader's policy); one of the two, a third, or a repeat is wrong
    assert [v.correct for v in bench.grade_many([p] * len(answers), answers)] == [True, True, True, False, False, True,
                                                                                False]
    functions = ob["1938"]  # $f(x)=-1$,$f(x)=x+1$
    assert [v.correct for v in bench.grade_many([functions] * 2, ["\\boxed{f(x) = x+1, f(x) = -1}",
                                                                  "\\boxed{f(x) = x+1}"])] == [True, False]


def test_olympiadbench_units_and_error_tolerance(shared_data: Path):
    ob = {p.id: p for p in _load("olympiadbench", shared_data)}
    bench = benchmarks.get("olympiadbench")
    assert "The unit of the answer is km/h." in bench.chat_instruction(ob["2426"])
    unit_answers = [(ob["2253"], "\\boxed{45 \\text{ minutes}}"), (ob["2419"], "\\boxed{166 \\mathrm{~cm}^2}"),
                    (ob["2426"], "\\boxed{\\frac{600}{7} \\text{ km/h}}"), (ob["2522"], "\\boxed{50}")]
    assert all(v.correct for v in bench.grade_many([p for p, _ in unit_answers], [a for _, a in unit_answers]))
    # 2592 ("correct to one decimal place", error 1e-1): OlympiadBench's judge allows |answer - 4.2| <= 0.1
    p = ob["2592"]
    assert p.metadata["abs_tol"] == pytest.approx(0.1)
    verdicts = bench.grade_many([p] * 4, ["\\boxed{4.2}", "\\boxed{4.25}", "\\boxed{4.16\\%}", "\\boxed{4.4}"])
    assert [v.correct for v in verdicts] == [True, True, True, False]
    exact = ob["1606"]  # no error field: exact
    assert [v.correct for v in bench.grade_many([exact] * 2, ["\\boxed{2}", "\\boxed{2.05}"])] == [True, False]
    assert bench.grader.version.endswith("+error")


def test_minerva_policy_is_its_own(shared_data: Path):
    from benchmarks.competition import MINERVA_POLICY

    mm = {p.id: p for p in _load("minerva_math", shared_data)}
    bench = benchmarks.get("minerva_math")
    assert bench.grader.policy == MINERVA_POLICY and MINERVA_POLICY.rel_tol == 1e-4
    assert "rel_tol=0.0001" in bench.grader.version and "units=any" in bench.grader.version
    p = mm["1"]  # 4.5e33 ergs/s
    answers = ["\\boxed{4.5 \\times 10^{33} \\mathrm{ergs} \\mathrm{s}^{-1}}", "\\boxed{4.5002e33}", "\\boxed{4.6e33}",
               "\\boxed{4.5 \\times 10^{33} \\text{ or } 4.6 \\times 10^{33}}"]
    assert [v.correct for v in bench.grade_many([p] * len(answers), answers)] == [True, True, False, False]
    assert bench.grade(mm["0"], "so $s = \\boxed{1.6} \\mathrm{~cm}$").correct
    # the same answers under MATH's policy (the default): exact, known units only
    default = benchmarks.get("math500").grader
    assert [v.correct for v in default.grade_batch(answers[:2], [p.gold] * 2)] == [False, False]
    for name in ("math500", "aime24", "amc23", "olympiadbench"):
        assert "rel_tol" not in benchmarks.get(name).grader.version


@pytest.mark.parametrize("name", NEW)
def test_offline_without_data_dir_is_one_line(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    bench = benchmarks.get(name)
    with pytest.raises(DataError) as err:
        bench.load(DataSource(None))
    message = str(err.value)
    assert "\n" not in message and f"cannot load {name} from the Hugging Face hub" in message
    assert bench.hub_dataset.split()[0] in message and "--data-dir" in message and "EVALKIT_DATA_DIR" in message


def test_missing_local_file_is_one_line(tmp_path: Path):
    for name in NEW:
        with pytest.raises(DataError, match=r"not found") as err:
            benchmarks.get(name).load(DataSource(tmp_path))
        assert "\n" not in str(err.value)
