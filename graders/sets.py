"""Solution sets: inequalities, interval notation and unions of intervals read as sets of reals.

`-x > -1` and `x < 1`, `-2 \\le x \\le 7` and `x \\in [-2, 7]`, `1 \\le |z| \\le 3/2` and
`[-3/2, -1] \\cup [1, 3/2]`, `0 < f(x) < 1` and `(0, 1)` state the same solution set in different
notation, so they are compared as sets: a sorted tuple of disjoint intervals with numeric
endpoints (mpmath, 40 digits; endpoints within 1e-25 relative are the same point).

A relation becomes a set in its one variable when each side is a polynomial of degree at most
`MAX_DEGREE` in it, or the absolute value of one (`|2x - 1| < 3`): the roots are the only points
where its truth can change, and the truth in each piece is read by evaluating the relation there.
A chain whose middle is anything else (`0 < f(x) < 1`, `a < x + y < b`) is the set of that
expression, labelled by it. Anything else is not a set here and the caller compares structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graders.evaluate import NotNumeric, TooLarge, free_symbols, mp_context, numeric_value
from graders.nodes import Alternatives, Apply, Group, Node, Relation, Sym

MAX_DEGREE = 4
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "!=": "!=", "=": "="}
_INEQUALITIES = {"<", ">", "<=", ">=", "!="}
_SET_OPS = ("union", "intersect", "minus")


@dataclass(frozen=True)
class Interval:
    lo: Any  # mpmath number, possibly -inf
    hi: Any
    lo_closed: bool
    hi_closed: bool


SolutionSet = tuple[Interval, ...]


def is_set_notation(node: Node) -> bool:
    """Whether `node` states a set of reals: an inequality (or chain), `x \\in S`, a union of sets,
    or inequalities joined by "or"."""
    if isinstance(node, Relation):
        return node.op in _INEQUALITIES or node.op in ("\\in", "\\notin") or (
            isinstance(node.lhs, Relation) and is_set_notation(node.lhs))
    if isinstance(node, Apply):
        return node.op in _SET_OPS
    if isinstance(node, Alternatives):
        return all(isinstance(i, Relation) and is_set_notation(i) for i in node.items)
    return False


def solution_set(node: Node) -> tuple[Node | None, SolutionSet] | None:
    """(label, set): the set `node` states and what it is the set of (a variable, an expression, or
    None for a bare interval); None when `node` is not a set this module can read."""
    try:
        return _solution_set(node, mp_context())
    except (NotNumeric, TooLarge, ZeroDivisionError, ValueError, TypeError, OverflowError):
        return None


def same_set(a: SolutionSet, b: SolutionSet) -> bool:
    if len(a) != len(b):
        return False
    mp = mp_context()
    for x, y in zip(a, b, strict=True):
        if not (_same_point(x.lo, y.lo, mp) and _same_point(x.hi, y.hi, mp)):
            return False
        if (mp.isfinite(x.lo) and x.lo_closed != y.lo_closed) or (mp.isfinite(x.hi) and x.hi_closed != y.hi_closed):
            return False
    return True


# -- reading sets ----------------------------------------------------------------------------------


def _solution_set(node: Node, mp: Any) -> tuple[Node | None, SolutionSet] | None:
    constant = _constant_set(node, mp)
    if constant is not None:
        return None, constant
    if isinstance(node, Alternatives):
        parts = [_solution_set(item, mp) for item in node.items]
        if any(p is None for p in parts) or len({repr(p[0]) for p in parts if p}) != 1:
            return None
        merged: SolutionSet = ()
        for p in parts:
            merged = _union(merged, p[1], mp)  # type: ignore[index]
        return parts[0][0], merged  # type: ignore[index]
    if not isinstance(node, Relation):
        return None
    if node.op in ("\\in", "\\notin"):
        target = _constant_set(node.rhs, mp)
        if target is None or node.lhs is None:
            return None
        return node.lhs, target if node.op == "\\in" else _complement(target, mp)
    atoms = _atoms(node)
    if atoms is None:
        return None
    symbols = set().union(*(free_symbols(lhs) | free_symbols(rhs) for lhs, _, rhs in atoms))
    if len(symbols) == 1:
        var = symbols.pop()
        result: SolutionSet = ((Interval(-mp.inf, mp.inf, False, False)),)
        for lhs, op, rhs in atoms:
            part = _solve(lhs, op, rhs, var, mp)
            if part is None:
                break
            result = _intersect(result, part, mp)
        else:
            return Sym(var), result
    return _labelled_bounds(atoms, mp)


def _atoms(node: Relation) -> list[tuple[Node, str, Node]] | None:
    """A chain `a < b <= c` as its links [(a, <, b), (b, <=, c)]; None when not only inequalities."""
    if node.op not in _INEQUALITIES:
        return None
    if isinstance(node.lhs, Relation):
        inner = _atoms(node.lhs)
        if inner is None:
            return None
        return [*inner, (inner[-1][2], node.op, node.rhs)]
    return [(node.lhs, node.op, node.rhs)]


def _labelled_bounds(atoms: list[tuple[Node, str, Node]], mp: Any) -> tuple[Node, SolutionSet] | None:
    """`0 < f(x) < 1`: each link compares one expression (the same in all) with a constant."""
    label: Node | None = None
    result: SolutionSet = (Interval(-mp.inf, mp.inf, False, False),)
    for lhs, op, rhs in atoms:
        l_const, r_const = not free_symbols(lhs), not free_symbols(rhs)
        if r_const and not l_const:
            subject, op, bound = lhs, op, rhs
        elif l_const and not r_const:
            subject, op, bound = rhs, _FLIP[op], lhs
        else:
            return None
        if label is None:
            label = subject
        elif subject != label:
            return None
        result = _intersect(result, _half_line(op, _number(bound, mp), mp), mp)
    return (label, result) if label is not None else None


def _constant_set(node: Node, mp: Any) -> SolutionSet | None:
    """Interval notation, finite sets of numbers and their unions / intersections / differences."""
    if isinstance(node, Group):
        if node.kind == "interval" and len(node.items) == 2 and node.left in "([" and node.right in ")]":
            lo, hi = (_number(i, mp, allow_inf=True) for i in node.items)
            if lo is None or hi is None or lo > hi:
                return None
            return _normal((Interval(lo, hi, node.left == "[", node.right == "]"),), mp)
        if node.kind == "set":
            points = [_number(i, mp) for i in node.items]
            if any(p is None for p in points):
                return None
            return _normal(tuple(Interval(p, p, True, True) for p in points), mp)
        return None
    if isinstance(node, Apply) and node.op in _SET_OPS:
        left, right = _constant_set(node.args[0], mp), _constant_set(node.args[1], mp)
        if left is None or right is None:
            return None
        if node.op == "union":
            return _union(left, right, mp)
        if node.op == "intersect":
            return _intersect(left, right, mp)
        return _intersect(left, _complement(right, mp), mp)
    return None


def _number(node: Node, mp: Any, allow_inf: bool = False) -> Any:
    if free_symbols(node):
        return None
    try:
        value = numeric_value(node, {}, mp)
    except (NotNumeric, ZeroDivisionError, ValueError, TypeError):
        return None
    if mp.im(value) != 0 or mp.isnan(value) or (mp.isinf(value) and not allow_inf):
        return None
    return mp.re(value)


# -- solving one-variable relations ----------------------------------------------------------------


def _solve(lhs: Node, op: str, rhs: Node, var: str, mp: Any) -> SolutionSet | None:
    """The set of `var` where `lhs op rhs` holds, when both sides are (absolute values of) polynomials."""
    difference = Apply("add", (lhs, Apply("neg", (rhs,))))
    critical = _critical_points(lhs, var, mp) | _critical_points(rhs, var, mp)
    roots = _polynomial_roots(difference, var, mp)
    if roots is None or None in critical:
        return None
    points = sorted(set(roots) | {c for c in critical if c is not None}, key=float)
    points = _dedupe(points, mp)

    def holds(t: Any) -> bool:
        env = {var: t}
        a, b = numeric_value(lhs, env, mp), numeric_value(rhs, env, mp)
        if mp.im(a) != 0 or mp.im(b) != 0:
            raise ValueError("complex")
        return _relation_holds(mp.re(a), op, mp.re(b), mp)

    pieces: list[Interval] = []
    edges = [-mp.inf, *points, mp.inf]
    for k in range(len(edges) - 1):
        lo, hi = edges[k], edges[k + 1]
        probe = _inside(lo, hi, mp)
        if holds(probe):
            pieces.append(Interval(lo, hi, False, False))
        if k < len(points) and holds(points[k]):
            pieces.append(Interval(points[k], points[k], True, True))
    return _normal(tuple(pieces), mp)


def _relation_holds(a: Any, op: str, b: Any, mp: Any) -> bool:
    tolerance = mp.mpf("1e-25") * max(abs(a), abs(b), mp.mpf(1))
    if op in ("=", "!="):
        equal = abs(a - b) <= tolerance
        return equal if op == "=" else not equal
    if abs(a - b) <= tolerance:
        return op in ("<=", ">=")
    return {"<": a < b, ">": a > b, "<=": a < b, ">=": a > b}[op]


def _critical_points(node: Node, var: str, mp: Any) -> set[Any]:
    """Zeros of the arguments of absolute values (where |.| bends); {None} when one cannot be found."""
    points: set[Any] = set()
    if isinstance(node, Apply):
        if node.op == "abs":
            roots = _polynomial_roots(node.args[0], var, mp)
            if roots is None:
                return {None}
            points |= set(roots)
        for arg in node.args:
            points |= _critical_points(arg, var, mp)
    return points


def _polynomial_roots(node: Node, var: str, mp: Any) -> list[Any] | None:
    """Real roots of `node` (a polynomial in `var` up to an absolute value's bends), else None.

    The degree is read off finite differences at integer points and checked at two more points;
    the roots of each piece between the bends are the real roots of its interpolating polynomial.
    """
    pieces = [node]
    if _contains_abs(node):
        pieces = [_strip_abs(node, sign) for sign in _abs_sign_patterns(node)]
        if not pieces:
            return None
    roots: list[Any] = []
    for piece in pieces:
        coefficients = _coefficients(piece, var, mp)
        if coefficients is None:
            return None
        while coefficients and abs(coefficients[0]) < mp.mpf("1e-30"):
            coefficients = coefficients[1:]
        if len(coefficients) <= 1:
            continue
        for root in mp.polyroots(coefficients, maxsteps=200, extraprec=60):
            if abs(mp.im(root)) < mp.mpf("1e-20"):
                roots.append(mp.re(root))
    return roots


def _coefficients(node: Node, var: str, mp: Any) -> list[Any] | None:
    xs = [mp.mpf(k) for k in range(MAX_DEGREE + 2)]
    try:
        ys = [numeric_value(node, {var: x}, mp) for x in xs]
    except (NotNumeric, ZeroDivisionError, ValueError):
        return None
    if any(mp.im(y) != 0 for y in ys):
        return None
    ys = [mp.re(y) for y in ys]
    coefficients = _interpolate(xs[:-1], ys[:-1], mp)
    for x in (xs[-1], mp.mpf("0.37"), mp.mpf("-2.71")):
        expected = mp.polyval(coefficients, x)
        try:
            actual = numeric_value(node, {var: x}, mp)
        except (NotNumeric, ZeroDivisionError, ValueError):
            return None
        if abs(actual - expected) > mp.mpf("1e-20") * max(abs(actual), mp.mpf(1)):
            return None
    return coefficients


def _interpolate(xs: list[Any], ys: list[Any], mp: Any) -> list[Any]:
    """Coefficients (highest degree first) of the polynomial through the points."""
    n = len(xs)
    matrix = mp.matrix([[x ** (n - 1 - j) for j in range(n)] for x in xs])
    solution = mp.lu_solve(matrix, mp.matrix(ys))
    return [solution[j] for j in range(n)]


def _contains_abs(node: Node) -> bool:
    return isinstance(node, Apply) and (node.op == "abs" or any(_contains_abs(a) for a in node.args))


def _abs_sign_patterns(node: Node) -> list[tuple[int, ...]]:
    count = _count_abs(node)
    if count > 3:
        return []
    return [tuple((mask >> k) & 1 for k in range(count)) for mask in range(2 ** count)]


def _count_abs(node: Node) -> int:
    if not isinstance(node, Apply):
        return 0
    return (node.op == "abs") + sum(_count_abs(a) for a in node.args)


def _strip_abs(node: Node, signs: tuple[int, ...]) -> Node:
    """`node` with its k-th absolute value replaced by +arg or -arg as `signs[k]` says."""
    counter = iter(signs)

    def walk(n: Node) -> Node:
        if not isinstance(n, Apply):
            return n
        args = tuple(walk(a) for a in n.args)
        if n.op == "abs":
            return args[0] if next(counter) else Apply("neg", args)
        return Apply(n.op, args)

    return walk(node)


# -- interval arithmetic ---------------------------------------------------------------------------


def _half_line(op: str, bound: Any, mp: Any) -> SolutionSet:
    if bound is None:
        raise NotNumeric("bound")
    if op == "<":
        return (Interval(-mp.inf, bound, False, False),)
    if op == "<=":
        return (Interval(-mp.inf, bound, False, True),)
    if op == ">":
        return (Interval(bound, mp.inf, False, False),)
    if op == ">=":
        return (Interval(bound, mp.inf, True, False),)
    return (Interval(-mp.inf, bound, False, False), Interval(bound, mp.inf, False, False))


def _inside(lo: Any, hi: Any, mp: Any) -> Any:
    if mp.isinf(lo) and mp.isinf(hi):
        return mp.mpf(0)
    if mp.isinf(lo):
        return hi - 1 - abs(hi)
    if mp.isinf(hi):
        return lo + 1 + abs(lo)
    return (lo + hi) / 2


def _same_point(a: Any, b: Any, mp: Any) -> bool:
    if mp.isinf(a) or mp.isinf(b):
        return a == b
    return abs(a - b) <= mp.mpf("1e-25") * max(abs(a), abs(b), mp.mpf(1))


def _dedupe(points: list[Any], mp: Any) -> list[Any]:
    out: list[Any] = []
    for p in points:
        if not out or not _same_point(out[-1], p, mp):
            out.append(p)
    return out


def _normal(intervals: tuple[Interval, ...], mp: Any) -> SolutionSet:
    """Sorted, with overlapping or touching intervals merged and empty ones dropped."""
    kept = [i for i in intervals if i.lo < i.hi or (_same_point(i.lo, i.hi, mp) and i.lo_closed and i.hi_closed)]
    kept.sort(key=lambda i: (float(i.lo) if mp.isfinite(i.lo) else -1e308, not i.lo_closed))
    out: list[Interval] = []
    for cur in kept:
        if out:
            last = out[-1]
            touching = _same_point(last.hi, cur.lo, mp) and (last.hi_closed or cur.lo_closed)
            if cur.lo < last.hi and not _same_point(last.hi, cur.lo, mp) or touching:
                if cur.hi > last.hi and not _same_point(cur.hi, last.hi, mp):
                    out[-1] = Interval(last.lo, cur.hi, last.lo_closed, cur.hi_closed)
                elif _same_point(cur.hi, last.hi, mp):
                    out[-1] = Interval(last.lo, last.hi, last.lo_closed, last.hi_closed or cur.hi_closed)
                continue
        out.append(cur)
    return tuple(out)


def _union(a: SolutionSet, b: SolutionSet, mp: Any) -> SolutionSet:
    return _normal(a + b, mp)


def _complement(a: SolutionSet, mp: Any) -> SolutionSet:
    out: list[Interval] = []
    lo, lo_closed = -mp.inf, False
    for i in a:
        out.append(Interval(lo, i.lo, lo_closed, not i.lo_closed))
        lo, lo_closed = i.hi, not i.hi_closed
    out.append(Interval(lo, mp.inf, lo_closed, False))
    return _normal(tuple(out), mp)


def _intersect(a: SolutionSet, b: SolutionSet, mp: Any) -> SolutionSet:
    return _complement(_union(_complement(a, mp), _complement(b, mp), mp), mp)
