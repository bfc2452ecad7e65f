"""Values of answer trees: exact rationals, and mpmath numbers at chosen points, within size guards.

Owned here: what a tree is worth, never whether two trees are the same answer (`graders.compare`).
Every evaluation is guarded before it runs: exact results past `MAX_BITS`, numeric powers past
`MAX_LOG10` in magnitude, factorials and binomials past `MAX_FACTORIAL`, trigonometric and
exponential arguments past `MAX_FUNCTION_ARG`, and sums / products past `MAX_TERMS` terms in all
raise `TooLarge`, so no input makes evaluation slow. A sum of 3000 ones is 3000 cheap additions;
a power tower is refused before its first multiplication.

Variables take fixed pseudo-random values (`environments`); a variable used as an index
(`F_{n-k-1}`) or as a bound of a sum takes small integers, and an indexed name `F_k` is a fixed
pseudo-random function of its index, so two spellings of one sum agree at every point and a
different sum does not.
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction
from typing import Any

from graders.nodes import CONSTANTS, Alternatives, Apply, Group, Node, Num, Relation, Sym

MAX_BITS = 1_000_000
MAX_LOG10 = 100_000
MAX_FACTORIAL = 1_000
MAX_FUNCTION_ARG = 10**6
MAX_TERMS = 20_000


class TooLarge(ArithmeticError):
    """A value would exceed the size guards."""


class NotNumeric(ValueError):
    """The tree has no numeric value (a word, a set, an undefined operation)."""


class NotRational(Exception):
    """The tree has a value, but not an exact rational one (a variable, an irrational)."""


# -- exact values ------------------------------------------------------------------------------


def exact_value(node: Node, env: dict[str, Fraction] | None = None) -> Fraction | None:
    """The exact rational value of a tree without variables (or with `env` giving them), else None."""
    try:
        return exact(node, env or {}, [MAX_TERMS])
    except (ZeroDivisionError, NotRational):
        return None


def divides_by_zero(node: Node) -> bool:
    try:
        exact(node, {}, [MAX_TERMS])
    except ZeroDivisionError:
        return True
    except (NotRational, TooLarge):
        return False
    return False


def exact(node: Node, env: dict[str, Fraction], budget: list[int]) -> Fraction:
    """Exact value; raises NotRational, ZeroDivisionError or TooLarge. `budget` counts terms left."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Sym):
        if node.name in env:
            return env[node.name]
        raise NotRational
    if not isinstance(node, Apply):
        raise NotRational
    op, args = node.op, node.args
    if op == "neg":
        return -exact(args[0], env, budget)
    if op == "add":
        _spend(budget, len(args))
        total = Fraction(0)
        for arg in args:
            total = _sized(total + exact(arg, env, budget))
        return total
    if op in ("mul", "call"):
        _spend(budget, len(args))
        product = Fraction(1)
        for arg in args:
            product = _sized(product * exact(arg, env, budget))
        return product
    if op == "div":
        return _sized(exact(args[0], env, budget) / exact(args[1], env, budget))
    if op == "pow":
        return _exact_pow(exact(args[0], env, budget), exact(args[1], env, budget))
    if op == "fact":
        n = exact(args[0], env, budget)
        if n.denominator != 1 or n < 0:
            raise NotRational
        if n > MAX_FACTORIAL:
            raise TooLarge
        return Fraction(math.factorial(int(n)))
    if op == "binom":
        n, k = exact(args[0], env, budget), exact(args[1], env, budget)
        if n.denominator != 1 or k.denominator != 1 or n < 0:
            raise NotRational
        if n > MAX_FACTORIAL:
            raise TooLarge
        return Fraction(math.comb(int(n), int(k))) if k >= 0 else Fraction(0)
    if op in ("sqrt", "root"):
        index = exact(args[1], env, budget) if op == "root" else Fraction(2)
        return _exact_root(exact(args[0], env, budget), index)
    if op == "abs":
        return abs(exact(args[0], env, budget))
    if op in ("sum", "prod"):
        var, lo, hi, body = args
        first, last = exact(lo, env, budget), exact(hi, env, budget)
        if first.denominator != 1 or last.denominator != 1 or not isinstance(var, Sym):
            raise NotRational
        count = max(0, int(last - first) + 1)
        _spend(budget, count)
        result = Fraction(0) if op == "sum" else Fraction(1)
        inner = dict(env)
        for i in range(int(first), int(last) + 1):
            inner[var.name] = Fraction(i)
            value = exact(body, inner, budget)
            result = _sized(result + value if op == "sum" else result * value)
        return result
    raise NotRational


def _spend(budget: list[int], n: int) -> None:
    budget[0] -= n
    if budget[0] < 0:
        raise TooLarge


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
        raise NotRational
    k = int(index)
    if value < 0:
        if k % 2 == 0:
            raise NotRational
        return -_exact_root(-value, index)
    num, den = _int_root(value.numerator, k), _int_root(value.denominator, k)
    if num is None or den is None:
        raise NotRational
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


# -- symbols and sample points ------------------------------------------------------------------


def free_symbols(node: Node, out: set[str] | None = None) -> set[str]:
    """Variables of a tree: not constants, not the name of an indexed term, not a summation index."""
    out = set() if out is None else out
    if isinstance(node, Sym):
        if node.name not in CONSTANTS:
            out.add(node.name)
    elif isinstance(node, Apply):
        if node.op == "index":
            free_symbols(node.args[1], out)
        elif node.op in ("sum", "prod"):
            var, lo, hi, body = node.args
            free_symbols(lo, out)
            free_symbols(hi, out)
            inner = free_symbols(body)
            if isinstance(var, Sym):
                inner.discard(var.name)
            out |= inner
        else:
            for arg in node.args:
                free_symbols(arg, out)
    elif isinstance(node, (Group, Alternatives)):
        for item in node.items:
            free_symbols(item, out)
    elif isinstance(node, Relation):
        free_symbols(node.lhs, out)
        free_symbols(node.rhs, out)
    return out


def integer_symbols(node: Node, out: set[str] | None = None) -> set[str]:
    """Variables that must be integers to make sense: indices (`F_{n-1}`) and bounds of sums."""
    out = set() if out is None else out
    if isinstance(node, Apply):
        if node.op == "index":
            out |= free_symbols(node.args[1])
        elif node.op in ("sum", "prod"):
            out |= free_symbols(node.args[1]) | free_symbols(node.args[2])
        for arg in node.args:
            integer_symbols(arg, out)
    elif isinstance(node, (Group, Alternatives)):
        for item in node.items:
            integer_symbols(item, out)
    elif isinstance(node, Relation):
        integer_symbols(node.lhs, out)
        integer_symbols(node.rhs, out)
    return out


# Fixed points so verdicts are reproducible; irrational-looking so coincidences are unlikely.
_SAMPLE_VALUES = ("0.5772156649015329", "1.3247179572447460", "-0.6180339887498949", "2.2360679774997897",
                  "0.7390851332151607", "-1.4142135623730950", "3.1415926535897932", "0.3183098861837907")
_SAMPLE_INTEGERS = (3, 5, 4, 7, 2, 6, 8, 9)


def environments(symbols: list[str], integers: set[str], mp: Any) -> list[dict[str, Any]]:
    """Values for the variables at each sample point (a different value per variable)."""
    envs = []
    for shift in range(len(_SAMPLE_VALUES)):
        env = {}
        for k, name in enumerate(symbols):
            if name in integers:
                env[name] = mp.mpf(_SAMPLE_INTEGERS[(shift + 3 * k) % len(_SAMPLE_INTEGERS)])
            else:
                env[name] = mp.mpf(_SAMPLE_VALUES[(shift + k * 3) % len(_SAMPLE_VALUES)]) * (k + 1)
        envs.append(env)
    return envs


# -- numeric values -----------------------------------------------------------------------------


_LOCAL = threading.local()


def mp_context() -> Any:
    """A private mpmath context per thread: the global `mpmath.mp` precision is shared state."""
    ctx = getattr(_LOCAL, "mp", None)
    if ctx is None:
        from mpmath.ctx_mp import MPContext

        ctx = MPContext()
        ctx.dps = 40
        _LOCAL.mp = ctx
    return ctx


_FUNCS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "sec": "sec", "csc": "csc", "cot": "cot", "asin": "asin",
    "acos": "acos", "atan": "atan", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh",
    "cosh": "cosh", "tanh": "tanh", "ln": "ln", "log": "ln", "exp": "exp", "floor": "floor", "ceil": "ceil",
}


def numeric_value(node: Node, env: dict[str, Any], mp: Any) -> Any:
    """The value of `node` with `env` for its variables, an mpmath number (real or complex).

    Raises NotNumeric (no value), ZeroDivisionError / ValueError (undefined here) or TooLarge.
    """
    return _Evaluator(mp).value(node, env)


class _Evaluator:
    def __init__(self, mp: Any) -> None:
        self.mp = mp
        self.budget = [MAX_TERMS]

    def value(self, node: Node, env: dict[str, Any]) -> Any:
        mp = self.mp
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
        if op in ("sum", "prod"):
            return self._big_operator(node, env)
        if op == "index":
            return self._indexed(node, env)
        if op in ("max", "min", "gcd", "lcm", "ratio", "angle", "pm", "det", "union", "intersect", "minus"):
            raise NotNumeric(op)
        if op in ("add", "mul", "call"):
            _spend(self.budget, len(node.args))
        args = [self.value(a, env) for a in node.args]
        if op == "add":
            return mp.fsum(args)
        if op in ("mul", "call"):  # `f(x)` is read as the product it is in value
            product = mp.mpf(1)
            for arg in args:
                product *= arg
            return product
        if op == "neg":
            return -args[0]
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

    def _big_operator(self, node: Apply, env: dict[str, Any]) -> Any:
        var, lo, hi, body = node.args
        first, last = self.value(lo, env), self.value(hi, env)
        if not (isinstance(var, Sym) and _is_integer(first, self.mp) and _is_integer(last, self.mp)):
            raise NotNumeric("bounds of a sum must be integers")
        start, stop = int(self.mp.nint(first)), int(self.mp.nint(last))
        _spend(self.budget, max(0, stop - start + 1))
        inner = dict(env)
        terms = []
        for k in range(start, stop + 1):
            inner[var.name] = self.mp.mpf(k)
            terms.append(self.value(body, inner))
        if node.op == "sum":
            return self.mp.fsum(terms)
        product = self.mp.mpf(1)
        for term in terms:
            product *= term
        return product

    def _indexed(self, node: Apply, env: dict[str, Any]) -> Any:
        """`F_k` as a fixed pseudo-random function of k (and of the name F)."""
        base, sub = node.args
        name = base.name if isinstance(base, Sym) else repr(base)
        k = self.value(sub, env)
        mp = self.mp
        seed = mp.mpf(sum((i + 1) * ord(c) for i, c in enumerate(name))) / 97
        return mp.sin(k * mp.mpf("1.6180339887498948482") + seed) + mp.cos(k * k * mp.mpf("0.5772156649") + 2 * seed)


def _is_integer(value: Any, mp: Any) -> bool:
    return mp.isfinite(value) and mp.im(value) == 0 and abs(value - mp.nint(value)) < mp.mpf("1e-20")


def _check_finite(value: Any, mp: Any) -> Any:
    if mp.isinf(value) or mp.isnan(value):
        raise ValueError("not finite")
    return value
