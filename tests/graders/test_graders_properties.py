"""Property tests: every spelling we generate of a random value is equal to every other, and a
perturbed value is not. Values: rationals, tuples, unordered lists, intervals and half-lines;
spellings: fraction forms, decimals, mixed numbers, digit groups, spacing, `\\left`/`\\right`,
labels, boxes or plain statements, inequality against interval notation."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graders import math as gm

PROPERTY_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

rationals = st.builds(Fraction, st.integers(-10**6, 10**6), st.integers(1, 10**4))


def _terminating(value: Fraction) -> bool:
    den = value.denominator
    for prime in (2, 5):
        while den % prime == 0:
            den //= prime
    return den == 1


def _decimal(value: Fraction) -> str:
    places = 0
    while (value * 10**places).denominator != 1:
        places += 1
    scaled = abs(value.numerator) * 10**places // value.denominator
    text = f"{scaled:0{places + 1}d}"
    body = f"{text[:-places]}.{text[-places:]}" if places else text
    return ("-" if value < 0 else "") + body


def _grouped(n: int, sep: str) -> str:
    return ("-" if n < 0 else "") + f"{abs(n):,}".replace(",", sep)


@st.composite
def spelling(draw, value: Fraction, in_group: bool = True) -> str:
    """One of the many ways to write `value` (inside a list or tuple, no plain-comma digit groups:
    `1,000, 2` is ambiguous to any reader)."""
    num, den = value.numerator, value.denominator
    sign, a = ("-" if num < 0 else ""), abs(num)
    forms = [f"{sign}\\frac{{{a}}}{{{den}}}", f"\\frac{{{num}}}{{{den}}}", f"{sign}\\dfrac{{{a}}}{{{den}}}",
             f"{num}/{den}", f"\\left({sign}\\frac{{{a}}}{{{den}}}\\right)"]
    k = draw(st.integers(2, 9))
    forms.append(f"{sign}\\frac{{{a * k}}}{{{den * k}}}")
    if den == 1:
        forms += [str(num), f"{num}.0", _grouped(num, "{,}"), _grouped(num, "\\,")]
        if not in_group:
            forms.append(_grouped(num, ","))
    if _terminating(value):
        forms.append(_decimal(value))
    if den > 1 and a > den:  # a mixed number: 2\frac{1}{2}
        whole, rest = divmod(a, den)
        forms.append(f"{sign}{whole}\\frac{{{rest}}}{{{den}}}")
    text = draw(st.sampled_from(forms))
    return text.replace("\\frac", draw(st.sampled_from(["\\frac", "\\frac ", "\\tfrac"])), 1)


def _perturbed(value: Fraction, delta: Fraction) -> Fraction:
    return value + delta if delta else value + 1


deltas = st.builds(Fraction, st.integers(-3, 3).filter(bool), st.integers(1, 10**5))


@st.composite
def stated(draw, answer: str, label: str | None = None) -> str:
    """A completion stating `answer`: boxed, or in a sentence, with an optional label."""
    shown = f"{label} = {answer}" if label else answer
    style = draw(st.sampled_from(["box", "sentence", "minerva", "display"]))
    if style == "box":
        return f"Working it out step by step gives $\\boxed{{{shown}}}$."
    if style == "sentence":
        return f"Therefore, the answer is ${shown}$."
    if style == "minerva":
        return f"Final Answer: The final answer is ${shown}$. I hope it is correct."
    return f"So we conclude\n\\[\n\\boxed{{{shown}}}\n\\]"


@PROPERTY_SETTINGS
@given(st.data(), rationals, deltas)
def test_rationals(data, value, delta):
    gold = data.draw(spelling(value, in_group=False))
    completion = data.draw(stated(data.draw(spelling(value, in_group=False)),
                                  data.draw(st.sampled_from([None, "x", "a_1"]))))
    assert gm.grade(completion, gold).correct, (completion, gold)
    wrong = data.draw(stated(data.draw(spelling(_perturbed(value, delta)))))
    assert not gm.grade(wrong, gold).correct, (wrong, gold)


def _tuple_text(items: list[str], left: bool) -> str:
    inner = ", ".join(items)
    return f"\\left( {inner} \\right)" if left else f"({inner})"


@PROPERTY_SETTINGS
@given(st.data(), st.lists(rationals, min_size=2, max_size=4), deltas)
def test_tuples(data, values, delta):
    gold = _tuple_text([data.draw(spelling(v)) for v in values], data.draw(st.booleans()))
    label = data.draw(st.sampled_from([None, "(" + ", ".join("xyzw"[:len(values)]) + ")"]))
    answer = _tuple_text([data.draw(spelling(v)) for v in values], data.draw(st.booleans()))
    assert gm.grade(data.draw(stated(answer, label)), gold).correct, (answer, gold)
    i = data.draw(st.integers(0, len(values) - 1))
    changed = list(values)
    changed[i] = _perturbed(values[i], delta)
    wrong = _tuple_text([data.draw(spelling(v)) for v in changed], False)
    assert not gm.grade(data.draw(stated(wrong)), gold).correct, (wrong, gold)
    assume(values[0] != values[1])
    swapped = [values[1], values[0], *values[2:]]
    reordered = _tuple_text([data.draw(spelling(v)) for v in swapped], False)
    assert not gm.grade(data.draw(stated(reordered)), gold).correct  # a tuple is ordered


@PROPERTY_SETTINGS
@given(st.data(), st.lists(rationals, min_size=2, max_size=5, unique=True), deltas)
def test_unordered_lists(data, values, delta):
    gold = ", ".join(data.draw(spelling(v)) for v in values)
    shuffled = data.draw(st.permutations(values))
    answer = ", ".join(data.draw(spelling(v)) for v in shuffled)
    if data.draw(st.booleans()):
        answer = f"\\{{{answer}\\}}"
    assert gm.grade(data.draw(stated(answer)), gold).correct, (answer, gold)
    changed = list(shuffled)
    changed[0] = _perturbed(changed[0], delta)
    assume(changed[0] not in values)
    wrong = ", ".join(data.draw(spelling(v)) for v in changed)
    assert not gm.grade(data.draw(stated(wrong)), gold).correct, (wrong, gold)


@st.composite
def interval(draw):
    lo, hi = draw(rationals), draw(rationals)
    assume(lo != hi)
    return min(lo, hi), max(lo, hi), draw(st.booleans()), draw(st.booleans())


def _interval_text(lo: str, hi: str, lo_closed: bool, hi_closed: bool, left_right: bool) -> str:
    opener, closer = "[" if lo_closed else "(", "]" if hi_closed else ")"
    if left_right:
        return f"\\left{opener} {lo}, {hi} \\right{closer}"
    return f"{opener}{lo}, {hi}{closer}"


def _inequality_text(lo: str, hi: str, lo_closed: bool, hi_closed: bool, var: str, flipped: bool) -> str:
    if flipped:
        hi_op, lo_op = ("\\ge" if hi_closed else ">"), ("\\ge" if lo_closed else ">")
        return f"{hi} {hi_op} {var} {lo_op} {lo}"
    lo_op, hi_op = ("\\le" if lo_closed else "<"), ("\\le" if hi_closed else "<")
    return f"{lo} {lo_op} {var} {hi_op} {hi}"


@PROPERTY_SETTINGS
@given(st.data(), interval(), deltas)
def test_intervals_and_inequalities(data, bounds, delta):
    lo, hi, lo_closed, hi_closed = bounds
    left_right = data.draw(st.booleans())
    gold = _interval_text(data.draw(spelling(lo)), data.draw(spelling(hi)), lo_closed, hi_closed, left_right)
    lo_text, hi_text = data.draw(spelling(lo)), data.draw(spelling(hi))
    form = data.draw(st.sampled_from(["interval", "in", "inequality", "flipped"]))
    if form == "interval":
        answer = _interval_text(lo_text, hi_text, lo_closed, hi_closed, data.draw(st.booleans()))
    elif form == "in":
        answer = "x \\in " + _interval_text(lo_text, hi_text, lo_closed, hi_closed, data.draw(st.booleans()))
    else:
        answer = _inequality_text(lo_text, hi_text, lo_closed, hi_closed, "x", form == "flipped")
    assert gm.grade(data.draw(stated(answer)), gold).correct, (answer, gold)
    # a bracket flipped, or an endpoint moved, is a different set
    flip = data.draw(st.sampled_from(["lo", "hi", "move"]))
    if flip == "move":
        moved = _perturbed(hi, delta)
        assume(moved > lo)
        wrong = _inequality_text(lo_text, data.draw(spelling(moved)), lo_closed, hi_closed, "x", False)
    else:
        wrong = _inequality_text(lo_text, hi_text, lo_closed ^ (flip == "lo"), hi_closed ^ (flip == "hi"), "x", False)
    assert not gm.grade(data.draw(stated(wrong)), gold).correct, (wrong, gold)


@PROPERTY_SETTINGS
@given(st.data(), rationals, st.booleans(), st.booleans(), deltas)
def test_half_lines(data, bound, upward, closed, delta):
    b = data.draw(spelling(bound))
    ge, le = ("\\ge", "\\le") if closed else (">", "<")
    if upward:
        gold = ("[" if closed else "(") + f"{b}, \\infty)"
        answer = data.draw(st.sampled_from([f"x {ge} {b}", f"{b} {le} x", f"-x {le} {data.draw(spelling(-bound))}"]))
    else:
        gold = f"(-\\infty, {b}" + ("]" if closed else ")")
        answer = data.draw(st.sampled_from([f"x {le} {b}", f"{b} {ge} x", f"2x {le} {data.draw(spelling(2 * bound))}"]))
    assert gm.grade(data.draw(stated(answer)), gold).correct, (answer, gold)
    other_ge, other_le = (">", "<") if closed else ("\\ge", "\\le")  # the other strictness
    wrong = f"x {other_ge if upward else other_le} {b}"
    assert not gm.grade(data.draw(stated(wrong)), gold).correct, (wrong, gold)
    moved = data.draw(spelling(_perturbed(bound, delta)))
    open_gold = gold.replace("[", "(").replace("]", ")")
    assert not gm.grade(data.draw(stated(f"x {'>' if upward else '<'} {moved}")), open_gold).correct
