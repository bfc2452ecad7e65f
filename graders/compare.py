"""Decide whether two answer trees are the same answer, without sympy.

Three tiers, cheapest first:
1. structure: tuples, intervals (with their brackets), sets and lists, matrices, equations and
   words are compared element by element;
2. exact: values without variables or irrationals are exact rationals (`Fraction`), so `0.5`,
   `\\frac12` and `\\frac{2}{4}` are equal and `0.333` is not 1/3;
3. numeric identity testing: anything else is evaluated with mpmath at 40 digits, variables at
   fixed pseudo-random points. Different values at any point mean different answers; equal
   values (to 1e-30) at every point mean equal answers (Schwartz-Zippel for polynomials; for
   the elementary functions of competition answers a coincidence at 40 digits is not a risk).
If the numeric test cannot evaluate (domain errors everywhere), the pair is `UNKNOWN` and the
caller falls back to sympy in a deadline-bound worker.

Every evaluation is guarded by size before it runs: exact results are refused past `MAX_BITS`,
numeric powers past `MAX_LOG10` in magnitude, factorials and binomials past `MAX_FACTORIAL`,
trigonometric and exponential arguments past `MAX_FUNCTION_ARG`, so no input makes this tier slow.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from fractions import Fraction

from graders.nodes import Alternatives, Apply, Group, Node, Num, Relation, Sym, Text
from graders.policy import GradingPolicy

MAX_BITS = 1_000_000
MAX_LOG10 = 100_000
MAX_FACTORIAL = 1_000
MAX_ITEMS = 64
MAX_FUNCTION_ARG = 10**6
_POINTS = 4


class TooLarge(ArithmeticError):
    """A value would exceed the size guards."""


class NotNumeric(ValueError):
    """The tree has no numeric value (a word, a set, an undefined operation)."""


@dataclass(frozen=True)
class Outcome:
    """`same` is True/False, or None when this tier cannot decide. `reason` names the rule."""

    same: bool | None
    reason: str


EQUAL = Outcome(True, "equal")
DIFFERENT = Outcome(False, "different")
UNKNOWN = Outcome(None, "unknown")


def compare(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    """Whether `pred` states the same answer as `gold` under `policy`."""
    try:
        return _compare(pred, gold, policy)
    except TooLarge:
        return Outcome(False, "too_large")
    except RecursionError:
        return UNKNOWN


def _compare(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    if isinstance(gold, Alternatives):  # a gold "a or b" (`\boxed{15\frac{39}{40}}` or `\boxed{\frac{639}{40}}`)
        either = _any(list(gold.items), pred, policy, swap=True)
        if either.same:
            return either
        gold = Group("list", gold.items)
    if isinstance(pred, Alternatives):
        distinct = _distinct(pred.items, policy)
        if isinstance(gold, Group) and gold.kind in ("list", "set") and len(gold.items) > 1:
            pred = Group("list", pred.items)
        elif len(distinct) == 1:
            pred = distinct[0]
        elif policy.reject_hedges:
            return Outcome(False, "hedged")
        else:
            return _any(distinct, gold, policy)
    if policy.accept_assignment:
        pred, gold = _unassign(pred, gold)
    # `3 \pm \sqrt2` is the list of its two values when compared with a list.
    if _has_pm(pred) and isinstance(gold, Group) and gold.kind in ("list", "set"):
        pred = Group("list", tuple(_expand_pm(pred)))
    if _has_pm(gold) and isinstance(pred, Group) and pred.kind in ("list", "set"):
        gold = Group("list", tuple(_expand_pm(gold)))
    if isinstance(gold, Text) or isinstance(pred, Text):
        return _compare_text(pred, gold)
    if isinstance(gold, Relation) or isinstance(pred, Relation):
        return _compare_relations(pred, gold, policy)
    if isinstance(gold, Group) or isinstance(pred, Group):
        return _compare_groups(pred, gold, policy)
    if _is_set_op(gold) or _is_set_op(pred):
        return _compare_set_ops(pred, gold, policy)
    return _compare_scalars(pred, gold, policy)


def _any(items: list[Node], other: Node, policy: GradingPolicy, swap: bool = False) -> Outcome:
    """Whether any of `items` equals `other` (`swap`: the items are golds, `other` the prediction)."""
    outcomes = [_compare(other, item, policy) if swap else _compare(item, other, policy) for item in items]
    if any(o.same for o in outcomes):
        return EQUAL
    return UNKNOWN if any(o.same is None for o in outcomes) else DIFFERENT


def _distinct(items: tuple[Node, ...], policy: GradingPolicy) -> list[Node]:
    kept: list[Node] = []
    for item in items:
        if not any(_compare(item, k, policy).same for k in kept):
            kept.append(item)
    return kept


def _unassign(pred: Node, gold: Node) -> tuple[Node, Node]:
    """`x = 3` against 3 compares 3; 3 against gold `x = 3` too; `x \\in [1,2]` is `[1,2]`."""
    def value(node: Node) -> Node:
        if isinstance(node, Relation) and node.op in ("=", "\\in") and isinstance(node.lhs, Sym):
            return node.rhs
        return node

    if isinstance(pred, Group) and pred.kind in ("list", "set"):
        pred = Group(pred.kind, tuple(value(i) for i in pred.items), pred.left, pred.right)
    if isinstance(gold, Group) and gold.kind in ("list", "set"):
        gold = Group(gold.kind, tuple(value(i) for i in gold.items), gold.left, gold.right)
    pred_is, gold_is = _is_assignment(pred), _is_assignment(gold)
    if pred_is and gold_is:
        if pred.lhs == gold.lhs:  # type: ignore[union-attr]
            return pred.rhs, gold.rhs  # type: ignore[union-attr]
        return pred, gold
    if pred_is and not isinstance(gold, Relation):
        return value(pred), gold
    if gold_is and not isinstance(pred, Relation):
        return pred, value(gold)
    return pred, gold


def _is_assignment(node: Node) -> bool:
    return isinstance(node, Relation) and node.op in ("=", "\\in") and isinstance(node.lhs, Sym) \
        and node.lhs.name not in ("pi", "e", "i", "inf")


def _compare_text(pred: Node, gold: Node) -> Outcome:
    def word(node: Node) -> str | None:
        if isinstance(node, Text):
            return node.text
        if isinstance(node, Sym) and len(node.name) == 1:
            return node.name.upper() if node.name.upper() in "ABCDE" else node.name
        return None

    a, b = word(pred), word(gold)
    if a is None or b is None:
        return DIFFERENT
    if len(a) == 1 and len(b) == 1:  # choice letters are case-insensitive
        return EQUAL if a.upper() == b.upper() else DIFFERENT
    return EQUAL if a == b else DIFFERENT


def _compare_relations(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    if not (isinstance(pred, Relation) and isinstance(gold, Relation)):
        return DIFFERENT
    flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
    if pred.op == gold.op:
        direct = _both(pred.lhs, gold.lhs, pred.rhs, gold.rhs, policy)
        if direct.same:
            return direct
        if pred.op in ("=", "!="):
            swapped = _both(pred.lhs, gold.rhs, pred.rhs, gold.lhs, policy)
            if swapped.same:
                return swapped
            # Equations are the same when lhs - rhs agree up to sign: y = 2x + 1 vs 2x - y + 1 = 0.
            pd = Apply("add", (pred.lhs, Apply("neg", (pred.rhs,))))
            gd = Apply("add", (gold.lhs, Apply("neg", (gold.rhs,))))
            return _proportional(pd, gd)
        return direct
    if flipped.get(pred.op) == gold.op:
        return _both(pred.lhs, gold.rhs, pred.rhs, gold.lhs, policy)
    return DIFFERENT


def _proportional(pred: Node, gold: Node) -> Outcome:
    """Two equations `f = 0` and `g = 0` are the same when f = c * g for a constant c != 0
    (`x + 2y = 6` and `y = -x/2 + 3`), decided by the ratio at the sample points."""
    syms = sorted(_free_symbols(pred, set()) | _free_symbols(gold, set()))
    if not syms:
        return DIFFERENT
    mp = _mp()
    ratios = []
    for env in _environments(syms, mp):
        try:
            a, b = _eval(pred, env, mp), _eval(gold, env, mp)
        except (NotNumeric, ZeroDivisionError, ValueError, OverflowError, TypeError):
            continue
        if not (mp.isfinite(a) and mp.isfinite(b)):
            continue
        if b == 0 or a == 0:
            if a == b:
                continue
            return DIFFERENT
        ratios.append(a / b)
        if len(ratios) >= _POINTS:
            break
    if len(ratios) < 2:
        return UNKNOWN
    first = ratios[0]
    same = all(abs(r - first) <= abs(first) * mp.mpf("1e-30") for r in ratios[1:])
    return EQUAL if same else DIFFERENT


def _both(a1: Node, b1: Node, a2: Node, b2: Node, policy: GradingPolicy) -> Outcome:
    first = _compare(a1, b1, policy)
    if first.same is False:
        return first
    second = _compare(a2, b2, policy)
    if second.same is False:
        return second
    return EQUAL if first.same and second.same else UNKNOWN


def _compare_groups(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    if not isinstance(gold, Group):  # a single value against a one-element set/list
        if isinstance(pred, Group) and pred.kind in ("set", "list") and len(pred.items) == 1:
            return _compare(pred.items[0], gold, policy)
        return DIFFERENT
    if not isinstance(pred, Group):
        if gold.kind in ("set", "list") and len(gold.items) == 1:
            return _compare(pred, gold.items[0], policy)
        return DIFFERENT
    if len(pred.items) > MAX_ITEMS or len(gold.items) > MAX_ITEMS:
        return Outcome(False, "too_complex")  # the multiset match is quadratic; no answer is this long
    gk, pk = gold.kind, pred.kind
    if gk == "matrix" or pk == "matrix":
        return _compare_matrices(pred, gold, policy)
    if gk == "interval" or pk == "interval":
        if pk == "list" and gk == "interval" and gold.left == "(" and gold.right == ")":
            return _in_order(pred.items, gold.items, policy)  # "1, 2" for the point (1, 2)
        if (pred.left, pred.right) != (gold.left, gold.right) or len(pred.items) != len(gold.items):
            return Outcome(False, "different_brackets" if len(pred.items) == len(gold.items) else "different")
        return _in_order(pred.items, gold.items, policy)
    unordered = {"set", "list"} if policy.unordered_lists else {"set"}
    if gk in unordered and pk in ("set", "list"):
        return _as_multiset(pred.items, gold.items, policy)
    if gk == "tuple" and pk in ("tuple", "list"):
        return _in_order(pred.items, gold.items, policy)
    if gk == "list" and pk == "tuple" and not policy.unordered_lists:
        return _in_order(pred.items, gold.items, policy)
    return DIFFERENT


def _matrix_as_vector(node: Group) -> tuple[Node, ...] | None:
    rows = [r for r in node.items if isinstance(r, Group)]
    if len(rows) == 1:
        return rows[0].items
    if all(len(r.items) == 1 for r in rows):
        return tuple(r.items[0] for r in rows)
    return None


def _compare_matrices(pred: Group, gold: Group, policy: GradingPolicy) -> Outcome:
    if pred.kind == "matrix" and gold.kind == "matrix":
        shape = [len(r.items) for r in pred.items if isinstance(r, Group)]
        if shape != [len(r.items) for r in gold.items if isinstance(r, Group)]:
            return DIFFERENT
        flat_p = [x for r in pred.items if isinstance(r, Group) for x in r.items]
        flat_g = [x for r in gold.items if isinstance(r, Group) for x in r.items]
        return _in_order(tuple(flat_p), tuple(flat_g), policy)
    # A column or row vector written as a tuple: (1, 2) for pmatrix 1 \\ 2.
    matrix, other = (pred, gold) if pred.kind == "matrix" else (gold, pred)
    vector = _matrix_as_vector(matrix)
    if vector is None or other.kind not in ("tuple", "interval", "list") or other.left not in ("(", ""):
        return DIFFERENT
    return _in_order(vector, other.items, policy)


def _in_order(pred: tuple[Node, ...], gold: tuple[Node, ...], policy: GradingPolicy) -> Outcome:
    if len(pred) != len(gold):
        return DIFFERENT
    unknown = False
    for p, g in zip(pred, gold, strict=True):
        outcome = _compare(p, g, policy)
        if outcome.same is False:
            return outcome
        unknown = unknown or outcome.same is None
    return UNKNOWN if unknown else EQUAL


def _as_multiset(pred: tuple[Node, ...], gold: tuple[Node, ...], policy: GradingPolicy) -> Outcome:
    """Each predicted item matches a distinct gold item (greedy; answers are short lists)."""
    if len(pred) != len(gold):
        return DIFFERENT
    remaining = list(gold)
    unknown = False
    for p in pred:
        for j, g in enumerate(remaining):
            outcome = _compare(p, g, policy)
            if outcome.same:
                del remaining[j]
                break
            unknown = unknown or outcome.same is None
        else:
            return UNKNOWN if unknown else DIFFERENT
    return EQUAL


def _is_set_op(node: Node) -> bool:
    return isinstance(node, Apply) and node.op in ("union", "intersect", "minus")


def _compare_set_ops(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    if not (isinstance(pred, Apply) and isinstance(gold, Apply)) or pred.op != gold.op:
        return DIFFERENT
    if pred.op in ("union", "intersect"):
        return _as_multiset(_flatten(pred), _flatten(gold), policy)
    return _in_order(pred.args, gold.args, policy)


def _flatten(node: Apply) -> tuple[Node, ...]:
    out: list[Node] = []
    for arg in node.args:
        if isinstance(arg, Apply) and arg.op == node.op:
            out.extend(_flatten(arg))
        else:
            out.append(arg)
    return tuple(out)


# -- scalars ------------------------------------------------------------------------------------


def _compare_scalars(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    outcome = _compare_values(pred, gold, policy)
    if outcome.same and policy.reject_unevaluated and is_plain_number(gold) and not is_plain_number(pred):
        return Outcome(False, "unevaluated")
    return outcome


def _compare_values(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    if not _free_symbols(pred, set()) and _divides_by_zero(pred) and not _divides_by_zero(gold):
        return Outcome(False, "undefined")  # `\frac{1}{0}` is no answer, whatever the gold
    p_exact, g_exact = exact_value(pred), exact_value(gold)
    if g_exact is not None and p_exact is not None:
        if p_exact == g_exact:
            return EQUAL
        if policy.rel_tol and _decimal(pred) and g_exact.denominator != 1:
            close = abs(p_exact - g_exact) <= Fraction(policy.rel_tol) * abs(g_exact)
            return Outcome(True, "close") if close else DIFFERENT
        return DIFFERENT
    if _has_pm(pred) or _has_pm(gold):
        return _compare_pm(pred, gold, policy)
    return numeric_compare(pred, gold, policy)


def is_plain_number(node: Node) -> bool:
    """A number as written in an answer: 12, -3, 0.5, \\frac{1}{2}, 2\\frac12, -\\frac{3}{4}."""
    if isinstance(node, Num):
        return True
    if isinstance(node, Apply) and node.op == "neg":
        return is_plain_number(node.args[0])
    if isinstance(node, Apply) and node.op == "div":
        return all(isinstance(a, Num) and a.form == "int" for a in node.args) or (
            isinstance(node.args[0], Apply) and node.args[0].op == "neg" and is_plain_number(node.args[0])
            and isinstance(node.args[1], Num))
    return False


def _decimal(node: Node) -> bool:
    if isinstance(node, Apply) and node.op == "neg":
        return _decimal(node.args[0])
    return isinstance(node, Num) and node.form == "decimal"


def _divides_by_zero(node: Node) -> bool:
    try:
        _exact(node)
    except ZeroDivisionError:
        return True
    except (_NotRational, TooLarge):
        return False
    return False


def exact_value(node: Node) -> Fraction | None:
    """The exact rational value of a tree without variables or irrationals, else None."""
    try:
        return _exact(node)
    except (ZeroDivisionError, _NotRational):
        return None


class _NotRational(Exception):
    pass


def _exact(node: Node) -> Fraction:
    if isinstance(node, Num):
        return node.value
    if not isinstance(node, Apply):
        raise _NotRational
    op, args = node.op, node.args
    if op == "neg":
        return -_exact(args[0])
    if op == "add":
        return _sized(_exact(args[0]) + _exact(args[1]))
    if op == "mul":
        return _sized(_exact(args[0]) * _exact(args[1]))
    if op == "div":
        return _sized(_exact(args[0]) / _exact(args[1]))
    if op == "pow":
        return _exact_pow(_exact(args[0]), _exact(args[1]))
    if op == "fact":
        n = _exact(args[0])
        if n.denominator != 1 or n < 0:
            raise _NotRational
        if n > MAX_FACTORIAL:
            raise TooLarge
        return Fraction(math.factorial(int(n)))
    if op == "binom":
        n, k = _exact(args[0]), _exact(args[1])
        if n.denominator != 1 or k.denominator != 1 or n < 0:
            raise _NotRational
        if n > MAX_FACTORIAL:
            raise TooLarge
        return Fraction(math.comb(int(n), int(k))) if k >= 0 else Fraction(0)
    if op in ("sqrt", "root"):
        index = _exact(args[1]) if op == "root" else Fraction(2)
        return _exact_root(_exact(args[0]), index)
    if op == "abs":
        return abs(_exact(args[0]))
    raise _NotRational


def _sized(value: Fraction) -> Fraction:
    """Products of big powers grow past any single guard: check every intermediate result."""
    if value.numerator.bit_length() > MAX_BITS or value.denominator.bit_length() > MAX_BITS:
        raise TooLarge
    return value


def _exact_pow(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        return _exact_root(_exact_pow(base, Fraction(exponent.numerator)), Fraction(exponent.denominator))
    e = int(exponent)
    if base == 0 and e < 0:
        raise ZeroDivisionError
    if base in (0, 1):
        return base
    if base == -1:
        return Fraction(-1 if e % 2 else 1)
    bits = max(abs(base.numerator).bit_length(), base.denominator.bit_length())
    if bits * abs(e) > MAX_BITS:
        raise TooLarge
    return base ** e


def _exact_root(value: Fraction, index: Fraction) -> Fraction:
    if index.denominator != 1 or index < 1:
        raise _NotRational
    k = int(index)
    if value < 0:
        if k % 2 == 0:
            raise _NotRational
        return -_exact_root(-value, index)
    num, den = _int_root(value.numerator, k), _int_root(value.denominator, k)
    if num is None or den is None:
        raise _NotRational
    return Fraction(num, den)


def _int_root(n: int, k: int) -> int | None:
    if n.bit_length() > MAX_BITS:
        raise TooLarge
    r = math.isqrt(n) if k == 2 else round(n ** (1.0 / k)) if n.bit_length() < 1000 else None
    if r is None:
        return None
    for cand in (r - 1, r, r + 1):
        if cand >= 0 and cand ** k == n:
            return cand
    return None


def _has_pm(node: Node) -> bool:
    if isinstance(node, Apply):
        return node.op == "pm" or any(_has_pm(a) for a in node.args)
    return False


def _expand_pm(node: Node) -> list[Node]:
    """`a \\pm b` as the two answers a + b and a - b (one level of \\pm)."""
    if isinstance(node, Apply):
        if node.op == "pm":
            a, b = node.args
            return [Apply("add", (a, b)), Apply("add", (a, Apply("neg", (b,))))]
        for i, arg in enumerate(node.args):
            if _has_pm(arg):
                return [Apply(node.op, node.args[:i] + (alt,) + node.args[i + 1:]) for alt in _expand_pm(arg)]
    return [node]


def _compare_pm(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    return _as_multiset(tuple(_expand_pm(pred)), tuple(_expand_pm(gold)), policy)


# -- numeric identity testing -------------------------------------------------------------------


_LOCAL = threading.local()


def _mp():
    """A private mpmath context per thread: the global `mpmath.mp` precision is shared state."""
    ctx = getattr(_LOCAL, "mp", None)
    if ctx is None:
        from mpmath.ctx_mp import MPContext

        ctx = MPContext()
        ctx.dps = 40
        _LOCAL.mp = ctx
    return ctx


def _free_symbols(node: Node, out: set[str]) -> set[str]:
    if isinstance(node, Sym):
        if node.name not in ("pi", "e", "i", "inf"):
            out.add(node.name)
    elif isinstance(node, Apply):
        for arg in node.args:
            _free_symbols(arg, out)
    elif isinstance(node, (Group, Alternatives)):
        for item in node.items:
            _free_symbols(item, out)
    elif isinstance(node, Relation):
        _free_symbols(node.lhs, out)
        _free_symbols(node.rhs, out)
    return out


# Fixed points so verdicts are reproducible; irrational-looking so coincidences are unlikely.
_SAMPLE_VALUES = ("0.5772156649015329", "1.3247179572447460", "-0.6180339887498949", "2.2360679774997897",
                  "0.7390851332151607", "-1.4142135623730950", "3.1415926535897932", "0.3183098861837907")


def _environments(syms: list[str], mp) -> list[dict]:
    """Values for the variables at each sample point (a different value per variable)."""
    return [{name: mp.mpf(_SAMPLE_VALUES[(shift + k * 3) % len(_SAMPLE_VALUES)]) * (k + 1)
             for k, name in enumerate(syms)} for shift in range(len(_SAMPLE_VALUES))]


def numeric_compare(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    """Compare by evaluation at pseudo-random points (see the module docstring)."""
    # Variables on one side only are evaluated too: they must cancel for the answers to agree.
    syms = sorted(_free_symbols(pred, set()) | _free_symbols(gold, set()))
    mp = _mp()
    agreed = 0
    for env in _environments(syms, mp):
        try:
            close = _close(_eval(pred, env, mp), _eval(gold, env, mp), mp, policy, pred)
        except (NotNumeric, ZeroDivisionError, ValueError, OverflowError, TypeError):
            continue  # undefined at this point (a pole, a branch cut, inf - inf): try the next
        if not close:
            return DIFFERENT
        agreed += 1
        if agreed >= (_POINTS if syms else 1):
            return EQUAL
    return UNKNOWN


def _close(a, b, mp, policy: GradingPolicy, pred: Node) -> bool:
    if a == b:  # also the only way two infinities agree
        return True
    if mp.isnan(a) or mp.isnan(b):
        raise ValueError("nan")
    if mp.isinf(a) or mp.isinf(b):
        return False
    scale = max(abs(a), abs(b), mp.mpf(1))
    diff = abs(a - b)
    if diff <= scale * mp.mpf("1e-30"):
        return True
    return bool(policy.rel_tol and _decimal(pred) and diff <= abs(b) * policy.rel_tol)


def _eval(node: Node, env: dict, mp):
    if isinstance(node, Num):
        return mp.mpf(node.value.numerator) / node.value.denominator
    if isinstance(node, Sym):
        name = node.name
        if name in env:
            return env[name]
        if name == "pi":
            return mp.pi
        if name == "e":
            return mp.e
        if name == "i":
            return mp.mpc(0, 1)
        if name == "inf":
            return mp.inf
        raise NotNumeric(name)
    if not isinstance(node, Apply):
        raise NotNumeric(type(node).__name__)
    op = node.op
    args = [_eval(a, env, mp) for a in node.args] if op not in ("max", "min", "gcd", "lcm") else []
    if op == "add":
        return args[0] + args[1]
    if op == "neg":
        return -args[0]
    if op == "mul":
        return args[0] * args[1]
    if op == "div":
        if args[1] == 0:
            raise ZeroDivisionError
        return args[0] / args[1]
    if op == "pow":
        base, exponent = args
        size = abs(exponent) * (abs(mp.log10(abs(base))) if base != 0 else 0)
        if size > MAX_LOG10:
            raise TooLarge
        return mp.power(base, exponent)
    if op == "fact":
        if abs(args[0]) > MAX_FACTORIAL:
            raise TooLarge
        return mp.gamma(args[0] + 1)
    if op == "binom":
        if abs(args[0]) > MAX_FACTORIAL:
            raise TooLarge
        return mp.binomial(args[0], args[1])
    if op == "sqrt":
        return mp.sqrt(args[0])
    if op == "root":
        return mp.root(args[0], int(args[1])) if args[1] == int(args[1]) else mp.power(args[0], 1 / args[1])
    if op == "abs":
        return abs(args[0])
    if op == "log" and len(args) == 2:
        return mp.log(args[0], args[1])
    if op in _FUNCS:
        if op not in ("ln", "log", "floor", "ceil") and abs(args[0]) > MAX_FUNCTION_ARG:
            raise TooLarge  # sin(10^99999) needs 10^5 digits of pi; exp of it has no size guard
        return _check_finite(getattr(mp, _FUNCS[op])(*args), mp)
    raise NotNumeric(op)


_FUNCS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "sec": "sec", "csc": "csc", "cot": "cot", "asin": "asin",
    "acos": "acos", "atan": "atan", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh",
    "cosh": "cosh", "tanh": "tanh", "ln": "ln", "log": "ln", "exp": "exp", "floor": "floor", "ceil": "ceil",
}


def _check_finite(value, mp):
    if mp.isinf(value) or mp.isnan(value):
        raise ValueError("not finite")
    return value
