"""Find the final answer in a model's text: boxes, answer anchors, `####`, the final expression.

This module owns extraction only (where the answer is), not what it means: normalising and
comparing answers is `graders.latex` / `graders.compare`. Every scan here is a linear pass or a
regex without nested quantifiers, so extraction time is bounded by the text length.

Conventions (each measured against the failures of public graders, see the module docstring of
`graders.math` for the policy):
- Text inside an unclosed or closed `<think>` block does not count: only what follows the last
  `</think>` is read; a response whose thinking never closed has no answer.
- The last `\\boxed{}` / `\\fbox{}` (also `\\boxed 5`) wins; boxes placed side by side at the end
  (`\\boxed{1}, \\boxed{2}`, `\\boxed{(2, 2)} \\text{ and } \\boxed{(6, 2)}`, `y_1 = \\boxed{a}` and
  `y_2 = \\boxed{b}`) form one list answer, and boxes joined by "or" are alternatives. A "final
  answer is ..." statement written after the last box replaces it (Minerva's format).
- Without a box, an answer tag (`<answer>...</answer>`, which some RL recipes train) narrows the
  search to the last tag's content, read by the rules below (`answer_tag`).
- Without a box (`math_answer`): the statement after the last answer anchor ("the final answer
  is", "the answer is", "Answer:"), read for its math (`$(0, 1)$`), for what follows its last "is"
  ("The largest $n$ is 34"), or for its only number ("Sphere started 3 hours ago"); else the
  whole text when it is itself an answer (`x^2 + 2*x + 1`, `odd $n$`); else the final
  expression: the last math span, or a number standing after it.
- A number counts only where it stands as one: never inside a word (`AZYUK2A`), never on a line
  of code (`__import__('os').system(...) or 0`); "1 or 2" is offered as alternatives (a hedge,
  unless they are equal), "1, 2 and 3" as a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graders.latex import FUNCTIONS, UNIT_WORDS, undouble_backslashes

_BOX_COMMAND = re.compile(r"\\(?:begin)?(?:boxed|fbox)(?![A-Za-z])")
# Markup that may sit between two boxes of one final answer, and the label before a box (`y_2 =`).
_GAP_MARKUP = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]|\*\*")
_GAP_NOISE = re.compile(r"\\[,;:!]|\\quad|\\qquad|\\text\s*\{|\\mbox\s*\{|\\textbf\s*\{|[{}]|\\\\|\\ ")
_LABEL_BEFORE = re.compile(r"(?:[A-Za-z](?:_\{?[A-Za-z0-9]{1,4}\}?)?|\([A-Za-z](?:\s*,\s*[A-Za-z]){1,5}\))\s*=\s*$")
_GAP_WORD = re.compile(r"[A-Za-z]+|[,;&]|\([a-z0-9]\)")
_LIST_SEPARATORS = {",", ";", "and", "&"}
_MAX_BOX_GAP = 70
_MAX_GROUP = 16
_MAX_GAP_WORDS = 6
_ANCHOR = re.compile(
    r"(?:final\s+answer\s*(?:is|:)|the\s+answer\s+is|answer\s*:|\banswer\s+is)\s*:?\s*", re.IGNORECASE
)
_FINAL_ANCHOR = re.compile(r"final\s+answer\s*(?:is|:)", re.IGNORECASE)


@dataclass(frozen=True)
class Extraction:
    """The extracted answer text and where it came from."""

    answer: str | None
    source: str  # "boxed" | "hash" | "anchor" | "whole" | "expression" | "last_number" | "none"


def answer_region(text: str) -> str | None:
    """The part of `text` that may hold the final answer: after the last `</think>`.

    None when a `<think>` block was opened and never closed (the model ran out while thinking).
    """
    close = text.rfind("</think>")
    if close >= 0:
        return text[close + len("</think>"):]
    if "<think>" in text:
        return None
    return text


def _match_brace(text: str, open_at: int) -> int:
    """Index of the `}` closing the `{` at `open_at`, or -1 when it never closes."""
    depth = 0
    i = open_at
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


@dataclass(frozen=True)
class _Box:
    start: int
    end: int  # index after the box
    content: str


def boxes(text: str, *, unclosed: bool = False) -> list[_Box]:
    """Every `\\boxed{..}`, `\\fbox{..}` and `\\boxed X` in order.

    Unclosed boxes are skipped, except with `unclosed` a last one runs to the end of the text (a
    gold written without its closing brace).
    """
    found: list[_Box] = []
    pos = 0
    while True:
        m = _BOX_COMMAND.search(text, pos)
        if m is None:
            return found
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            close = _match_brace(text, i)
            if close < 0:
                if unclosed and _BOX_COMMAND.search(text, i) is None:
                    content = text[i + 1:].strip().rstrip("$").strip()
                    if content:
                        found.append(_Box(m.start(), len(text), content))
                    return found
                pos = i  # unclosed: keep looking for later, complete boxes
                continue
            content = text[i + 1:close].strip()
            if content:  # an empty box is an echo of the instruction "put your answer in \boxed{}"
                found.append(_Box(m.start(), close + 1, content))
            pos = close + 1
        elif i > m.end():  # `\boxed 5`: one token up to whitespace or `$`
            token = re.match(r"[^\s$]+", text[i:])
            if token:
                found.append(_Box(m.start(), i + token.end(), token.group().rstrip(".")))
                pos = i + token.end()
            else:
                pos = i
        else:
            pos = i


def _label_before(text: str) -> str | None:
    """`y_2 =` at the end of `text` (markup removed): the label written in front of a box."""
    tail = _GAP_MARKUP.sub(" ", text[-40:]).rstrip()
    m = _LABEL_BEFORE.search(tail)
    return m.group().rstrip().rstrip("=").strip() if m else None


def _gap_kind(gap: str) -> str | None:
    """How two boxes separated by `gap` belong together: "list", "or", or None (they do not)."""
    if len(gap) > _MAX_BOX_GAP:
        return None
    text = _GAP_MARKUP.sub(" ", gap)
    label = _LABEL_BEFORE.search(text.rstrip())
    if label:
        text = text[:label.start()]
    words = [w.lower() for w in _GAP_WORD.findall(_GAP_NOISE.sub(" ", text))]
    if "or" in words:
        return "or"
    if not words:
        return "list"
    if words[-1] in _LIST_SEPARATORS and len(words) <= _MAX_GAP_WORDS:
        return "list"
    return None


def final_boxes(text: str, *, unclosed: bool = False) -> tuple[list[str], bool, int]:
    """The contents of the final group of boxes, whether any two were joined by "or", and where
    the last box ends (-1 without a box)."""
    found = boxes(text, unclosed=unclosed)
    if not found:
        return [], False, -1
    group = [found[-1]]
    hedged = False
    for prev in reversed(found[:-1]):
        kind = _gap_kind(text[prev.end:group[0].start])
        if kind is None:
            break
        hedged = hedged or kind == "or"
        group.insert(0, prev)
        if len(group) > _MAX_GROUP:  # a flood of boxes is no list answer: the last box stands alone
            group, hedged = [found[-1]], False
            break
    labels = [_label_before(text[:box.start]) for box in group] if len(group) > 1 else [None]
    contents: list[str] = []
    for box, label in zip(group, labels, strict=True):  # a box repeated verbatim is one answer
        content = f"{label} = {box.content}" if label and all(labels) else box.content
        if not contents or contents[-1] != content:
            contents.append(content)
    return contents, hedged, found[-1].end


def boxed_answer(text: str, *, unclosed: bool = False) -> Extraction | None:
    """The final boxed answer. A group of boxes becomes one answer: `a, b` when they were listed,
    `a or b` when offered as alternatives (the grader decides whether that is a hedge: equal
    alternatives such as `\\boxed{1/2} or \\boxed{0.5}` are not)."""
    contents, alternatives, _ = final_boxes(text, unclosed=unclosed)
    if not contents:
        return None
    return Extraction((" or " if alternatives else ", ").join(contents), "boxed")


_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)


def answer_tag(text: str) -> str | None:
    """The content of the last closed `<answer>...</answer>` tag, or None when there is none (or it is empty)."""
    last = None
    for m in _ANSWER_TAG.finditer(text):
        last = m
    if last is None or not last.group(1).strip():
        return None
    return last.group(1)


# -- anchors ------------------------------------------------------------------------------------


def anchored_statement(text: str, *, start: int = 0) -> Extraction | None:
    """The statement after the last "final answer is" / "the answer is" / "Answer:" phrase (after
    `start`), up to the end of its sentence or line, math delimiters removed."""
    last = None
    for m in _ANCHOR.finditer(text, start):
        last = m
    if last is None:
        return None
    answer = _strip_math_delimiters(_statement(text[last.end():last.end() + 300]).strip().strip("*").strip())
    return Extraction(answer, "anchor") if answer else None


_SENTENCE_END = re.compile(r"(?<!\bi\.e)(?<!\be\.g)(?<!\.)\.(?!\.)(?=\s|$)")
_RESTATING = re.compile(r"(?:\bi\.e\.|\bthat is,?|\bnamely,?)\s*", re.IGNORECASE)


def _statement(tail: str) -> str:
    """Text up to the end of its line and sentence ("." before a space or the end; a decimal point
    is followed by a digit, so `3.5` is kept whole), without quotation marks."""
    line = tail.split("\n", 1)[0]
    return _SENTENCE_END.split(line, maxsplit=1)[0].replace('\\"', " ").replace('"', " ")


def _strip_math_delimiters(answer: str) -> str:
    answer = answer.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            return answer[len(left):len(answer) - len(right)].strip()
    return answer.strip("$").strip()


# -- the math answer without a box ----------------------------------------------------------------

_DELIMITER = re.compile(r"\$\$|\\\[|\\\]|\\\(|\\\)|(?<!\\)\$")
_CLOSER = {"$$": "$$", "\\[": "\\]", "\\(": "\\)", "$": "$"}
_INLINE = ("\\(", "$")


@dataclass(frozen=True)
class _Span:
    """A math span: display `$$..$$` / `\\[..\\]` may cross lines, inline `$..$` / `\\(..\\)` may not."""

    start: int
    end: int
    text: str


def _math_spans(text: str) -> list[_Span]:
    """The math spans of `text` in order, found in linear time (every delimiter is looked at once;
    the next closer of each kind is precomputed, so 30,000 unclosed `\\(` cost nothing)."""
    delimiters = list(_DELIMITER.finditer(text))
    nxt: dict[str, list[int]] = {closer: [0] * (len(delimiters) + 1) for closer in ("$$", "\\]", "\\)", "$")}
    for closer in nxt:
        following = -1
        for k in range(len(delimiters) - 1, -1, -1):
            nxt[closer][k + 1] = following
            if delimiters[k].group() == closer:
                following = k
        nxt[closer][0] = following
    spans: list[_Span] = []
    k = 0
    while k < len(delimiters):
        opener = delimiters[k].group()
        match_closer = _CLOSER.get(opener)
        j = nxt[match_closer][k + 1] if match_closer else -1
        if j >= 0:
            inner = text[delimiters[k].end():delimiters[j].start()]
            if inner.strip() and not (opener in _INLINE and "\n" in inner):
                spans.append(_Span(delimiters[k].start(), delimiters[j].end(), inner))
                k = j + 1
                continue
        k += 1
    return spans
# A number standing alone: not glued to a word, a subscript or another number.
_NUMBER = re.compile(r"(?<![\w.\\^_/])[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+(?![\d.])|\d+)(?:\.\d+)?"
                     r"(?:\s*/\s*\d+(?!\d|\.\d))?%?(?!\d|\.\d|[_\\])")
_GLUED_WORD = re.compile(r"[A-Za-z]+")
_CODE = re.compile(r"__\w+__|\bimport\b|\blambda\b|\w\(\)|\)\.\w+|\.\w+\(|\[\s*\w+\s+for\b|['\"]\w*['\"]\s*[,)]"
                   r"|\b(?:print|eval|exec|open|getattr|globals|locals|range|len)\s*\(|\breturn\s+\w|;\s*\w+\s*=[^=]")
_APPROX_BEFORE = re.compile(r"(?:about|approximately|approx\.?|roughly|around|nearly|~|\\approx|\u2248)\s*$",
                            re.IGNORECASE)
_OR_BEFORE = re.compile(r"\bor(?:\s+[A-Za-z]+){0,2}\s*$", re.IGNORECASE)
_OR_AFTER = re.compile(r"\s*(?:,\s*)?or\b", re.IGNORECASE)
_CONNECTOR = re.compile(r"^\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+|\\text\{\s*(?:and|or)\s*\}\s*)$", re.IGNORECASE)
_MATH_WORDS = FUNCTIONS | {"or", "and", "pi", "sqrt", "inf", "infinity", "mod", "pmod", "frac", "text"}
_PROSE_WORD = re.compile(r"(?<![\\A-Za-z{])[A-Za-z]{2,}")
_TEXT_BLOCK = re.compile(r"\\(?:text|mathrm|textbf|mbox)\s*\{[^{}]*\}")
_MAX_WHOLE_CHARS = 300
_MAX_WORD_ANSWER = 4
# Words that make a short text a sentence about an answer rather than an answer in words.
_SENTENCE_WORDS = frozenset({
    "answer", "answers", "is", "are", "was", "were", "the", "therefore", "thus", "hence", "so", "we", "find",
    "found", "get", "gives", "obtain", "then", "which", "that", "final", "result", "equals", "equal", "because",
    "since", "here", "i", "it", "you", "they", "got", "have", "has", "maybe", "think",
})
_MAX_WORD_ANSWER_SPAN = 4  # `odd $n$`: a word answer may name a variable, not hold a calculation


def math_answer(region: str) -> Extraction:
    """The final answer of a MATH completion (after `</think>`): see the module docstring."""
    region = undouble_backslashes(region)
    contents, alternatives, box_end = final_boxes(region)
    if contents:
        final = _FINAL_ANCHOR.search(region, box_end)
        if final is not None:  # "... \boxed{255} ... Final Answer: The final answer is $10,455$."
            restated = anchored_answer(region, start=final.start())
            if restated is not None:
                return restated
        return Extraction((" or " if alternatives else ", ").join(contents), "boxed")
    region = answer_tag(region) or region
    for finder in (anchored_answer, whole_answer, final_expression):
        found = finder(region)
        if found is not None:
            return found
    return Extraction(None, "none")


def anchored_answer(text: str, *, start: int = 0) -> Extraction | None:
    """The answer in the statement after the last answer anchor (see the module docstring)."""
    last = None
    for m in _ANCHOR.finditer(text, start):
        last = m
    if last is None:
        return None
    statement = _statement(text[last.end():last.end() + 300]).strip().strip("*").strip()
    answer = _answer_in_statement(statement)
    return Extraction(answer, "anchor") if answer else None


def _answer_in_statement(statement: str) -> str | None:
    if not statement or _CODE.search(statement):
        return None
    restating = list(_RESTATING.finditer(statement))
    if restating and statement[restating[-1].end():].strip():  # `x=2 and y=3, i.e. (2, 3)`: the last form
        return _answer_in_statement(statement[restating[-1].end():])
    if _is_math(statement):
        return _without_delimiters(statement)
    verbs = list(re.finditer(r"\s(?:is|are|equals|was|be)\s", statement))
    if verbs:
        verb = verbs[-1]
        found = _answer_in_statement(statement[verb.end():])
        if found:
            return found
    spans = _math_spans(statement)
    numbers = _standalone_numbers(_blank_spans(statement))
    if spans and not statement[:spans[0].start].strip():  # the anchor is followed by math: that is the answer
        return spans[0].text.strip() or None
    if numbers and not statement[:numbers[0].start()].strip() and not (spans and spans[0].start < numbers[0].start()):
        answer = numbers[0].group().strip()  # "The answer is 42 because ...", "... is 1 or 2, definitely 2"
        for prev, cur in zip(numbers, numbers[1:], strict=False):
            gap = statement[prev.end():cur.start()]
            if not _CONNECTOR.match(gap):
                break
            answer += (" or " if re.search(r"\bor\b", gap, re.IGNORECASE) else ", ") + cur.group().strip()
        return answer
    if len(spans) == 1 and not numbers:
        return spans[0].text.strip() or None
    if len(numbers) == 1 and not spans:
        return numbers[0].group().strip()
    if not spans and not numbers and _is_word_answer(statement):
        return statement
    return None


def whole_answer(region: str) -> Extraction | None:
    """The whole text when it is short and is itself an answer (`x^2 + 2*x + 1`, `$\\frac{1}{2}$`, `odd $n$`)."""
    text = region.strip()
    text = text if re.search(r",\s*\.{3,}$", text) else text.rstrip(".").strip()  # keep `1, 2, 3, ...`
    if not text or len(text) > _MAX_WHOLE_CHARS or "\n" in text or _CODE.search(text):
        return None
    if _is_math(text) or _is_word_answer(text):
        return Extraction(_without_delimiters(text), "whole")
    return None


def final_expression(region: str) -> Extraction | None:
    """The last math span, or a number standing after it; spans or numbers joined by "and", "or"
    or commas at the end form one answer."""
    spans = _math_spans(region)
    blanked = _blank_spans(region, spans)
    numbers = _standalone_numbers(blanked)
    if not spans and not numbers:
        return None
    if numbers and (not spans or numbers[-1].start() > spans[-1].end):
        found = _final_number(region, numbers)
        if found is not None or not spans or not _APPROX_BEFORE.search(region[:numbers[-1].start()]):
            return found
    parts = [spans[-1].text.strip()]
    joiners: list[str] = []
    for prev, cur in zip(reversed(spans[:-1]), reversed(spans[1:]), strict=True):
        gap = region[prev.end:cur.start]
        if not _CONNECTOR.match(gap):
            break
        parts.insert(0, prev.text.strip())
        joiners.insert(0, "or" if re.search(r"\bor\b", gap) else ",")
    parts = [p for p in parts if p]
    if not parts:
        return None
    answer = parts[0]
    for joiner, part in zip(joiners, parts[1:], strict=False):
        answer += f" or {part}" if joiner == "or" else f", {part}"
    return Extraction(answer, "expression")


def _final_number(region: str, numbers: list[re.Match[str]]) -> Extraction | None:
    last = numbers[-1]
    line_start = region.rfind("\n", 0, last.start()) + 1
    line_end = region.find("\n", last.end())
    if _CODE.search(region[line_start:line_end if line_end >= 0 else len(region)]):
        return None
    items = [last.group().strip()]
    joiners: list[str] = []
    cur = last
    for prev in reversed(numbers[:-1]):
        gap = region[prev.end():cur.start()]
        if not _CONNECTOR.match(gap):
            break
        items.insert(0, prev.group().strip())
        joiners.insert(0, "or" if re.search(r"\bor\b", gap, re.IGNORECASE) else ",")
        cur = prev
    before = region[line_start:cur.start()]
    after = region[last.end():line_end if line_end >= 0 else len(region)]
    if _APPROX_BEFORE.search(before):
        return None  # `$\frac{1}{6}$, or about 16.7%`: an approximation of what was stated before
    if _OR_BEFORE.search(before) or _OR_AFTER.match(after):
        return None  # `<code> or 0`, `7, or maybe 8`, `12 or so`: offered as one of several, not stated
    answer = items[0]
    for joiner, item in zip(joiners, items[1:], strict=True):
        answer += f" or {item}" if joiner == "or" else f", {item}"
    return Extraction(answer, "expression")


def _standalone_numbers(text: str) -> list[re.Match[str]]:
    """Numbers not glued to a word: a letter run right after one must be a unit (`1,000.99m²`, `5cm`)."""
    out = []
    for m in _NUMBER.finditer(text):
        glued = _GLUED_WORD.match(text, m.end())
        if glued is None or glued.group().lower() in UNIT_WORDS:
            out.append(m)
    return out


def _blank_spans(text: str, spans: list[_Span] | None = None) -> str:
    """`text` with its math spans replaced by spaces (positions kept)."""
    out = list(text)
    for span in spans if spans is not None else _math_spans(text):
        out[span.start:span.end] = " " * (span.end - span.start)
    return "".join(out)


def _without_delimiters(text: str) -> str:
    return re.sub(r"\$\$|\\\[|\\\]|\\\(|\\\)|(?<!\\)\$", " ", text).strip()


def _is_math(text: str) -> bool:
    """Math with no prose around it: every word of two letters or more is a function or connector."""
    if not re.search(r"[\d\\=<>^+*/()]|[A-Za-z]", text):
        return False
    bare = _TEXT_BLOCK.sub(" ", _without_delimiters(text))
    return all(w.lower() in _MATH_WORDS for w in _PROSE_WORD.findall(bare)) and not re.search(r"[?!]\s*$", bare)


def _is_word_answer(text: str) -> bool:
    """A short answer in words ("Evelyn", "odd $n$", "no solution"): no digits outside math, few
    words, none of them the words of a sentence about an answer ("the answer is", "we find")."""
    spans = _math_spans(text)
    if any(len(span.text.strip()) > _MAX_WORD_ANSWER_SPAN for span in spans):
        return False
    outside = _blank_spans(text, spans)
    words = re.findall(r"[A-Za-z']+", outside)
    return (0 < len(words) <= _MAX_WORD_ANSWER and not re.search(r"\d", outside)
            and not re.search(r"[:;?!]|\.\s*\S", outside)
            and not any(w.lower() in _SENTENCE_WORDS for w in words))


# -- GSM8K ----------------------------------------------------------------------------------------


def last_number(text: str) -> Extraction | None:
    """The last number in `text` (with sign, thousands commas and decimals), not part of a word."""
    last = None
    for m in _GSM8K_NUMBER.finditer(text):
        last = m
    if last is None:
        return None
    return Extraction(last.group().rstrip(","), "last_number")


_GSM8K_NUMBER = re.compile(r"(?<![A-Za-z_])[-\u2212]?\$?\s?\d[\d,]*(?:\.\d+)?(?!\.?[A-Za-z_\d])|[-\u2212]?\.\d+")


def hash_answer(text: str) -> Extraction | None:
    """The text after the last `####` (GSM8K's answer line), up to the end of that line."""
    at = text.rfind("####")
    if at < 0:
        return None
    answer = text[at + 4:].split("\n", 1)[0].strip()
    return Extraction(answer, "hash") if answer else None
