"""The slow path, run only inside a deadline-bound worker (`graders.deadline`): sympy and math-verify.

Reached for the few pairs the fast path cannot decide: an answer in notation our parser does not
read (then math-verify parses both sides, without its signal-based timeouts, which the worker
pool replaces), or scalars the numeric test could not evaluate (then `sympy.simplify`). Nothing
here may run in the caller's process: both libraries can take unbounded time on hostile input.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from graders.latex import Unparsed, normalize, parse_answer
from graders.nodes import Apply, Node, Num, Sym

_SYMPY_FUNCS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "sec": "sec", "csc": "csc", "cot": "cot", "asin": "asin",
    "acos": "acos", "atan": "atan", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "sinh": "sinh",
    "cosh": "cosh", "tanh": "tanh", "ln": "log", "log": "log", "exp": "exp", "abs": "Abs", "floor": "floor",
    "ceil": "ceiling", "sqrt": "sqrt",
}


def slow_equal(pred: str, gold: str, percent: str) -> bool:
    """Whether two extracted answers are equal, by sympy on our trees or by math-verify."""
    try:
        p_tree, g_tree = parse_answer(pred, percent=percent), parse_answer(gold, percent=percent)
    except Unparsed:
        return _math_verify_equal(normalize(pred, percent=percent), normalize(gold, percent=percent))
    try:
        return _sympy_equal(p_tree, g_tree)
    except (TypeError, ValueError, NotImplementedError):
        return _math_verify_equal(normalize(pred, percent=percent), normalize(gold, percent=percent))


def warm_up() -> None:
    """Run each back-end once so grammar and caches are built before workers are forked."""
    slow_equal("\\frac{x}{2}+(1,2]", "\\frac{x}{2}+(1,2]", "strip")
    _sympy_equal(parse_answer("x+1"), parse_answer("1+x"))


def _math_verify_equal(pred: str, gold: str) -> bool:
    import logging

    from math_verify import parse, verify

    # Its "timeout is disabled" warning is expected: this runs in a worker the deadline pool kills on overrun.
    logging.getLogger("math_verify").setLevel(logging.ERROR)

    gold_parsed = parse("\\boxed{" + gold + "}", parsing_timeout=None)  # type: ignore[arg-type]
    pred_parsed = parse("\\boxed{" + pred + "}", parsing_timeout=None)  # type: ignore[arg-type]
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None))


def _sympy_equal(pred: Node, gold: Node) -> bool:
    import sympy

    difference = sympy.simplify(to_sympy(pred) - to_sympy(gold))
    return bool(difference == 0)


def to_sympy(node: Node) -> Any:
    """A sympy expression for a scalar tree; raises NotImplementedError for anything else."""
    import sympy

    if isinstance(node, Num):
        value: Fraction = node.value
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(node, Sym):
        constants = {"pi": sympy.pi, "e": sympy.E, "i": sympy.I, "inf": sympy.oo}
        return constants[node.name] if node.name in constants else sympy.Symbol(node.name)
    if not isinstance(node, Apply):
        raise NotImplementedError(type(node).__name__)
    op = node.op
    if op in ("index", "sum", "prod", "ratio", "angle"):
        raise NotImplementedError(op)
    args = [to_sympy(a) for a in node.args]
    simple = {
        "add": lambda: sympy.Add(*args), "neg": lambda: -args[0], "mul": lambda: sympy.Mul(*args),
        "call": lambda: sympy.Mul(*args),
        "div": lambda: args[0] / args[1], "pow": lambda: sympy.Pow(args[0], args[1]),
        "fact": lambda: sympy.factorial(args[0]), "binom": lambda: sympy.binomial(args[0], args[1]),
        "root": lambda: sympy.root(args[0], args[1]),
    }
    if op in simple:
        return simple[op]()
    if op == "log" and len(args) == 2:
        return sympy.log(args[0], args[1])
    if op in _SYMPY_FUNCS:
        return getattr(sympy, _SYMPY_FUNCS[op])(*args)
    raise NotImplementedError(op)
