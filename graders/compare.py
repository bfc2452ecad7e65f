"""Decide whether two answer trees are the same answer, without sympy.

Tiers, cheapest first:
1. notation: solution sets (inequalities, `x \\in [a, b]`, unions of intervals) are compared as
   sets of reals (`graders.sets`); labelled answers (`x = 3`, `(p, q) = (3, 2)`, `AB = 4, CD = 5`,
   `2 = x`) are compared by their values, matched label by label when both sides name them;
2. structure: tuples, intervals (with their brackets), sets and lists (as sets: a repeated item
   counts once), matrices (also sums and products of matrices), ratios, equations and words are
   compared element by element;
3. exact: values without variables or irrationals are exact rationals (`Fraction`), so `0.5`,
   `\\frac12` and `\\frac{2}{4}` are equal and `0.333` is not 1/3;
4. numeric identity testing: anything else is evaluated with mpmath at 40 digits, variables at
   fixed pseudo-random points (`graders.evaluate`). Different values at any point mean different
   answers; equal values (to 1e-30) at every point mean equal answers (Schwartz-Zippel for
   polynomials; for the elementary functions of competition answers a coincidence at 40 digits
   is not a risk).
If the numeric test cannot evaluate (domain errors everywhere), the pair is `UNKNOWN` and the
caller falls back to sympy in a deadline-bound worker. Evaluation is bounded by the size guards
of `graders.evaluate`, so no input makes this module slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from graders.evaluate import (
    NotNumeric,
    TooLarge,
    divides_by_zero,
    environments,
    exact_value,
    free_symbols,
    integer_symbols,
    mp_context,
    numeric_value,
)
from graders.latex import is_label
from graders.nodes import Alternatives, Apply, Group, Node, Num, Relation, Sym, Text
from graders.policy import GradingPolicy
from graders.restatement import is_plain_number
from graders.sets import is_set_notation, same_set, solution_set

MAX_ITEMS = 64
_POINTS = 4
_EVAL_ERRORS = (NotNumeric, ZeroDivisionError, ValueError, OverflowError, TypeError)


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
    if _too_many_items(pred) or _too_many_items(gold):
        return Outcome(False, "too_complex")  # matching items is quadratic; no answer lists this many
    if is_set_notation(pred) or is_set_notation(gold):
        as_sets = _compare_sets(pred, gold)
        if as_sets is not None:
            return as_sets
    if isinstance(gold, Alternatives):
        if len(_distinct(gold.items, policy)) == 1:  # two spellings: `15\frac{39}{40}` or `\frac{639}{40}`
            return _any(list(gold.items), pred, policy, swap=True)
        gold = Group("list", _flat_items(gold.items))  # the solutions of a "find all": `$21,16$ or $11$`
    if isinstance(pred, Alternatives):
        distinct = _distinct(pred.items, policy)
        if isinstance(gold, Group) and gold.kind in ("list", "set") and len(gold.items) > 1:
            pred = Group("list", _flat_items(pred.items))
        elif len(distinct) == 1:
            pred = distinct[0]
        elif policy.reject_hedges:
            return Outcome(False, "hedged")
        else:
            return _any(distinct, gold, policy)
    if policy.accept_assignment:
        pred, gold = _unlabel(pred, gold)
    pred, gold = _matrix_form(pred), _matrix_form(gold)
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
    if _is_ratio(gold) or _is_ratio(pred):
        return _compare_ratios(pred, gold, policy)
    return _compare_scalars(pred, gold, policy)


def _too_many_items(node: Node) -> bool:
    return isinstance(node, (Group, Alternatives)) and len(node.items) > MAX_ITEMS


def _flat_items(items: tuple[Node, ...]) -> tuple[Node, ...]:
    """`$21,16$ or $11$`: alternatives whose parts are lists are one list of all their items."""
    out: list[Node] = []
    for item in items:
        if isinstance(item, Group) and item.kind == "list":
            out.extend(item.items)
        else:
            out.append(item)
    return tuple(out)


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


# -- solution sets -----------------------------------------------------------------------------


def _compare_sets(pred: Node, gold: Node) -> Outcome | None:
    """Both sides as sets of reals; None when either is not one (then structure decides)."""
    p, g = solution_set(pred), solution_set(gold)
    if p is None or g is None:
        return None
    (p_label, p_set), (g_label, g_set) = p, g
    if p_label is not None and g_label is not None and p_label != g_label:
        return None  # sets of different things (x against y): compared as relations
    return EQUAL if same_set(p_set, g_set) else DIFFERENT


# -- labelled answers --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Labelled:
    kind: str  # "single", or the kind of the group ("list", "set")
    labels: tuple[Node | None, ...]
    values: tuple[Node, ...]


def _split_label(node: Node) -> tuple[Node | None, Node]:
    """(label, value) of `label = value`, `value = label` or `label \\in value`; (None, node) otherwise."""
    if isinstance(node, Relation) and node.op in ("=", "\\in"):
        lhs_label, rhs_label = is_label(node.lhs), is_label(node.rhs)
        if lhs_label and not rhs_label:
            return node.lhs, node.rhs
        if rhs_label and not lhs_label and node.op == "=":
            return node.rhs, node.lhs
    return None, node


def _calculation(node: Node) -> Node:
    """`\\frac12 = \\frac{10}{9}` or `5 \\times 6 = 30`, no variable anywhere: the value is the last member."""
    if isinstance(node, Relation) and node.op == "=" and not free_symbols(node):
        return node.rhs
    return node


def _labelled(node: Node) -> _Labelled | None:
    if isinstance(node, Relation):
        label, value = _split_label(node)
        return _Labelled("single", (label,), (value,)) if label is not None else None
    if isinstance(node, Group) and node.kind in ("list", "set"):
        split = [_split_label(_calculation(item)) for item in node.items]
        if all(label is None for label, _ in split):
            return None
        return _Labelled(node.kind, tuple(s[0] for s in split), tuple(s[1] for s in split))
    return None


def _keyed(labelled: _Labelled) -> dict[str, Node] | None:
    """label -> value when every item has its own distinct label."""
    keys = [repr(label) for label in labelled.labels]
    if None in labelled.labels or len(set(keys)) != len(keys):
        return None
    return dict(zip(keys, labelled.values, strict=True))


def _values(labelled: _Labelled) -> Node:
    """The values without their labels. Labels repeating with a period (`p=5, q=2; p=7, q=2`) group
    the values into tuples in that order: `(5, 2), (7, 2)`."""
    if labelled.kind == "single":
        return labelled.values[0]
    values, labels = labelled.values, labelled.labels
    n = len(labels)
    if None not in labels:
        keys = [repr(label) for label in labels]
        for k in range(2, n):
            if n % k == 0 and len(set(keys[:k])) == k and all(keys[i] == keys[i % k] for i in range(n)):
                return Group(labelled.kind, tuple(Group("tuple", values[i:i + k], "(", ")") for i in range(0, n, k)))
    return Group(labelled.kind, values)


def _unlabel(pred: Node, gold: Node) -> tuple[Node, Node]:
    pred, gold = _calculation(pred), _calculation(gold)
    p, g = _labelled(pred), _labelled(gold)
    if p is None and g is None:
        return pred, gold
    if p is not None and g is not None:
        p_keys, g_keys = _keyed(p), _keyed(g)
        if p_keys is not None and g_keys is not None:
            if p_keys.keys() == g_keys.keys():  # matched label by label, in any order
                keys = sorted(p_keys)
                if len(keys) == 1:
                    return p_keys[keys[0]], g_keys[keys[0]]
                return (Group("tuple", tuple(p_keys[k] for k in keys), "(", ")"),
                        Group("tuple", tuple(g_keys[k] for k in keys), "(", ")"))
            if len(p_keys) == 1 and len(g_keys) == 1:
                return pred, gold  # `x = 1` against `y = 1`: different statements
        return _values(p), _values(g)
    if isinstance(pred if p is None else gold, Relation):
        return pred, gold  # `y = -x/2 + 3/4` against the equation `2x + 4y - 3 = 0`: compared as relations
    return (_values(p) if p is not None else pred), (_values(g) if g is not None else gold)


# -- words, relations, groups ----------------------------------------------------------------------


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


_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


def _compare_relations(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    if not (isinstance(pred, Relation) and isinstance(gold, Relation)):
        return DIFFERENT
    if pred.op == gold.op:
        direct = _both(pred.lhs, gold.lhs, pred.rhs, gold.rhs, policy)
        if direct.same:
            return direct
        if pred.op in ("=", "!="):
            swapped = _both(pred.lhs, gold.rhs, pred.rhs, gold.lhs, policy)
            if swapped.same:
                return swapped
            # Equations are the same when lhs - rhs agree up to a factor: y = 2x + 1 vs 2x - y + 1 = 0.
            return _proportional(_difference(pred.lhs, pred.rhs), _difference(gold.lhs, gold.rhs), positive=False)
    elif _FLIPPED.get(pred.op) == gold.op:
        swapped = _both(pred.lhs, gold.rhs, pred.rhs, gold.lhs, policy)
        if swapped.same:
            return swapped
    p_side, g_side = _positive_side(pred), _positive_side(gold)
    if p_side is None or g_side is None or p_side[1] != g_side[1]:
        return DIFFERENT
    # Inequalities are the same when `rhs - lhs` agree up to a positive factor: x + y < 1 vs 2 > 2x + 2y.
    return _proportional(p_side[0], g_side[0], positive=True)


def _difference(a: Node, b: Node) -> Node:
    return Apply("add", (a, Apply("neg", (b,))))


def _positive_side(relation: Relation) -> tuple[Node, bool] | None:
    """An inequality as (d, strict) meaning d > 0 (strict) or d >= 0."""
    if isinstance(relation.lhs, Relation) or isinstance(relation.rhs, Relation):
        return None
    op, lhs, rhs = relation.op, relation.lhs, relation.rhs
    if op in ("<", "<="):
        return _difference(rhs, lhs), op == "<"
    if op in (">", ">="):
        return _difference(lhs, rhs), op == ">"
    return None


def _proportional(pred: Node, gold: Node, positive: bool) -> Outcome:
    """`f` and `g` are the same relation when f = c * g for a constant c != 0 (c > 0 with `positive`),
    decided by the ratio at the sample points."""
    syms = sorted(free_symbols(pred) | free_symbols(gold))
    if not syms:
        return DIFFERENT
    mp = mp_context()
    ratios = []
    for env in environments(syms, integer_symbols(pred) | integer_symbols(gold), mp):
        try:
            a, b = numeric_value(pred, env, mp), numeric_value(gold, env, mp)
        except _EVAL_ERRORS:
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
    if same and positive and not (mp.im(first) == 0 and mp.re(first) > 0):
        return DIFFERENT
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
        if isinstance(pred, Group) and pred.kind in ("set", "list") and len(_deduped(pred.items, policy)) == 1:
            return _compare(pred.items[0], gold, policy)
        return DIFFERENT
    if not isinstance(pred, Group):
        if gold.kind in ("set", "list") and len(_deduped(gold.items, policy)) == 1:
            return _compare(pred, gold.items[0], policy)
        return DIFFERENT
    gk, pk = gold.kind, pred.kind
    if gk == "matrix" or pk == "matrix":
        return _compare_matrices(pred, gold, policy)
    if gk == "interval" or pk == "interval":
        if pk == "list" and gk == "interval" and gold.left == "(" and gold.right == ")":
            return _in_order(pred.items, gold.items, policy)  # "1, 2" for the point (1, 2)
        if pk == "set" and gk == "interval" and gold.left == "(" and gold.right == ")":
            return _in_order(pred.items, gold.items, policy)  # `{1, 3}` for (1, 3), as math-verify reads it
        if (pred.left, pred.right) != (gold.left, gold.right) or len(pred.items) != len(gold.items):
            return Outcome(False, "different_brackets" if len(pred.items) == len(gold.items) else "different")
        return _in_order(pred.items, gold.items, policy)
    unordered = {"set", "list"} if policy.unordered_lists else {"set"}
    if gk in unordered and pk in ("set", "list"):
        return _as_set(pred.items, gold.items, policy)
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


def _matrix_form(node: Node) -> Node:
    """Sums, scalar multiples and products of explicit matrices, as one matrix (else `node` itself)."""
    if not (isinstance(node, Apply) and node.op in ("add", "mul", "neg") and _has_matrix(node)):
        return node
    rows = _matrix_rows(node)
    if rows is None:
        return node
    return Group("matrix", tuple(Group("tuple", tuple(row)) for row in rows))


def _has_matrix(node: Node) -> bool:
    if isinstance(node, Group):
        return node.kind == "matrix"
    return isinstance(node, Apply) and any(_has_matrix(a) for a in node.args)


def _matrix_rows(node: Node) -> list[list[Node]] | None:
    if isinstance(node, Group) and node.kind == "matrix":
        rows = [list(r.items) for r in node.items if isinstance(r, Group)]
        return rows if rows and len({len(r) for r in rows}) == 1 else None
    if not isinstance(node, Apply) or not _has_matrix(node):
        return None
    if node.op == "neg":
        inner = _matrix_rows(node.args[0])
        return None if inner is None else [[Apply("neg", (x,)) for x in row] for row in inner]
    if node.op == "add":
        parts = [_matrix_rows(a) for a in node.args]
        if any(p is None for p in parts) or len({(len(p), len(p[0])) for p in parts if p}) != 1:
            return None
        first = parts[0]
        return [[Apply("add", tuple(p[i][j] for p in parts if p)) for j in range(len(first[0]))]  # type: ignore[index]
                for i in range(len(first))]  # type: ignore[arg-type]
    if node.op == "mul":
        result: list[list[Node]] | None = None
        scalars: list[Node] = []
        for arg in node.args:
            if not _has_matrix(arg):
                scalars.append(arg)
                continue
            factor = _matrix_rows(arg)
            if factor is None:
                return None
            if result is None:
                result = factor
            elif len(result[0]) != len(factor):
                return None
            else:
                result = [[Apply("add", tuple(Apply("mul", (result[i][k], factor[k][j])) for k in range(len(factor))))
                           for j in range(len(factor[0]))] for i in range(len(result))]
        if result is None:
            return None
        return [[Apply("mul", (*scalars, x)) if scalars else x for x in row] for row in result]
    return None


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


def _deduped(items: tuple[Node, ...], policy: GradingPolicy) -> list[Node]:
    """The distinct items of a list (a "find all" answer is a set: a repeated solution counts once)."""
    kept: list[Node] = []
    for item in items:
        if item in kept or any(_compare(item, k, policy).same for k in kept):
            continue
        kept.append(item)
    return kept


def _as_set(pred: tuple[Node, ...], gold: tuple[Node, ...], policy: GradingPolicy) -> Outcome:
    """Each distinct predicted item matches a distinct gold item (greedy; answers are short lists).
    An item `a \\pm b` stands for its two values."""
    pred, gold = _expanded(pred), _expanded(gold)
    pred_items = _deduped(pred, policy) if len(pred) > 1 else list(pred)
    gold_items = _deduped(gold, policy) if len(gold) > 1 else list(gold)
    if len(pred_items) != len(gold_items):
        return DIFFERENT
    remaining = list(gold_items)
    unknown = False
    for p in pred_items:
        for j, g in enumerate(remaining):
            outcome = _compare(p, g, policy)
            if outcome.same:
                del remaining[j]
                break
            unknown = unknown or outcome.same is None
        else:
            return UNKNOWN if unknown else DIFFERENT
    return EQUAL


def _expanded(items: tuple[Node, ...]) -> tuple[Node, ...]:
    if not any(_has_pm(i) for i in items):
        return items
    return tuple(value for item in items for value in (_expand_pm(item) if _has_pm(item) else [item]))


def _is_set_op(node: Node) -> bool:
    return isinstance(node, Apply) and node.op in ("union", "intersect", "minus")


def _compare_set_ops(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    if not (isinstance(pred, Apply) and isinstance(gold, Apply)) or pred.op != gold.op:
        return DIFFERENT
    if pred.op in ("union", "intersect"):
        return _as_set(_flatten(pred), _flatten(gold), policy)
    return _in_order(pred.args, gold.args, policy)


def _flatten(node: Apply) -> tuple[Node, ...]:
    out: list[Node] = []
    for arg in node.args:
        if isinstance(arg, Apply) and arg.op == node.op:
            out.extend(_flatten(arg))
        else:
            out.append(arg)
    return tuple(out)


def _is_ratio(node: Node) -> bool:
    return isinstance(node, Apply) and node.op == "ratio"


def _compare_ratios(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    """`7:32` is `7:32` and `14:64` (proportional, no zero term); a two-term ratio is also its quotient."""
    if _is_ratio(pred) and _is_ratio(gold):
        if len(pred.args) != len(gold.args):  # type: ignore[union-attr]
            return DIFFERENT
        direct = _in_order(pred.args, gold.args, policy)  # type: ignore[union-attr]
        if direct.same is not False:
            return direct
        p = [exact_value(a) for a in pred.args]  # type: ignore[union-attr]
        g = [exact_value(a) for a in gold.args]  # type: ignore[union-attr]
        if None in p or None in g or 0 in p or 0 in g:
            return DIFFERENT
        same = all(pi * g[0] == gi * p[0] for pi, gi in zip(p, g, strict=True))  # type: ignore[operator]
        return EQUAL if same and (p[0] > 0) == (g[0] > 0) else DIFFERENT  # type: ignore[operator]
    ratio, other = (pred, gold) if _is_ratio(pred) else (gold, pred)
    if len(ratio.args) != 2:  # type: ignore[union-attr]
        return DIFFERENT
    quotient = Apply("div", ratio.args)  # type: ignore[union-attr]
    return _compare_values(quotient, other, policy) if ratio is pred else _compare_values(other, quotient, policy)


# -- scalars ------------------------------------------------------------------------------------


def _compare_scalars(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    outcome = _compare_values(pred, gold, policy)
    if outcome.same and policy.reject_unevaluated == "any" and is_plain_number(gold) and not is_plain_number(pred):
        return Outcome(False, "unevaluated")
    return outcome


def _compare_values(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    if not free_symbols(pred) and divides_by_zero(pred) and not divides_by_zero(gold):
        return Outcome(False, "undefined")  # `\frac{1}{0}` is no answer, whatever the gold
    if _misplaced_group(pred) != _misplaced_group(gold):
        return DIFFERENT  # `-[0, 1)` is not a number
    p_exact, g_exact = exact_value(pred), exact_value(gold)
    if g_exact is not None and p_exact is not None:
        if p_exact == g_exact:
            return EQUAL
        diff = abs(p_exact - g_exact)
        if policy.abs_tol and diff <= Fraction(policy.abs_tol):
            return Outcome(True, "close")
        if policy.rel_tol and (_decimal(pred) and g_exact.denominator != 1
                               or policy.approximate_golds and _approximate(gold)):
            close = diff <= Fraction(policy.rel_tol) * abs(g_exact)
            return Outcome(True, "close") if close else DIFFERENT
        return DIFFERENT
    if _has_pm(pred) or _has_pm(gold):
        return _compare_pm(pred, gold, policy)
    return numeric_compare(pred, gold, policy)


def _misplaced_group(node: Node) -> bool:
    """A bracketed collection used as a number (`-[0, 1)`, `2 (1, 2)`)."""
    if isinstance(node, Apply):
        return any(isinstance(a, Group) and a.kind != "matrix" or _misplaced_group(a) for a in node.args)
    return False


def _decimal(node: Node) -> bool:
    if isinstance(node, Apply) and node.op == "neg":
        return _decimal(node.args[0])
    return isinstance(node, Num) and node.form == "decimal"


def _approximate(node: Node) -> bool:
    """A number written as a decimal or in scientific notation (`1.6`, `-4.5e33`): a rounded value."""
    if isinstance(node, Apply) and node.op == "neg":
        return _approximate(node.args[0])
    return isinstance(node, Num) and node.form in ("decimal", "scientific")


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
    return _as_set(tuple(_expand_pm(pred)), tuple(_expand_pm(gold)), policy)


# -- numeric identity testing -------------------------------------------------------------------


def numeric_compare(pred: Node, gold: Node, policy: GradingPolicy) -> Outcome:
    """Compare by evaluation at pseudo-random points (see the module docstring)."""
    # Variables on one side only are evaluated too: they must cancel for the answers to agree.
    syms = sorted(free_symbols(pred) | free_symbols(gold))
    integers = integer_symbols(pred) | integer_symbols(gold)
    mp = mp_context()
    agreed = 0
    for env in environments(syms, integers, mp):
        try:
            close = _close(numeric_value(pred, env, mp), numeric_value(gold, env, mp), mp, policy, pred, gold,
                           constant=not syms)
        except _EVAL_ERRORS:
            continue  # undefined at this point (a pole, a branch cut, inf - inf): try the next
        if not close:
            return DIFFERENT
        agreed += 1
        if agreed >= (_POINTS if syms else 1):
            return EQUAL
    return UNKNOWN


def _close(a, b, mp, policy: GradingPolicy, pred: Node, gold: Node, *, constant: bool) -> bool:
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
    if constant and policy.abs_tol and diff <= policy.abs_tol:
        return True
    tolerated = _decimal(pred) or policy.approximate_golds and _approximate(gold)
    return bool(policy.rel_tol and tolerated and diff <= abs(b) * policy.rel_tol)
