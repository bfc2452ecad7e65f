"""The answer tree: what a math answer means, independent of how it was written.

Parsed by `graders.latex`, compared by `graders.compare`. Nodes are small frozen dataclasses so
parsed golds can be cached and shared between threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Num:
    """An exact rational. `form` records how it was written: int, decimal, fraction, mixed, repeating."""

    value: Fraction
    form: str = "int"


@dataclass(frozen=True, slots=True)
class Sym:
    """A variable (`x`, `f'`, `a_1`) or a named constant (`\\pi`, `e`, `i`, `\\infty`)."""

    name: str


@dataclass(frozen=True, slots=True)
class Apply:
    """An operation: add, mul (n-ary), neg, pow, div, fact, sqrt, root, binom, abs, pm, union, intersect,
    minus, ratio (`a:b`, n-ary), index (`F_{k}`: base, subscript), sum / prod (index variable, lower,
    upper, body), angle, call (`f(x)`: a name applied to an argument, a product in value), or a
    function name (sin, log, ...)."""

    op: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """A bracketed or comma-separated collection.

    kind: "tuple" (ordered, `(a, b)`), "interval" (`[a, b)`), "set" (`\\{a, b\\}`), "list" (bare
    `a, b`: the answers of a "find all" question, unordered), "matrix" (rows of `items` groups).
    """

    kind: str
    items: tuple[Node, ...]
    left: str = ""
    right: str = ""


@dataclass(frozen=True, slots=True)
class Relation:
    """`lhs op rhs` with op one of = < > <= >= != in."""

    op: str
    lhs: Node
    rhs: Node


@dataclass(frozen=True, slots=True)
class Text:
    """A word answer (`Monday`, `odd`, a choice letter), lower-cased, spacing collapsed."""

    text: str


@dataclass(frozen=True, slots=True)
class Alternatives:
    """`a or b`: several answers offered for one question."""

    items: tuple[Node, ...]


Node = Num | Sym | Apply | Group | Relation | Text | Alternatives

CONSTANTS = frozenset({"pi", "e", "i", "inf"})
