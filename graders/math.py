"""MATH / MATH-500 grader: is the final answer of a completion the gold answer?

The same functions grade `evalkit run` samples and compute RL rewards (`graders.rewards`), so a
verdict must be right, fast and bounded in time from any thread.

How a pair is graded:
1. Extraction (`graders.extract.math_answer`): the text after the last `</think>`; the last
   `\\boxed{}` / `\\fbox{}` / `\\boxed 5` (or a group of boxes side by side); without a box, inside the
   last `<answer>...</answer>` tag when there is one: the answer in the statement after the last
   "final answer is" / "the answer is" / "Answer:", else the whole text when it is itself an answer,
   else the final expression (the last math span, or a number standing after it). The gold may be
   a bare answer (MATH-500 `answer`, with or without `$..$`), a solution with a box (MATH
   `solution`) or a GSM8K solution ending in `#### N`.
2. Fast path, in the calling process, no sympy (`graders.latex`, `graders.compare`): normalise
   and parse both answers with a linear-time parser, then compare solution sets, labelled values,
   structures, exact rationals, and otherwise values at pseudo-random points with mpmath. Size
   guards bound the work before evaluating (power towers, huge factorials, runaway sums). This
   decides almost every pair in tens of microseconds.
3. Slow path, only for what the fast path cannot read or decide (`graders.symbolic`): sympy or
   math-verify in a persistent worker process that is killed and replaced when it overruns
   `timeout_s` (`graders.deadline`). No signals, so it works from threads, asyncio and Ray.
   An overrun is `Verdict(False, extracted, "timeout")`, a worker crash on that input
   `Verdict(False, extracted, "error")`. A worker that cannot start or a bad setting is not a
   verdict: it raises `graders.errors.GraderUnavailable`.

Grading policy (`graders.policy.GradingPolicy`; pass `policy=` to change one):
- `reject_hedges`: "1 or 2", or `\\boxed{1}` or `\\boxed{2}`, is wrong for gold 1. Side-by-side
  boxes joined by "and" or commas are one list answer, right only for a gold list.
- `reject_unevaluated="restatement"`: when the question is given (`question=`), an answer that
  copies an expression of the question (`\\boxed{123 \\times 456}` for "Compute $123 \\times 456$.")
  is wrong ("unevaluated"); any exact closed form is otherwise right (`10^3`, `5!`, `\\binom52`).
  "any" refuses every form that is not a plain number (the rule of grader version 2).
- `percent="strip"`: `25\\%` and 25 are the same answer; 0.25 is not (no silent x100).
- `rel_tol=0`: numbers are compared exactly (`0.333` is not 1/3); a tolerance, when set,
  applies only to decimal answers against non-integer golds; `approximate_golds` extends it to any
  answer against a gold written as a decimal or in scientific notation (Minerva Math: `4.5e33`).
- `abs_tol=0`: an absolute tolerance between numbers (OlympiadBench's per-problem `error`).
- `units="known"`: units in `\\text{}` and known unit words are dropped; "any" drops any unit
  written after the number when the gold is a plain number (`graders.units`; Minerva Math).
- `unordered_lists`: "find all" lists and sets match in any order (a repeated item counts once);
  tuples, intervals (with their brackets: `(1, 2]` is not `(1, 2)`) and matrices in order.
- `accept_assignment`: labelled answers by value: `x = 3` for gold 3, `(p,q) = (3,2)` for `(3,2)`,
  `AB = 4, CD = 5` for `4, 5`, `2 = x`; both sides labelled are matched label by label.
Fixed rules: inequalities, `x \\in S` and unions of intervals are compared as solution sets
(`-x > -1` is `x < 1`); units in `\\text{}` and `^\\circ` are dropped; a single letter is never a
unit; primes and case are significant (`f'(x)` is not `f(x)`); digit groups (`1,000`, `1\\,000`,
`1 000`) are numbers and a decimal comma is not (`1,5` is a list); model text is never evaluated
as code.
Verdict reasons: equal, equal_symbolic (slow path), close (within rel_tol or abs_tol), different,
different_brackets, hedged, unevaluated, undefined (`\\frac{1}{0}`), too_large / too_complex
(past the size guards), no_answer, bad_gold, timeout, error.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from graders.compare import Outcome, compare
from graders.deadline import DeadlineExceeded, WorkerCrashed, configured_size, shared_pool
from graders.errors import GraderUnavailable
from graders.extract import Extraction, answer_region, boxed_answer, hash_answer, math_answer
from graders.latex import TooComplex, Unparsed, normalize, parse_answer, undouble_backslashes
from graders.nodes import Apply, Group, Node, Num, Sym
from graders.policy import DEFAULT_POLICY, GradingPolicy
from graders.restatement import is_plain_number, restated
from graders.symbolic import slow_equal
from graders.units import strip_unit
from graders.verdict import Verdict

GRADER_VERSION = "4"

_WORKER_PRELOAD = ("graders.symbolic:warm_up",)
_TEXT_HEDGE = re.compile(r"\bor\b")
_CLUSTER_POLICY = GradingPolicy(reject_unevaluated="never")
_MAX_WHOLE_TEXT = 300
_DELIMITERS = re.compile(r"\$\$|\\\[|\\\]|\\\(|\\\)|(?<!\\)\$")


def _extract(text: str) -> Extraction:
    region = answer_region(text)
    if region is None:
        return Extraction(None, "none")
    return math_answer(region)


def extract_answer(text: str) -> str | None:
    """The final answer of a completion or a solution (see step 1 of the module docstring)."""
    return _extract(text).answer


@lru_cache(maxsize=65536)
def gold_answer(gold: str) -> str | None:
    """The answer inside a gold: a bare answer (math delimiters removed: `$21,16$ or $11$` is
    `21,16 or 11`), a solution with a box (also one missing its closing brace), or a `#### N` solution."""
    gold = undouble_backslashes(gold)
    if "\\boxed" in gold or "\\fbox" in gold:
        found = boxed_answer(gold, unclosed=True)
        return found.answer if found else None
    if "####" in gold:
        found = hash_answer(gold)
        return found.answer if found else None
    text = _DELIMITERS.sub(" ", gold).strip().rstrip(".").strip()
    return text or None


@dataclass(frozen=True)
class _Parsed:
    tree: Node | None  # None: the fast parser could not read it
    too_complex: bool = False  # beyond the size limits: rejected without the slow path


@lru_cache(maxsize=65536)
def _parse(answer: str, percent: str) -> _Parsed:
    """Parsed answers are cached: a gold is parsed once per process, a repeated prediction too."""
    try:
        return _Parsed(parse_answer(answer, percent=percent))
    except (TooComplex, RecursionError):
        return _Parsed(None, too_complex=True)
    except Unparsed:
        return _Parsed(None)


def _decide(pred: str, gold: str, policy: GradingPolicy) -> Outcome:
    """Fast-path outcome; `same is None` means the slow path must decide."""
    if pred == gold:
        return Outcome(True, "equal")
    p_parsed, g_parsed = _parse(pred, policy.percent), _parse(gold, policy.percent)
    if p_parsed.too_complex or g_parsed.too_complex:
        return Outcome(False, "too_complex")
    p, g = p_parsed.tree, g_parsed.tree
    if p is None and policy.reject_hedges and _TEXT_HEDGE.search(pred) and not _TEXT_HEDGE.search(gold):
        return Outcome(False, "hedged")
    if p is None or g is None:
        if _spelling(pred, policy) == _spelling(gold, policy):  # e.g. `4:30 \text{ p.m.}` and `\text{4:30 p.m.}`
            return Outcome(True, "equal")
        return Outcome(None, "unparsed")
    return compare(p, g, policy)


def _spelling(answer: str, policy: GradingPolicy) -> str:
    """The normalised text without spaces or trailing dots: equal spellings need no parser."""
    try:
        text = normalize(answer, percent=policy.percent)
    except Unparsed:
        text = answer
    return "".join(text.split()).rstrip(".")


def _restates(pred: str, gold: str, question: str, policy: GradingPolicy) -> bool:
    """An answer equal to the gold that copies an expression of the question (not the gold's spelling)."""
    p = _parse(pred, policy.percent).tree
    if p is None:
        return False
    if isinstance(p, Group):
        return any(not _settled(item) and restated(text, question, gold)
                   for item, text in zip(p.items, _top_level_parts(pred), strict=False))
    return not _settled(p) and restated(pred, question, gold)


def _settled(node: Node) -> bool:
    """An answer with nothing left to evaluate: a plain number, a bare name (`E_1`), or a tuple or list of
    such (`(4,2,3,2,4,3,1,1)`). Copying one from the question is no restatement: a question that shows
    an example or names the candidates ("List the possible results", Minerva; "List all Skolem sequences
    of order 4. For example, (4,2,3,2,4,3,1,1) is one", OlympiadBench) may have it in its answer."""
    if is_plain_number(node) or isinstance(node, Sym):
        return True
    if isinstance(node, Apply) and node.op == "index":
        return all(isinstance(a, (Sym, Num)) for a in node.args)
    return isinstance(node, Group) and node.kind != "matrix" and all(_settled(item) for item in node.items)


def _top_level_parts(text: str) -> list[str]:
    """`123 \\times 456, (7, 8)` split at the commas outside brackets and braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in ",;" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _slow(pred: str, gold: str, policy: GradingPolicy, timeout_s: float) -> Outcome:
    """The slow path on one pair. Only this input's timeout or crash becomes a verdict; a pool that
    cannot start, a bad setting or a missing library raise GraderUnavailable."""
    pool = shared_pool(_WORKER_PRELOAD)
    try:
        same = pool.call(slow_equal, (pred, gold, policy.percent), timeout_s)
    except DeadlineExceeded:
        return Outcome(False, "timeout")
    except WorkerCrashed:
        return Outcome(False, "error")
    except GraderUnavailable:
        raise
    except ImportError as exc:
        raise GraderUnavailable(f"the math grader's slow path needs {exc.name or 'a module'} in the worker: "
                                f"{exc}; install evalkit's dependencies (pip install -e .)") from exc
    except Exception:  # the slow path failed on this input: not a correct answer
        return Outcome(False, "error")
    return Outcome(bool(same), "equal_symbolic" if same else "different")


def grade(completion: str, gold: str, *, question: str | None = None, timeout_s: float = 1.0,
          policy: GradingPolicy = DEFAULT_POLICY) -> Verdict:
    """Grade one completion against a gold (bare answer, boxed solution or `#### N` solution).

    `question`: the problem text, when known; it lets the grader refuse an answer that restates
    the question (`reject_unevaluated="restatement"`).
    """
    return grade_batch([completion], [gold], questions=[question], timeout_s=timeout_s, policy=policy)[0]


def grade_batch(completions: Sequence[str], golds: Sequence[str], *,
                questions: Sequence[str | None] | None = None, timeout_s: float = 1.0,
                policy: GradingPolicy = DEFAULT_POLICY) -> list[Verdict]:
    """Grade pairs (e.g. one GRPO group); each distinct (prediction, gold) is decided once.

    Pairs that need the slow path run concurrently on the worker pool, each under `timeout_s`.
    Raises GraderUnavailable (never a verdict) when the slow path cannot run at all.
    """
    if len(completions) != len(golds):
        raise ValueError(f"grade_batch got {len(completions)} completions but {len(golds)} golds")
    if questions is not None and len(questions) != len(golds):
        raise ValueError(f"grade_batch got {len(questions)} questions for {len(golds)} golds")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    configured_size()  # a bad setting raises now, not when the first hard pair needs the pool
    decided: dict[tuple[str, str], Outcome] = {}
    rows: list[tuple[Extraction, str | None, str | None]] = []
    for completion, gold in zip(completions, golds, strict=True):
        gold_text = gold_answer(gold)
        found = _extract(completion)
        if gold_text is not None and found.answer != gold_text and _is_the_gold(completion, gold_text, policy):
            found = Extraction(gold_text, "whole")
        compared = _without_unit(found.answer, gold_text, policy)
        rows.append((found, gold_text, compared))
        if compared is None or gold_text is None:
            continue
        key = (compared, gold_text)
        if key not in decided:
            decided[key] = _decide(compared, gold_text, policy)
    pending = [key for key, outcome in decided.items() if outcome.same is None]
    if pending:
        def run(key: tuple[str, str]) -> Outcome:
            return _slow(key[0], key[1], policy, timeout_s)

        if len(pending) == 1:
            decided[pending[0]] = run(pending[0])
        else:
            workers = shared_pool(_WORKER_PRELOAD).size
            with ThreadPoolExecutor(max_workers=min(workers, len(pending))) as executor:
                for key, outcome in zip(pending, executor.map(run, pending), strict=True):
                    decided[key] = outcome
    verdicts = []
    for i, (found, gold_text, compared) in enumerate(rows):
        verdict = _verdict(found, gold_text, compared, decided)
        question = questions[i] if questions is not None else None
        if verdict.correct and question and policy.reject_unevaluated == "restatement" \
                and _restates(verdict.extracted or "", gold_text or "", question, policy):
            verdict = Verdict(False, verdict.extracted, "unevaluated")
        verdicts.append(verdict)
    return verdicts


def _is_the_gold(completion: str, gold_text: str, policy: GradingPolicy) -> bool:
    """A short completion that is the gold itself, written the same way (`odd $n$`, a sentence answer)."""
    region = answer_region(completion)
    if region is None or len(region) > _MAX_WHOLE_TEXT:
        return False
    text = _DELIMITERS.sub(" ", undouble_backslashes(region)).strip().rstrip(".").strip()
    return bool(text) and _spelling(text, policy) == _spelling(gold_text, policy)


def _verdict(found: Extraction, gold_text: str | None, compared: str | None,
             decided: dict[tuple[str, str], Outcome]) -> Verdict:
    if found.answer is None or compared is None:
        return Verdict(False, None, "no_answer")
    if gold_text is None:
        return Verdict(False, found.answer, "bad_gold")
    outcome = decided[(compared, gold_text)]
    return Verdict(bool(outcome.same), found.answer, outcome.reason)


def _without_unit(answer: str | None, gold_text: str | None, policy: GradingPolicy) -> str | None:
    """The answer as compared: with `units="any"`, without the unit after its number when the gold
    is a plain number (`graders.units`)."""
    if answer is None or gold_text is None or policy.units != "any":
        return answer
    gold = _parse(gold_text, policy.percent).tree
    if gold is None or not is_plain_number(gold):
        return answer
    return strip_unit(answer)


@lru_cache(maxsize=65536)
def is_equiv(a: str, b: str, *, timeout_s: float = 1.0) -> bool:
    """Whether two extracted answers are the same answer (used to cluster maj@k votes).

    Closed forms count as equal here (`2^{10}` and 1024 are one cluster); hedges do not.
    """
    if a == b:
        return True
    outcome = _decide(a, b, _CLUSTER_POLICY)
    if outcome.same is None:
        outcome = _slow(a, b, _CLUSTER_POLICY, timeout_s)
    return bool(outcome.same)


def warm_up() -> None:
    """Start the slow-path worker pool now (about a second, once per process), so that the first
    answer needing it is not delayed; useful before a timed evaluation or an RL step. Raises
    GraderUnavailable when the pool cannot start."""
    shared_pool(_WORKER_PRELOAD).warm_up()


async def grade_async(completion: str, gold: str, *, question: str | None = None, timeout_s: float = 1.0,
                      policy: GradingPolicy = DEFAULT_POLICY) -> Verdict:
    """`grade` for asyncio code: runs in a thread so the event loop is never blocked."""
    return await asyncio.to_thread(grade, completion, gold, question=question, timeout_s=timeout_s, policy=policy)
