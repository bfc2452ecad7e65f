"""The trusted judge: run the benchmark's test against a proxy of the candidate, decide the verdict.

The judge lives in the worker, next to (never inside) the candidate process. The test code and the
expected values stay here; the candidate only ever sees the arguments of each call. A pass is decided
here, after every test ran: `check(candidate)` / the asserts returned normally, or every input/output
pair matched with evalplus's comparison rules. The candidate's exit code, stdout and files are ignored.

Tests whose arguments are not plain data (callables, instances of classes the solution defines) cannot
go through the proxy; they fall back to running the test inside the candidate process ("inproc"), which
still protects the host but whose verdict the candidate could forge. Such results say trust="weak".
Shipped as source into the sandbox: imports nothing from evalkit.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import math
import os
import secrets
import time
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox._codec import CodecError, Digest, Skipped, Unproxyable, decode, encode, encode_reference
from sandbox._frames import ChannelClosed, ChannelTimeout, FrameReader, write_frame

#: Exception types a candidate may raise through the proxy (so `pytest.raises`-style tests work).
_PASSTHROUGH = {
    name: cls for name, cls in vars(builtins).items()
    if isinstance(cls, type) and issubclass(cls, Exception) and cls not in (StopIteration, StopAsyncIteration)
}
CANDIDATE_MARK = "__evalkit_candidate__"


class OutputDigest:
    """The candidate's answer to a call made in digest mode: the canonical digest of its output."""

    __slots__ = ("hex",)

    def __init__(self, hexdigest: str):
        self.hex = hexdigest


class OutputTooLarge(ValueError):
    """The candidate's output was too large to cross the boundary."""


class CandidateAbort(BaseException):
    """The candidate timed out, died or broke the protocol. A BaseException, so `except Exception`
    in a test cannot swallow it; the judge also remembers it, so even `except BaseException` cannot."""

    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


class NeedsInProcess(Exception):
    """The test cannot run against a proxy (it passes non-plain values or uses solution-defined names)."""


@dataclass
class Verdict:
    status: str  # passed | failed | timeout | error
    detail: str = ""
    trust: str = "strong"


class Channel:
    """The judge's ends of the candidate's two pipes, and how to kill it."""

    def __init__(self, pid: int, req_w: int, resp_r: int):
        self.pid, self.req_w, self.resp_r = pid, req_w, resp_r
        self.replies = FrameReader(resp_r)
        os.set_blocking(req_w, False)

    def exchange(self, message: list, deadline: float) -> list:
        write_frame(self.req_w, message, deadline)
        reply = self.replies.read(deadline)
        if type(reply) is not list or len(reply) < 2 or reply[0] != message[1] or type(reply[1]) is not str:
            raise CodecError("reply does not answer the request")
        return reply


def _rebuild_exception(name: object, message: object) -> Exception:
    cls = _PASSTHROUGH.get(name) if type(name) is str else None
    text = message if type(message) is str else ""
    try:
        exc = cls(text) if cls is not None else RuntimeError(f"{name}: {text}")
    except Exception:
        exc = RuntimeError(f"{name}: {text}")
    setattr(exc, CANDIDATE_MARK, True)
    return exc


def _copy_back(originals: tuple, updated: object) -> None:
    """Apply the candidate's in-place changes to list/dict/set arguments, as an in-process call would."""
    if type(updated) is not list or len(updated) != len(originals):
        return
    for orig, new in zip(originals, updated, strict=True):
        if type(orig) is list and type(new) is list:
            orig[:] = new
        elif type(orig) is dict and type(new) is dict or type(orig) is set and type(new) is set:
            orig.clear()
            orig.update(new)


class Candidate:
    """A callable stand-in for the candidate function: plain values out, plain values back."""

    def __init__(self, channel: Channel, deadline: float, call_timeout_s: float | None = None):
        self.channel = channel
        self._nonce_prefix = secrets.token_hex(8)  # unguessable per job; a counter makes each call's unique
        self.deadline = deadline
        self.call_timeout_s = call_timeout_s
        self.calls = 0
        self.abort: CandidateAbort | None = None
        self.reply_mode = "v"

    def _nonce(self) -> str:
        return f"{self._nonce_prefix}{self.calls}"

    def _fail(self, status: str, detail: str) -> CandidateAbort:
        self.abort = CandidateAbort(status, detail)
        return self.abort

    @contextlib.contextmanager
    def _channel_errors(self, what: str) -> Iterator[None]:
        """Turn a channel failure during `what` into the candidate's abort (timeout, death, bad protocol)."""
        try:
            yield
        except ChannelTimeout:
            raise self._fail("timeout", f"{what} ran past its time limit") from None
        except (ChannelClosed, OSError):
            raise self._fail("failed", f"candidate process died during {what}") from None
        except CodecError as exc:
            raise self._fail("failed", f"candidate broke the protocol: {exc}") from None

    def _exchange(self, wire: list, deadline: float, what: str) -> list:
        with self._channel_errors(what):
            return self.channel.exchange(wire, deadline)

    def _outcome(self, reply: list, args: tuple | list, mode: str) -> object:
        """The value of one call's reply (`reply` starts with its kind), or raise what the candidate raised."""
        try:
            kind = reply[0] if type(reply) is list and reply else None
            if kind == "ok" and len(reply) == 4:
                value = decode(reply[1])
                if reply[2] is not None:
                    _copy_back(args, decode(reply[2]))
                return value
            if kind == "dg" and len(reply) == 3 and mode[0] in "dr" and type(reply[1]) is str:
                return OutputDigest(reply[1])
            if kind == "exc" and len(reply) == 3:
                raise _rebuild_exception(reply[1], reply[2])
            if kind in ("big", "bad") and len(reply) == 2:
                cls, what = (OutputTooLarge, "too large to compare") if kind == "big" else (TypeError, "not plain data")
                exc = cls(f"candidate's output is {what} ({str(reply[1])[:120]})")
                setattr(exc, CANDIDATE_MARK, True)
                raise exc
        except CodecError as exc:
            raise self._fail("failed", f"candidate sent a malformed value: {exc}") from None
        raise self._fail("failed", "candidate sent an unknown reply")

    def __call__(self, *args: object, **kwargs: object) -> object:
        if self.abort is not None:
            raise self.abort
        try:
            wire = ["call", self._nonce(), encode(list(args)), encode(kwargs), self.reply_mode]
        except Unproxyable as exc:
            raise NeedsInProcess(str(exc)) from None
        self.calls += 1
        now = time.monotonic()
        deadline = self.deadline if self.call_timeout_s is None else min(self.deadline, now + self.call_timeout_s)
        reply = self._exchange(wire, deadline, f"call {self.calls}")
        return self._outcome(reply[1:], args, self.reply_mode)

    def call_many(self, arg_lists: list[list], modes: list[str],
                  limits: list[float | None]) -> Iterator[tuple[bool, object, float]]:
        """Several calls sent in one message (evalplus input lists), answered one by one as they finish:
        yields (True, value, seconds) or (False, exception, seconds), seconds as the candidate measured.

        Each answer must arrive within its own limit after the previous one, so a per-input limit holds
        exactly as if the calls had been made one at a time; the candidate just never waits for us.
        """
        if self.abort is not None:
            raise self.abort
        nonce = self._nonce()
        wire = ["many", nonce, [encode(list(a)) for a in arg_lists], modes]
        with self._channel_errors(f"call {self.calls + 1}"):
            write_frame(self.channel.req_w, wire, self.deadline)
        for index, (args, mode, limit) in enumerate(zip(arg_lists, modes, limits, strict=True)):
            self.calls += 1
            deadline = self.deadline if limit is None else min(self.deadline, time.monotonic() + limit)
            with self._channel_errors(f"call {self.calls}"):
                reply = self.channel.replies.read(deadline)
            if type(reply) is not list or reply[:3] != [nonce, "item", index]:
                raise self._fail("failed", "candidate sent a reply out of order")
            item = reply[3:]
            seconds = item[-1] if item and type(item[-1]) is float else 0.0
            try:
                yield True, self._outcome(item, args, mode), seconds
            except Exception as exc:
                yield False, exc, seconds


def load_program(channel: Channel, mode: str, program: str, entry_point: str, deadline: float) -> Verdict | None:
    """Send the program to the candidate process; a Verdict when it is already decided (load failed)."""
    try:
        reply = channel.exchange(["load", secrets.token_hex(8), mode, program, entry_point], deadline)
    except ChannelTimeout:
        return Verdict("timeout", "program did not finish loading in time")
    except (ChannelClosed, OSError):
        return Verdict("failed", "candidate process died while loading the program")
    except CodecError as exc:
        return Verdict("failed", f"candidate broke the protocol: {exc}")
    kind = reply[1]
    if kind in ("ready", "done"):
        return None
    if kind == "exc" and len(reply) == 4:
        return Verdict("failed", f"program raised {reply[2]}: {str(reply[3])[:200]}")
    if kind == "missing":
        return Verdict("failed", f"program does not define {entry_point}")
    return Verdict("failed", "candidate sent an unknown reply")


def _assert_detail(exc: BaseException, test: str) -> str:
    lines = test.splitlines()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == "<test>" and frame.lineno and 0 < frame.lineno <= len(lines):
            return lines[frame.lineno - 1].strip()[:200]
    return ""


@functools.lru_cache(maxsize=512)
def _compiled(source: str, filename: str) -> types.CodeType:
    """Benchmark code compiled once per worker (n samples of a problem share its test)."""
    return compile(source, filename, "exec", dont_inherit=True)


def run_script(channel: Channel, job: dict, deadline: float) -> Verdict:
    """Run test code (HumanEval's check, MBPP's asserts) with the entry point bound to the proxy."""
    entry_point = job["entry_point"]
    namespace: dict = {"__name__": "__judge__"}
    try:
        exec(_compiled(job.get("context") or "", "<context>"), namespace)
    except Exception as exc:
        return Verdict("error", f"the benchmark's context code raised {type(exc).__name__}: {exc}")
    candidate = Candidate(channel, deadline, job.get("call_timeout_s"))
    namespace[entry_point] = candidate
    test = job["test"]
    try:
        exec(_compiled(test, "<test>"), namespace)
    except CandidateAbort:
        pass
    except NeedsInProcess:
        raise
    except NameError as exc:
        if candidate.abort is None and not getattr(exc, CANDIDATE_MARK, False):
            raise NeedsInProcess(f"test uses a name the judge does not have: {exc}") from None
        return Verdict("failed", f"NameError: {exc}")
    except AssertionError as exc:
        if candidate.abort is None:
            where = _assert_detail(exc, test)
            return Verdict("failed", f"assertion failed: {where}" if where else "assertion failed")
    except BaseException as exc:  # the test's own error, or the candidate's exception passed through
        if candidate.abort is None:
            return Verdict("failed", f"{type(exc).__name__}: {str(exc)[:200]}")
    if candidate.abort is not None:
        return Verdict(candidate.abort.status, candidate.abort.detail)
    if candidate.calls == 0:
        return Verdict("failed", "the test never called the candidate")
    return Verdict("passed")


# -- evalplus semantics for input/output tests ---------------------------------------------------

MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
MBPP_OUTPUT_SET_EQ_TASKS = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                            "larg_nnum", "intersection_array", "find_dissimilar", "Diff")


def _poly(xs: list, x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def _surface_area(base_edge: float, height: float) -> float:
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def _digit_distance_nums(num1: int, num2: int) -> int:
    a, b = str(num1), str(num2)
    width = max(len(a), len(b))
    return sum(abs(int(x) - int(y)) for x, y in zip(a.zfill(width), b.zfill(width), strict=True))


def is_floats(x: object) -> bool:
    if isinstance(x, float):
        return True
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(i, float) for i in x)


def _number(x: object) -> bool:
    return type(x) in (int, float, bool, complex)


def allclose(a: object, b: object, rtol: float, atol: float) -> bool:
    """numpy.allclose on plain values: elementwise |a-b| <= atol + rtol*|b|, scalars broadcast."""
    if _number(a) and _number(b):
        if a == b:
            return True
        try:
            return abs(a - b) <= atol + rtol * abs(b)  # nan compares False, as in numpy
        except OverflowError:
            return False
    seq = (list, tuple)
    if type(a) in seq and type(b) in seq:
        if len(a) == 1 and len(b) != 1:
            return all(allclose(a[0], y, rtol, atol) for y in b)
        if len(b) == 1 and len(a) != 1:
            return all(allclose(x, b[0], rtol, atol) for x in a)
        return len(a) == len(b) and all(allclose(x, y, rtol, atol) for x, y in zip(a, b, strict=True))
    if type(a) in seq and _number(b):
        return all(allclose(x, b, rtol, atol) for x in a)
    if _number(a) and type(b) in seq:
        return all(allclose(a, y, rtol, atol) for y in b)
    return False


class _Tolerance:
    """evalplus's `atol`, which becomes 1e-6 for the rest of the task once a float output is seen."""

    def __init__(self, atol: float):
        self.atol = atol


def outputs_match(out: object, exp: object, inp: list, tol: _Tolerance, dataset: str, entry_point: str) -> bool:
    """evalplus `unsafe_execute`'s comparison of one output, special oracles included."""
    if type(exp) is Digest:  # a large exact-match output (never used for float or special-oracle tasks)
        return type(out) is OutputDigest and out.hex == exp.hex
    try:
        exact = out == exp
        if dataset == "mbpp":
            if entry_point == "are_equivalent":
                exact = True
            elif entry_point == "sum_div":
                exact = exact or out == 0
            elif entry_point == "surface_Area":
                exact = exact or abs(out - _surface_area(*inp)) <= tol.atol
            elif entry_point == "digit_distance_nums":
                exact = exact or out == _digit_distance_nums(*inp)
            elif entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
                exact = set(out) == set(exp)
            elif entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
                exact = out == exp  # the candidate side already reduced the output to "is not None"
        if dataset == "humaneval" and entry_point == "find_zero":
            return abs(_poly(*inp, out)) <= tol.atol
        if tol.atol == 0 and is_floats(exp):
            tol.atol = 1e-6
        if not exact and tol.atol != 0:
            if type(out) is not type(exp):
                return False
            if isinstance(exp, (list, tuple)) and len(out) != len(exp):
                return False
            return allclose(out, exp, 1e-07, tol.atol)
        return bool(exact)
    except Exception:
        return False


#: Inputs per round trip in input/output tests (one call each would cost a round trip per input).
BATCH_CALLS = 32


def run_io(channel: Channel, job: dict, deadline: float) -> Verdict:
    """Call the candidate on every input and compare with the expected outputs (stop at the first miss)."""
    spec = job["io"]
    inputs, expected = decode(spec["inputs"]), decode(spec["expected"], allow_digest=True)
    limits = spec.get("time_limits") or [None] * len(inputs)
    dataset, entry_point = spec.get("dataset", ""), job["entry_point"]
    candidate = Candidate(channel, deadline)
    not_none = dataset == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS
    tol = _Tolerance(float(spec.get("atol") or 0.0))
    todo = [i for i in range(len(inputs)) if type(expected[i]) is not Skipped]
    for start in range(0, len(todo), BATCH_CALLS):
        batch = todo[start:start + BATCH_CALLS]
        modes = ["nn" if not_none else "d" if type(expected[i]) is Digest else "v" for i in batch]
        outcomes = candidate.call_many([inputs[i] for i in batch], modes, [limits[i] for i in batch])
        try:
            for i, (ok, out, _) in zip(batch, outcomes, strict=False):
                if not ok:
                    return Verdict("failed", f"input {i}: raised {type(out).__name__}: {str(out)[:150]}")
                if not outputs_match(out, expected[i], inputs[i], tol, dataset, entry_point):
                    return Verdict("failed", f"input {i}: wrong output")
        except CandidateAbort as abort:
            return Verdict(abort.status, f"input {todo[candidate.calls - 1]}: {abort.detail}")
    return Verdict("passed")


def run_calls(channel: Channel, job: dict, deadline: float) -> tuple[Verdict, list, list]:
    """Call the (reference) program on every input and return its outputs and per-call seconds."""
    spec = job["io"]
    inputs = decode(spec["inputs"])
    candidate = Candidate(channel, deadline)
    digest_over = spec.get("digest_over")
    mode = "nn" if spec.get("not_none") else "v" if digest_over is None else f"r{int(digest_over)}"
    outputs, times = [], []
    for start in range(0, len(inputs), BATCH_CALLS):
        batch = inputs[start:start + BATCH_CALLS]
        try:
            outcomes = list(candidate.call_many(batch, [mode] * len(batch), [None] * len(batch)))
        except CandidateAbort as abort:
            return Verdict(abort.status, f"inputs from {start}: {abort.detail}"), [], []
        for i, (ok, out, seconds) in enumerate(outcomes, start):
            if not ok and type(out) is not OutputTooLarge:
                return Verdict("failed", f"input {i}: raised {type(out).__name__}: {str(out)[:150]}"), [], []
            times.append(seconds)
            if not ok:
                outputs.append(["-"])  # too large even to digest: the input is skipped
            elif type(out) is OutputDigest:
                outputs.append(["#", out.hex])
            else:
                outputs.append(encode_reference(out, digest_over))
    return Verdict("passed"), outputs, times
