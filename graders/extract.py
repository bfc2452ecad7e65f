"""Find the final answer in a model's text: boxes, answer anchors, `####`, the last number.

This module owns extraction only (where the answer is), not what it means: normalising and
comparing answers is `graders.latex` / `graders.compare`. Every scan here is a linear pass or a
regex without nested quantifiers, so extraction time is bounded by the text length.

Conventions (each measured against the failures of public graders, see the module docstring of
`graders.math` for the policy):
- Text inside an unclosed or closed `<think>` block does not count: only what follows the last
  `</think>` is read; a response whose thinking never closed has no answer.
- The last `\\boxed{}` / `\\fbox{}` (also `\\boxed 5`) wins; boxes placed side by side at the end
  (`\\boxed{1}, \\boxed{2}`) form one list answer, and boxes joined by "or" are alternatives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOX_COMMAND = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
# What may sit between two boxes that belong to one final answer: delimiters, spacing, separators.
_GAP_NOISE = re.compile(r"\$|\\\(|\\\)|\\\[|\\\]|\\[,;:!]|\\quad|\\qquad|\\text\{\s*|\}|\*\*|[\s.]")
_GAP_WORDS = {"", ",", ";", "and", ",and", "&", "or", ",or"}
_MAX_BOX_GAP = 70
_ANCHOR = re.compile(
    r"(?:final\s+answer\s*(?:is|:)|the\s+answer\s+is|answer\s*:|\banswer\s+is)\s*:?\s*", re.IGNORECASE
)


@dataclass(frozen=True)
class Extraction:
    """The extracted answer text and where it came from."""

    answer: str | None
    source: str  # "boxed" | "hash" | "anchor" | "last_number" | "none"


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


def boxes(text: str) -> list[_Box]:
    """Every `\\boxed{..}`, `\\fbox{..}` and `\\boxed X` in order; unclosed boxes are skipped."""
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


def final_boxes(text: str) -> tuple[list[str], bool]:
    """The contents of the final group of boxes and whether any two were joined by "or"."""
    found = boxes(text)
    if not found:
        return [], False
    group = [found[-1]]
    hedged = False
    for prev in reversed(found[:-1]):
        gap = text[prev.end:group[0].start]
        if len(gap) > _MAX_BOX_GAP:
            break
        words = _GAP_NOISE.sub("", gap).lower()
        if words not in _GAP_WORDS:
            break
        hedged = hedged or words.endswith("or")
        group.insert(0, prev)
    contents: list[str] = []
    for box in group:  # a box repeated verbatim (`\boxed{8} ... \boxed{8}`) is one answer
        if not contents or contents[-1] != box.content:
            contents.append(box.content)
    return contents, hedged


def boxed_answer(text: str) -> Extraction | None:
    """The final boxed answer. A group of boxes becomes one answer: `a, b` when they were listed,
    `a or b` when offered as alternatives (the grader decides whether that is a hedge: equal
    alternatives such as `\\boxed{1/2} or \\boxed{0.5}` are not)."""
    contents, alternatives = final_boxes(text)
    if not contents:
        return None
    return Extraction((" or " if alternatives else ", ").join(contents), "boxed")


def anchored_answer(text: str) -> Extraction | None:
    """The answer after the last "final answer is" / "the answer is" / "Answer:" phrase."""
    last = None
    for m in _ANCHOR.finditer(text):
        last = m
    if last is None:
        return None
    tail = text[last.end():last.end() + 300]
    line = tail.split("\n", 1)[0]
    # A sentence ends at ". " or a final "."; a decimal point is followed by a digit.
    sentence = re.split(r"\.(?=\s|$)", line, maxsplit=1)[0]
    answer = sentence.strip().strip("*").strip()
    answer = _strip_math_delimiters(answer)
    if not answer:
        return None
    return Extraction(answer, "anchor")


def _strip_math_delimiters(answer: str) -> str:
    answer = answer.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            return answer[len(left):len(answer) - len(right)].strip()
    return answer.strip("$").strip()


_NUMBER = re.compile(r"[-\u2212]?\$?\s?\d[\d,]*(?:\.\d+)?|[-\u2212]?\.\d+")


def last_number(text: str) -> Extraction | None:
    """The last number in `text` (with sign, thousands commas and decimals), as written."""
    last = None
    for m in _NUMBER.finditer(text):
        last = m
    if last is None:
        return None
    return Extraction(last.group().rstrip(","), "last_number")


def hash_answer(text: str) -> Extraction | None:
    """The text after the last `####` (GSM8K's answer line), up to the end of that line."""
    at = text.rfind("####")
    if at < 0:
        return None
    answer = text[at + 4:].split("\n", 1)[0].strip()
    return Extraction(answer, "hash") if answer else None
