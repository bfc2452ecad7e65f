"""Read an extracted answer (LaTeX or plain text) into an answer tree, fast and bounded.

A hand-written recursive-descent parser: no ANTLR (90% of math-verify's time goes to its
pure-Python runtime), no `eval` (Qwen's grader executes model text through `parse_expr`).
Anything this parser does not understand raises `Unparsed`; the caller then falls back to a
slower parser inside a deadline-bound worker. The limits bound the work, not the length: the
parser is linear in the input (sums and products are flat n-ary nodes, so a sum of 3000 terms
is one node, not 3000 levels), nesting is capped at `MAX_DEPTH` and digit strings at
`MAX_DIGITS`; past those it raises `TooComplex` and the answer is rejected without any
fallback. No regex here can backtrack exponentially (each is checked against long adversarial
strings in tests).

Normalisation choices, each one a fix for a failure of a public grader:
- digit groups `1,000`, `1{,}000`, `1\\,000`, `1 000`, `11,\\! 111` are one number, never a product
  or a list; a comma followed by a space (`32, 349`) is a list;
- `\\text{}` / `\\mbox{}` / `\\mathrm{}` units and `^\\circ`, `°`, `\\$` are dropped, but bare single
  letters are never taken for units (`x + c` keeps its `c`);
- primes stay part of a name (`f'` is not `f`) and case is kept (`X` is not `x`);
- `0.\\overline{3}` is 1/3; `\\varnothing`, `\\emptyset`, `\\{\\}` are the empty set;
  `\\infty`, `infinity` and `\\text{infinity}` are infinity; `\\mathbb{R}` is `(-\\infty, \\infty)`;
- `1.5 \\times 10^{3}` and `1.5e3` are the number 1500 written in scientific notation;
  `-1\\frac{1}{2}` is the mixed number -3/2; `2**(1/4)` is a power (Python spelling);
- text written with every backslash doubled (`\\\\frac{1}{2}`, JSON-escaped twice) is read as
  if escaped once; a trailing approximation (`\\frac{\\sqrt3}{3} \\approx 0.577`) is dropped and a
  chain of equalities (`x = 5 + 6 = 11`) keeps its first and last member;
- `7:32` and `12:00` are ratios (equal when proportional, see `graders.compare`), `4:30 p.m.` a clock time;
- `\\sum_{k=0}^{n-1}` / `\\prod` with their bounds and indexed names (`F_{n-k-1}`) are read, so
  two spellings of one sum are compared by value;
- `a or b` parses to `Alternatives`, so a hedge can be told from an answer.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

from graders.evaluate import free_symbols
from graders.nodes import CONSTANTS, Alternatives, Apply, Group, Node, Num, Relation, Sym, Text

#: Inputs longer than this are not parsed at all (no answer is this long; the work stays linear).
MAX_ANSWER_CHARS = 20_000
MAX_DEPTH = 100
MAX_DIGITS = 4000  # below Python's 4300-digit int/str conversion limit


class Unparsed(ValueError):
    """The answer uses notation this parser does not read."""


class TooComplex(Unparsed):
    """The answer exceeds the size limits (length, nesting, digits): no grader should spend time on it."""


FUNCTIONS = frozenset({
    "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp", "det", "gcd", "lcm", "max", "min", "floor", "ceil",
})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


UNIT_WORDS = _words("""
cm centimeter centimeters centimetre centimetres m meter meters metre metres km kilometer kilometers mm
in inch inches ft foot feet yd yard yards mi mile miles sq square cubic units unit
g gram grams kg kilogram kilograms mg lb lbs pound pounds oz ounce ounces ton tons
s sec second seconds min minute minutes hr hour hours h day days week weeks month months year years
l liter liters litre litres ml gallon gallons quart quarts pint pints cup cups
degree degrees deg radian radians rad
dollar dollars cent cents euro euros yuan
mph kph km/h m/s
""")
_UNICODE = {
    "\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "\\times ", "\u00f7": "\\div ", "\u00b7": "\\cdot ",
    "\u22c5": "\\cdot ", "\u03c0": "\\pi ", "\u221e": "\\infty ", "\u221a": "\\sqrt ", "\u2264": "\\le ",
    "\u2265": "\\ge ", "\u2260": "\\ne ", "\u00b0": "^\\circ ", "\u00b2": "^2", "\u00b3": "^3", "\u2205": "\\emptyset ",
    "\u222a": "\\cup ", "\u2229": "\\cap ", "\u00b1": "\\pm ", "\u2032": "'", "\u2009": " ", "\u202f": " ",
    "\u00a0": " ", "\u2248": "\\approx ", "\u2208": "\\in ",
}
_UNICODE_RE = re.compile("|".join(map(re.escape, _UNICODE)))
_TEXT_CMD = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mbox|operatorname|boldsymbol|bf|rm)\s*\{")
_SPACING = re.compile(r"\\(?:displaystyle|left|right|bigl|bigr|Bigl|Bigr|big|Big|!|limits)(?![A-Za-z])")
_DIGIT_GROUP = re.compile(r"(?<=\d)(?:\{,\}|,\\!\s*|\\,|\\ |\\;|\\:|~| )(?=\d{3}(?!\d))")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\degree|\^\s*\{\s*o\s*\}")
_BACKSLASH_RUN = re.compile(r"\\+")
_ELLIPSIS = re.compile(r"(?<=,)\s*(?:\.{3,}|\\(?:ldots|cdots|dots)(?![A-Za-z]))")
_TRAILING_BREAK = re.compile(r"(?:\\\\\s*)+$")
_DOUBLED_COMMAND = re.compile(r"\\\\[A-Za-z]")
_PERCENT_WORD = re.compile(r"(?<=[\d}])\s*(?:percent(?:age)?|pct)\b\.?", re.IGNORECASE)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})\s*([ap])\.?\s*m\.?$", re.IGNORECASE)

_DOUBLE_BRACES = re.compile(r"\{\s*\{([^{}]*)\}\s*\}")


def undouble_backslashes(s: str) -> str:
    """Text whose every backslash is doubled (`\\\\frac{1}{2}`, escaped twice) read as escaped once.

    Only when every run of backslashes has even length and one of them starts a command: a
    matrix row break `\\\\` next to single-backslash commands is left alone.
    """
    if "\\\\" not in s or not _DOUBLED_COMMAND.search(s):
        return s
    runs = _BACKSLASH_RUN.findall(s)
    if any(len(r) % 2 for r in runs):
        return s
    return _BACKSLASH_RUN.sub(lambda m: "\\" * (len(m.group()) // 2), s)


def _collapse_braces(s: str) -> str:
    """`{{{1}}}` is `{1}`: redundant grouping must not count against the nesting limit."""
    for _ in range(len(s) // 2 + 1):
        collapsed = _DOUBLE_BRACES.sub(r"{\1}", s)
        if collapsed == s:
            return s
        s = collapsed
    return s


_SCALE_WORD = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(thousand|million|billion|trillion)\b", re.IGNORECASE)
_SCALES = {"thousand": 3, "million": 6, "billion": 9, "trillion": 12}


def _scaled(number: str, word: str) -> str:
    """`3.5 million` is 3500000 (exactly), not 3.5 with a unit."""
    value = Fraction(number) * 10 ** _SCALES[word.lower()]
    return str(value.numerator) if value.denominator == 1 else f"{float(value)!r}"


def _replace_text_commands(s: str) -> str:
    """`\\text{..}` and friends: units vanish (with a trailing `^2`), words stay as plain words."""
    out = []
    pos = 0
    while True:
        m = _TEXT_CMD.search(s, pos)
        if m is None:
            out.append(s[pos:])
            return "".join(out)
        depth, i = 1, m.end()
        while i < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[i], 0)
            i += 1
        if depth:
            raise Unparsed("unclosed \\text{")
        inner = s[m.end():i - 1].strip()
        out.append(s[pos:m.start()])
        if inner.lower().rstrip(".") in UNIT_WORDS or _all_units(inner):
            power = re.match(r"\s*\^\s*\{?\s*[23]\s*\}?", s[i:])
            if power:
                i += power.end()
            out.append(" ")
        else:
            out.append(f" {inner} ")
        pos = i


def _all_units(text: str) -> bool:
    """Whether `text` is only unit words ("square units", "cm^2", "km/h"), no number or other word."""
    words = [re.sub(r"\^\s*\{?\d\}?$", "", w).strip(".") for w in re.split(r"[\s/]+", text.lower())]
    words = [w for w in words if w]
    return bool(words) and all(w in UNIT_WORDS for w in words)


def normalize(answer: str, *, percent: str = "strip") -> str:
    """Canonical spelling of an answer string before tokenising (see the module docstring)."""
    s = _UNICODE_RE.sub(lambda m: _UNICODE[m.group()], answer)
    s = unicodedata.normalize("NFKC", s)
    s = undouble_backslashes(s)
    s = _DIGIT_GROUP.sub("", s)  # before `\,` and `\!` are read as spaces
    s = _TRAILING_BREAK.sub("", s)  # `185\\`: a line break after the answer
    s = s.replace("\\\\", " \\cr ")  # a matrix row break, before `\\ ` can be read as a space
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("\\dbinom", "\\binom").replace("\\tbinom", "\\binom")
    s = s.replace("\\$", " ").replace("$", " ")
    s = s.replace("\\left.", "").replace("\\right.", "")
    s = _SPACING.sub("", s)
    s = _DEGREES.sub(" ", s)
    s = _collapse_braces(s)
    s = _replace_text_commands(s)
    s = _SCALE_WORD.sub(lambda m: _scaled(m.group(1), m.group(2)), s)
    s = _PERCENT_WORD.sub("%", s)
    s = s.replace("\\%", "%").replace("%", " " if percent == "strip" else " \\percent ")
    s = re.sub(r"\\[,;:]|\\quad|\\qquad|\\ |~", " ", s)
    s = _ELLIPSIS.sub(lambda _: " \\ldots ", s)  # `1, 2, 3, ...` goes on: it is not the list 1, 2, 3
    s = re.sub(r"\s+", " ", s).strip().rstrip(".").strip()
    s = s.removesuffix("\\").strip()  # `185\`: a stray backslash closing the answer
    # Trailing unit words after a number: "5 apples", "12 cm^2". Never single letters.
    s = _TRAILING_WORDS.sub(lambda m: "" if _all_units(m.group()) or _words_only(s, m) else m.group(), s)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    elif "," in s:
        s = _grouped_value(s)
    return s.strip()


_GROUPED = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")


def _grouped_value(s: str) -> str:
    """`x = 1,000`: a comma-grouped number that holds every comma of the answer is one number,
    unless brackets make it a pair or an interval (`[1,500]`)."""
    found = list(_GROUPED.finditer(s))
    if len(found) != 1:
        return s
    m = found[0]
    if m.group().count(",") != s.count(",") or s[:m.start()].rstrip()[-1:] in "([{" and m.start() > 0:
        return s
    return s[:m.start()] + m.group().replace(",", "") + s[m.end():]


# Words are separated by spaces, so the match cannot split a word in many ways (no backtracking blow-up).
_TRAILING_WORDS = re.compile(r"(?<=[\d}])\s*[A-Za-z]{2,}\.?(?:\s+[A-Za-z]{2,}\.?)*\s*(?:\^\s*\{?[23]\}?)?$")


def _words_only(s: str, m: re.Match[str]) -> bool:
    """Trailing words after a plain number are units even when not in the list ("5 apples")."""
    head = s[:m.start()].strip()
    return re.fullmatch(r"-?[\d.]+", head) is not None and "or" not in m.group().split()


_TOKEN = re.compile(r"""
    (?P<num>\d+(?:\.\d*)?[eE][-+]?\d+(?![A-Za-z\d])|\d+(?:\.\d*)?|\.\d+)
  | (?P<cmd>\\[A-Za-z]+|\\[{}|])
  | (?P<word>[A-Za-z]+)
  | (?P<op>\*\*|<=|>=|!=|[-+*/^_=<>!(){}\[\],;:|&'])
  | (?P<space>\s+)
""", re.VERBOSE)


def tokenize(s: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            raise Unparsed(f"unexpected character {s[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            value = m.group()
            tokens.append(("op", "^") if value == "**" else (kind, value))
        pos = m.end()
    return tokens


_CMD_ALIASES = {
    "\\cdot": "*", "\\times": "*", "\\ast": "*", "\\div": "/", "\\le": "<=", "\\leq": "<=", "\\leqslant": "<=",
    "\\ge": ">=", "\\geq": ">=", "\\geqslant": ">=", "\\ne": "!=", "\\neq": "!=", "\\lt": "<", "\\gt": ">",
    "\\lbrace": "\\{", "\\rbrace": "\\}", "\\lvert": "|", "\\rvert": "|", "\\vert": "|", "\\mid": "|",
    "\\lbrack": "[", "\\rbrack": "]", "\\langle": "(", "\\rangle": ")", "\\colon": ":",
}
_CONSTANT_CMDS = {"\\pi": "pi", "\\infty": "inf", "\\infinity": "inf", "\\e": "e"}
_EMPTY_SET = ("\\emptyset", "\\varnothing")
_RELATIONS = {"=", "<", ">", "<=", ">=", "!=", "\\in", "\\notin", "\\approx", "\\sim", "\\simeq", "\\equiv"}
_ADDITIVE = ("+", "-", "\\pm", "\\mp", "\\cup", "\\cap", "\\setminus")
_SET_OPS = {"\\cup": "union", "\\cap": "intersect", "\\setminus": "minus"}
_WORD_CONSTANTS = {"infinity": "inf", "inf": "inf", "pi": "pi"}
_BIG_OPERATORS = {"\\sum": "sum", "\\prod": "prod"}
#: Longest `a \times 10^{k}` exponent read as one number (beyond it the power stays a power).
_MAX_SCIENTIFIC_EXPONENT = 400


def _alias(kind: str, value: str) -> tuple[str, str]:
    """`\\cdot` reads as `*`, `\\le` as `<=`...; an alias that is an operator becomes an operator token."""
    if kind != "cmd" or value not in _CMD_ALIASES:
        return kind, value
    alias = _CMD_ALIASES[value]
    return ("cmd" if alias.startswith("\\") else "op"), alias


def _sum(terms: list[Node]) -> Node:
    return terms[0] if len(terms) == 1 else Apply("add", tuple(terms))


def _product(factors: list[Node]) -> Node:
    return factors[0] if len(factors) == 1 else Apply("mul", tuple(factors))


def _scientific(factors: list[Node]) -> Node | None:
    """`1.5 \\times 10^{3}` (a number times an integer power of ten) as the number it writes."""
    if len(factors) != 2:
        return None
    mantissa, power = factors
    if not (isinstance(mantissa, Num) and mantissa.form in ("int", "decimal")):
        return None
    if not (isinstance(power, Apply) and power.op == "pow" and power.args[0] == Num(Fraction(10))):
        return None
    exponent = power.args[1]
    negative = isinstance(exponent, Apply) and exponent.op == "neg"
    if negative:
        exponent = exponent.args[0]  # type: ignore[union-attr]
    if not (isinstance(exponent, Num) and exponent.form == "int" and exponent.value <= _MAX_SCIENTIFIC_EXPONENT):
        return None
    scale = Fraction(10) ** int(exponent.value)
    return Num(mantissa.value / scale if negative else mantissa.value * scale, "scientific")


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], percent: str) -> None:
        self.toks = [_alias(k, v) for k, v in tokens]
        self.i = 0
        self.depth = 0
        self.percent = percent

    # -- helpers --------------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> str | None:
        j = self.i + ahead
        return self.toks[j][1] if j < len(self.toks) else None

    def kind(self) -> str | None:
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def take(self) -> str:
        if self.i >= len(self.toks):
            raise Unparsed("unexpected end of answer")
        value = self.toks[self.i][1]
        self.i += 1
        return value

    def expect(self, value: str) -> None:
        got = self.take()
        if got != value:
            raise Unparsed(f"expected {value!r}, got {got!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise TooComplex("answer nested too deeply")

    # -- grammar ---------------------------------------------------------------------------------
    def answer(self) -> Node:
        node = self.alternatives()
        if self.i != len(self.toks):
            raise Unparsed(f"unexpected {self.peek()!r}")
        return node

    def alternatives(self) -> Node:
        items = [self.sequence()]
        while self.peek() == "or":
            self.take()
            items.append(self.sequence())
        return items[0] if len(items) == 1 else Alternatives(tuple(items))

    def sequence(self) -> Node:
        items = [self.relation()]
        while self.peek() in (",", ";", "and"):
            self.take()
            if self.peek() == "and":
                self.take()
            if self.peek() is None:
                break
            items.append(self.relation())
        return items[0] if len(items) == 1 else Group("list", tuple(items))

    def relation(self) -> Node:
        items = [self.ratio()]
        ops: list[str] = []
        while self.peek() in _RELATIONS:
            ops.append(self.take())
            items.append(self.ratio())
        return _chain(items, ops)

    def ratio(self) -> Node:
        items = [self.expr()]
        while self.peek() == ":":
            self.take()
            items.append(self.expr())
        return items[0] if len(items) == 1 else Apply("ratio", tuple(items))

    def expr(self) -> Node:
        self.enter()
        terms = [self.term()]
        while self.peek() in _ADDITIVE:
            op = self.take()
            rhs = self.term()
            if op == "+":
                terms.append(rhs)
            elif op == "-":
                terms.append(Apply("neg", (rhs,)))
            elif op in ("\\pm", "\\mp"):
                terms = [Apply("pm", (_sum(terms), rhs))]
            else:
                terms = [Apply(_SET_OPS[op], (_sum(terms), rhs))]
        self.depth -= 1
        return _sum(terms)

    def term(self) -> Node:
        factors = [self.unary()]
        while True:
            tok = self.peek()
            if tok == "*":
                self.take()
                factors.append(self.unary())
            elif tok == "/":
                self.take()
                factors = [Apply("div", (_product(factors), self.unary()))]
            elif self._plain_mixed_number(factors[-1]):
                factors[-1] = self._take_plain_mixed_number(factors[-1])
            elif self._starts_atom():
                call = self.peek() == "(" and isinstance(factors[-1], Sym) and factors[-1].name not in CONSTANTS
                rhs = self.unary(implicit=True)
                mixed = _mixed_number(factors[-1], rhs)
                if mixed is not None:
                    factors[-1] = mixed
                elif call:  # `f(2)`, `P(A)`: a product in value, but it can name an answer (`f(2) = 9`)
                    factors[-1] = Apply("call", (factors[-1], rhs))
                else:
                    factors.append(rhs)
            else:
                return _scientific(factors) or _product(factors)

    def _plain_mixed_number(self, left: Node) -> bool:
        """`4 4/9` in plain text: an integer, then a proper fraction of integers (two integers side by
        side are never a product)."""
        whole = left.args[0] if isinstance(left, Apply) and left.op == "neg" else left
        if not (isinstance(whole, Num) and whole.form == "int" and self.kind() == "num" and self.peek(1) == "/"):
            return False
        j = self.i + 2
        if j >= len(self.toks) or self.toks[j][0] != "num" or self.peek(3) in ("^", "!", "_"):
            return False
        num, den = self.toks[self.i][1], self.toks[j][1]
        return num.isdigit() and den.isdigit() and int(num) < int(den)

    def _take_plain_mixed_number(self, left: Node) -> Num:
        num = int(self.take())
        self.take()
        den = int(self.take())
        negative = isinstance(left, Apply)
        whole = (left.args[0] if negative else left).value  # type: ignore[union-attr]
        value = whole + Fraction(num, den)
        return Num(-value if negative else value, "mixed")

    def _starts_atom(self) -> bool:
        kind, tok = self.kind(), self.peek()
        if tok is None:
            return False
        if kind in ("num", "word"):
            return tok not in ("or", "and")
        if kind == "cmd":
            return tok not in _RELATIONS and tok not in _ADDITIVE and tok not in (
                "\\}", "\\cr", "\\end", "\\right", "\\percent")
        return tok in ("(", "{", "\\{")

    def unary(self, implicit: bool = False) -> Node:
        tok = self.peek()
        if tok == "-" and not implicit:
            self.take()
            return Apply("neg", (self.unary(),))
        if tok == "+" and not implicit:
            self.take()
            return self.unary()
        if tok in ("\\pm", "\\mp") and not implicit:
            self.take()
            return Apply("pm", (Num(Fraction(0)), self.unary()))
        return self.power()

    def power(self) -> Node:
        base = self.postfix(self.atom())
        if self.peek() == "^":
            self.take()
            exponent = self.script()
            base = self.postfix(Apply("pow", (base, exponent)))
        return base

    def script(self, single_digit: bool = False) -> Node:
        """The argument of ^, _ or \\frac: a braced group or one token (`x^2`, `x^-1`, `x^\\pi`).

        With `single_digit` a bare number gives only its first digit, as TeX reads `\\frac12`.
        """
        self.enter()
        tok = self.peek()
        if tok == "{":
            node = self.braced()
        elif tok == "-":
            self.take()
            node = Apply("neg", (self.script(),))
        elif self.kind() == "num":  # `10^23` as models write it in text means 10^{23}
            text = self.take()
            if single_digit and len(text) > 1 and text[0] != ".":
                self.toks.insert(self.i, ("num", text[1:]))
                text = text[0]
            node = _number(text)
        elif self.kind() == "word":
            word = self.take()
            node = Sym(word[0])
            if len(word) > 1:
                self.toks.insert(self.i, ("word", word[1:]))
        else:
            node = self.atom()
        self.depth -= 1
        return node

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok == "!":
                self.take()
                node = Apply("fact", (node,))
            elif tok == "\\percent":
                self.take()
                node = _percent(node)
            elif tok == "'" and isinstance(node, Sym):
                self.take()
                node = Sym(node.name + "'")
            elif tok == "_" and isinstance(node, Sym):
                self.take()
                node = _subscripted(node, self.script())
            elif tok == "_" and isinstance(node, Num) and node.form == "int":
                # A numeral in another base, `4210_{5}`: its digits are the answer, not its value.
                self.take()
                node = Text(f"{node.value.numerator}_{_key(self.script())}")
            else:
                return node

    def braced(self) -> Node:
        self.expect("{")
        node = self.alternatives()
        self.expect("}")
        return node

    def atom(self) -> Node:
        self.enter()
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self) -> Node:
        kind, tok = self.kind(), self.take()
        if kind == "num":
            return self._number_with_overline(tok)
        if kind == "word":
            return self._word(tok)
        if tok in ("(", "["):
            return self._bracketed(tok)
        if tok == "{":
            if self.peek() == "}":
                self.take()
                return Group("set", ())
            node = self.alternatives()
            self.expect("}")
            return node
        if tok == "\\{":
            if self.peek() == "\\}":
                self.take()
                return Group("set", ())
            inner = self.alternatives()
            self.expect("\\}")
            items = inner.items if isinstance(inner, Group) and inner.kind == "list" else (inner,)
            return Group("set", items)
        if tok == "|":
            inner = self.expr()
            self.expect("|")
            return Apply("abs", (inner,))
        if kind == "cmd":
            return self._command(tok)
        raise Unparsed(f"unexpected {tok!r}")

    def _number_with_overline(self, tok: str) -> Num:
        num = _number(tok)
        if self.peek() == "\\overline" and "." in tok:
            self.take()
            self.expect("{")
            digits = self.take()
            self.expect("}")
            if not digits.isdigit():
                raise Unparsed("\\overline needs digits")
            return Num(_repeating(tok, digits), "repeating")
        return num

    def _word(self, word: str) -> Node:
        lower = word.lower()
        if lower in _WORD_CONSTANTS:
            return Sym(_WORD_CONSTANTS[lower])
        if lower in FUNCTIONS and len(word) > 2:
            return self._function(lower)
        if len(word) == 1:
            return Sym(word)
        # Several letters in math are a product of variables (`xy`), but `sqrt`, `pi` written out
        # are commands.
        if lower == "sqrt":
            return Apply("sqrt", (self.unary(implicit=True),))
        return Apply("mul", tuple(Sym(ch) for ch in word))

    def _bracketed(self, opener: str) -> Node:
        if self.peek() in (")", "]"):
            closer = self.take()
            return Group("tuple", (), opener, closer)
        inner = self.alternatives()
        closer = self.take()
        if closer not in (")", "]"):
            raise Unparsed(f"bracket {opener!r} closed by {closer!r}")
        if isinstance(inner, Group) and inner.kind == "list":
            kind = "interval" if len(inner.items) == 2 else "tuple"
            if kind == "tuple" and (opener, closer) != ("(", ")") and (opener, closer) != ("[", "]"):
                raise Unparsed("mixed brackets around a tuple")
            return Group(kind, inner.items, opener, closer)
        if opener == "(" and closer == ")":
            return inner
        if opener == "[" and closer == "]":
            return inner  # [x] as grouping
        raise Unparsed("mixed brackets around one value")

    def _command(self, cmd: str) -> Node:
        if cmd in _CONSTANT_CMDS:
            return Sym(_CONSTANT_CMDS[cmd])
        if cmd in _EMPTY_SET:
            return Group("set", ())
        if cmd == "\\ldots":
            return Sym("...")
        if cmd == "\\frac":
            num = self.script(single_digit=True)
            den = self.script(single_digit=True)
            if isinstance(num, Num) and isinstance(den, Num) and num.form == "int" and den.form == "int" \
                    and den.value != 0:
                return Num(num.value / den.value, "fraction")
            return Apply("div", (num, den))
        if cmd == "\\binom":
            return Apply("binom", (self.script(single_digit=True), self.script(single_digit=True)))
        if cmd == "\\sqrt":
            if self.peek() == "[":
                self.take()
                index = self.expr()
                self.expect("]")
                return Apply("root", (self.script(single_digit=True), index))
            return Apply("sqrt", (self.script(single_digit=True),))
        if cmd in _BIG_OPERATORS:
            return self._big_operator(_BIG_OPERATORS[cmd])
        if cmd == "\\angle":
            return Apply("angle", (self.unary(implicit=True),))
        if cmd == "\\mathbb":
            self.expect("{")
            name = self.take()
            self.expect("}")
            if name != "R":
                raise Unparsed(f"\\mathbb{{{name}}} is not read by the fast parser")
            return Group("interval", (Apply("neg", (Sym("inf"),)), Sym("inf")), "(", ")")
        name = cmd[1:]
        if name in FUNCTIONS:
            return self._function(name)
        if name in ("begin",):
            return self._environment()
        if name in ("lfloor", "lceil"):
            inner = self.expr()
            self.expect("\\r" + name[2:])
            return Apply(name[1:], (inner,))
        if name in _DECORATIONS:  # `\\hat{x}`, `\\overline{AB}`, `\\vec{v}`: a name of its own
            return Sym(f"{_DECORATIONS[name]}({_key(self.script())})")
        if name in ("mathcal", "mathfrak", "circ"):
            raise Unparsed(f"\\{name} is not read by the fast parser")
        if len(name) > 1 and name in _GREEK:
            return Sym(name)
        raise Unparsed(f"unknown command {cmd}")

    def _big_operator(self, op: str) -> Node:
        """`\\sum_{k=a}^{b} body`: the body is the product that follows (TeX's convention)."""
        self.expect("_")
        lower = self.script()
        self.expect("^")
        upper = self.script()
        if not (isinstance(lower, Relation) and lower.op == "=" and isinstance(lower.lhs, Sym)):
            raise Unparsed(f"\\{op} needs a lower bound `k = a`")
        body = self.term()
        return Apply(op, (lower.lhs, lower.rhs, upper, body))

    def _function(self, name: str) -> Node:
        power: Node | None = None
        base: Node | None = None
        if self.peek() == "_" and name == "log":
            self.take()
            base = self.script()
        if self.peek() == "^":
            self.take()
            power = self.script()
        arg = self.atom() if self.peek() == "(" else self.unary(implicit=True)
        node: Node = Apply(name, (arg,) if base is None else (arg, base))
        if power is not None:
            if isinstance(power, Apply) and power.op == "neg" and power.args == (Num(Fraction(1)),):
                node = Apply("a" + name if name in ("sin", "cos", "tan") else name + "^-1", (arg,))
            else:
                node = Apply("pow", (node, power))
        return node

    def _environment(self) -> Node:
        self.expect("{")
        env = self.take()
        self.expect("}")
        if env not in ("pmatrix", "bmatrix", "matrix", "vmatrix", "array", "smallmatrix"):
            raise Unparsed(f"environment {env}")
        if env == "array" and self.peek() == "{":
            self.braced_raw()
        rows: list[Node] = []
        row: list[Node] = []
        while True:
            if self.peek() == "\\end":
                break
            row.append(self.expr())
            sep = self.peek()
            if sep == "&":
                self.take()
            elif sep == "\\cr":
                self.take()
                rows.append(Group("tuple", tuple(row)))
                row = []
            elif sep != "\\end":
                raise Unparsed(f"unexpected {sep!r} in matrix")
        if row:
            rows.append(Group("tuple", tuple(row)))
        self.take()
        self.expect("{")
        self.take()
        self.expect("}")
        node = Group("matrix", tuple(rows))
        return Apply("det", (node,)) if env == "vmatrix" else node

    def braced_raw(self) -> None:
        depth = 0
        while True:
            tok = self.take()
            depth += {"{": 1, "}": -1}.get(tok, 0)
            if depth == 0:
                return


_DECORATIONS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "vec": "vec",
                "overrightarrow": "vec", "tilde": "tilde", "widetilde": "tilde", "dot": "dot", "ddot": "ddot",
                "check": "check", "breve": "breve", "underline": "underline"}
_GREEK = _words("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi
omicron rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega""")


def _chain(items: list[Node], ops: list[str]) -> Node:
    """A relation chain `a op b op c ...`.

    A trailing approximation is dropped (`\\frac{\\sqrt3}{3} \\approx 0.577` is the exact value),
    except right after a name (`x \\approx 0.577` says x = 0.577). A chain of equalities keeps its
    first and last member (`x = 5 + 6 = 11` is x = 11). Other chains (`0 < x \\le 1`) nest to the
    left: `Relation(<=, Relation(<, 0, x), 1)`.
    """
    approx = ("\\approx", "\\sim", "\\simeq")
    for j, op in enumerate(ops):
        if op in approx:
            if j == 0 and len(items) >= 2 and is_label(items[0]):
                ops = ["="]
                items = items[:2]
            else:
                ops, items = ops[:j], items[:j + 1]
            break
    if not ops:
        return items[0]
    if all(op == "=" for op in ops):
        return Relation("=", items[0], items[-1])
    node: Node = Relation(ops[0], items[0], items[1])
    for op, item in zip(ops[1:], items[2:], strict=True):
        node = Relation(op, node, item)
    return node


def is_label(node: Node) -> bool:
    """A name an answer may be written against: `x`, `f(x)`, `|AB|`, `\\frac{NO}{BO}`, `(p, q)`, `y_1`,
    `V_1 : V_2`, `\\angle APC`, `f(2)`: symbols combined by products, quotients, ratios, absolute value,
    angles or tuples, with no number outside subscripts and function arguments, and no sum."""
    if isinstance(node, Sym):
        return node.name not in ("pi", "e", "i", "inf")
    if isinstance(node, Apply):
        if node.op == "index":
            return isinstance(node.args[0], Sym)
        if node.op == "call":  # `f(x)`, `f(2)`, `P(A)`, but not `x(x + 1)`
            name, arg = node.args
            return isinstance(name, Sym) and not isinstance(arg, Group) and name.name not in free_symbols(arg)
        if node.op in ("mul", "div", "ratio", "abs", "angle"):
            return all(is_label(a) for a in node.args)
        return False
    if isinstance(node, Group) and node.kind in ("tuple", "interval") and node.left == "(":
        return bool(node.items) and all(is_label(i) for i in node.items)
    return False


def _mixed_number(left: Node, right: Node) -> Node | None:
    """`2\\frac{1}{2}` is 5/2 and `-1\\frac{1}{2}` is -3/2, not a product."""
    if not (isinstance(right, Num) and right.form == "fraction" and 0 < right.value < 1):
        return None
    if isinstance(left, Num) and left.form == "int":
        return Num(left.value + right.value, "mixed")
    if isinstance(left, Apply) and left.op == "neg" and isinstance(left.args[0], Num) \
            and left.args[0].form == "int":
        return Num(-(left.args[0].value + right.value), "mixed")
    return None


def _percent(node: Node) -> Node:
    """`33.5\\%` with percent="fraction": the number 0.335, still a plain number."""
    if isinstance(node, Num):
        return Num(node.value / 100, "percent")
    return Apply("div", (node, Num(Fraction(100))))


def _subscripted(base: Sym, sub: Node) -> Node:
    """`y_1`, `a_{37}` are names; `F_k`, `F_{n-k-1}` are indexed terms, evaluated as a function of the index."""
    if isinstance(sub, Num) and sub.form == "int":
        return Sym(f"{base.name}_{sub.value.numerator}")
    if isinstance(sub, Sym) and sub.name in ("pi", "e", "i", "inf"):
        return Sym(f"{base.name}_{sub.name}")
    return Apply("index", (base, sub))


def _number(text: str) -> Num:
    if len(text) > MAX_DIGITS:
        raise TooComplex("number too long")
    if "e" in text or "E" in text:
        mantissa, _, exponent = text.lower().partition("e")
        if abs(int(exponent)) > _MAX_SCIENTIFIC_EXPONENT:
            raise TooComplex("exponent too large")
        return Num(Fraction(mantissa.rstrip(".") or "0") * Fraction(10) ** int(exponent), "scientific")
    if "." in text:
        return Num(Fraction(text.rstrip(".") or "0"), "decimal" if not text.endswith(".") else "int")
    return Num(Fraction(int(text)), "int")


def _repeating(prefix: str, digits: str) -> Fraction:
    """0.1\\overline{6} = 1/6: the non-repeating prefix plus the repeating block over 9s."""
    whole, _, frac = prefix.partition(".")
    base = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
    block = Fraction(int(digits), (10 ** len(digits) - 1) * 10 ** len(frac))
    return base + block


def _key(node: Node) -> str:
    if isinstance(node, Num):
        return str(node.value)
    if isinstance(node, Sym):
        return node.name
    return repr(node)


_WORD_ANSWER = re.compile(r"^\(?[A-Za-z][A-Za-z' \-]*\)?$")
_CHOICE = re.compile(r"^\(?([A-Ea-e])\)$|^\(([A-Ea-e])\)?$")


def parse_answer(answer: str, *, percent: str = "strip") -> Node:
    """The answer tree of an extracted answer; raises Unparsed for notation it does not read."""
    if len(answer) > MAX_ANSWER_CHARS:
        raise TooComplex("answer too long")
    text = normalize(answer, percent=percent)
    if not text:
        raise Unparsed("empty answer")
    choice = _CHOICE.match(text)
    if choice:
        return Text((choice.group(1) or choice.group(2)).upper())
    time = _TIME.match(text)
    if time:
        hours, minutes, half = time.groups()
        return Text(f"{int(hours)}:{minutes} {half.lower()}m")
    if _WORD_ANSWER.match(text) and _is_word_answer(text):
        return Text(" ".join(text.strip("()").lower().split()))
    try:
        return _Parser(tokenize(text), percent).answer()
    except RecursionError as exc:
        raise TooComplex("answer nested too deeply") from exc


def _is_word_answer(text: str) -> bool:
    """A word answer ("Monday", "odd", "no solution") as opposed to algebra in letters (`xy`, `a b`)."""
    words = text.strip("()").split()
    if any(w.lower() in ("or", "and") for w in words):
        return False
    return any(len(w) >= 3 and w.lower() not in _WORD_CONSTANTS and w.lower() not in FUNCTIONS for w in words)
