"""The answer parser and normaliser: exact values for every spelling, and no crash or slowness on any text."""

import contextlib
import functools
import math
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graders.compare import compare, exact_value
from graders.latex import TooComplex, Unparsed, normalize, parse_answer
from graders.nodes import Alternatives, Group, Relation, Sym, Text
from graders.policy import DEFAULT_POLICY


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,000", 1000), ("1{,}000", 1000), ("1\\,000", 1000), ("1 000 000", 1000000), ("\\$18.90", Fraction(189, 10)),
        ("\\frac12", Fraction(1, 2)), ("\\dfrac{3}{4}", Fraction(3, 4)), ("2\\frac{1}{2}", Fraction(5, 2)),
        ("0.\\overline{3}", Fraction(1, 3)), ("0.1\\overline{6}", Fraction(1, 6)), ("-\\frac{1}{2}", Fraction(-1, 2)),
        ("\u22125", -5), ("90^\\circ", 90), ("90^{\\circ}", 90), ("25\\%", 25), ("12 \\text{ cm}^2", 12),
        ("5 apples", 5), ("3.5 million", 3500000), ("2^{10}", 1024), ("\\sqrt{16}", 4), ("\\binom{5}{2}", 10),
        ("4!", 24), ("\\left(3\\right)", 3), ("\\frac{6}{4}", Fraction(3, 2)),
    ],
)
def test_numbers_read_exactly(text, value):
    assert exact_value(parse_answer(text)) == value


def test_structures_and_words():
    assert parse_answer("(1, 2]") == Group("interval", parse_answer("1, 2").items, "(", "]")
    assert parse_answer("\\{3, 4\\}").kind == "set"
    assert parse_answer("1, 2, 3").kind == "list"
    assert parse_answer("(1, 2, 3)").kind == "tuple"
    assert parse_answer("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}").kind == "matrix"
    assert isinstance(parse_answer("x = 3"), Relation)
    assert isinstance(parse_answer("1 or 2"), Alternatives)
    assert parse_answer("\\text{Monday}") == Text("monday")
    assert parse_answer("\\textbf{(B)}") == Text("B")
    assert parse_answer("f'") == Sym("f'")
    assert parse_answer("x + c") != parse_answer("x")  # a single letter is never a unit


def test_normalize_keeps_what_matters():
    assert normalize("\\left( 1, 2 \\right]") == "( 1, 2 ]"
    assert normalize("1\\,000") == "1000"
    assert normalize("x + c") == "x + c"
    assert "f'" in normalize("f'(x)")


def test_size_limits_bound_the_work_not_the_length():
    # A long but linear expression is one flat node: parsed and evaluated exactly.
    assert exact_value(parse_answer("+".join(["1"] * 3000))) == 3000
    assert exact_value(parse_answer(" \\cdot ".join(["2"] * 500))) == 2**500
    with pytest.raises(TooComplex):
        parse_answer("(" * 300 + "1" + ")" * 300)  # nesting
    with pytest.raises(TooComplex):
        parse_answer("9" * 6000)  # one digit string past Python's int/str limit
    with pytest.raises(TooComplex):
        parse_answer("1+" * 20000 + "1")  # past MAX_ANSWER_CHARS


@pytest.mark.parametrize("text", ["1" + "a" * 1990 + "!", "1 " + "ab " * 600 + "!", "x" * 1999, "{" * 999 + "}" * 999,
                                  "\\text{" * 300, "1," * 999, "0." + "9" * 1990])
def test_long_adversarial_answers_are_handled_fast(text):
    """Bounded in CPU time and in units of this machine's speed (not seconds): 300 units are about 0.2 s of CPU
    on the project's machines, so the bound holds on a slow or a loaded CPU as on a fast one."""
    parse_answer("x+1")  # imports and compiled patterns are not the input's cost
    start = time.process_time()
    with contextlib.suppress(Unparsed):
        parse_answer(text)
    assert time.process_time() - start < 300 * _machine_unit()


@functools.cache
def _machine_unit() -> float:
    """CPU seconds a fixed pure-Python workload takes here (best of 5), so time bounds scale with the CPU."""
    best = math.inf
    for _ in range(5):
        start = time.process_time()
        sum(i * i for i in range(20_000))
        best = min(best, time.process_time() - start)
    return best


@given(st.fractions(max_denominator=10**6), st.sampled_from(["frac", "dfrac", "decimal", "slash"]))
def test_any_fraction_spelling_is_equal_to_itself(value, style):
    num, den = value.numerator, value.denominator
    gold = parse_answer(f"\\frac{{{num}}}{{{den}}}" if num >= 0 else f"-\\frac{{{-num}}}{{{den}}}")
    if style == "decimal":
        if 10**12 % den:
            return  # not a terminating decimal
        text = str(num * (10**12 // den) / 10**12) if abs(num) < 10**6 else None
        if text is None or "e" in text or Fraction(text) != value:
            return
    elif style == "slash":
        text = f"{num}/{den}"
    else:
        text = f"\\{style}{{{num}}}{{{den}}}" if num >= 0 else f"-\\{style}{{{-num}}}{{{den}}}"
    assert compare(parse_answer(text), gold, DEFAULT_POLICY).same


@given(st.integers(min_value=-10**30, max_value=10**30))
def test_digit_grouping_never_changes_an_integer(n):
    grouped = f"{n:,}"
    for text in (grouped, grouped.replace(",", "{,}"), grouped.replace(",", "\\,")):
        assert exact_value(parse_answer(text)) == n


_PIECES = list("0123456789xy+-*/^_{}()[],.=| \\!ie") + [
    "\\frac", "\\sqrt", "\\pi", "\\boxed", "\\left(", "\\right)", "\\text{ or }", "\\cdot", "\\infty", "\\%"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_parser_never_crashes_or_stalls_on_arbitrary_input(text):
    start = time.perf_counter()
    try:
        tree = parse_answer(text)
    except Unparsed:
        return
    outcome = compare(tree, tree, DEFAULT_POLICY)
    assert outcome.same in (True, None, False)
    assert time.perf_counter() - start < 0.5
