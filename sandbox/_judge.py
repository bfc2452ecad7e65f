"""The trusted judge: run the benchmark's test against a proxy of the candidate, decide the verdict.

The judge lives in the worker, next to (never inside) the candidate process. The test code and the
expected values stay here; the candidate only ever sees the arguments of each call. A pass is decided
here, after every test ran: `check(candidate)` / the asserts returned normally, or every input/output
pair matched the job's `OutputCheck` (comparison rules sent as data: the judge knows no benchmark).
The candidate's exit code, stdout and files are ignored.

The judge works on the candidate's values, so it has limits of its own (`JudgeLimits`): a reply may be
at most `REPLY_BYTES` long and hold `REPLY_ITEMS` items (checked before and while decoding), the
judge's work on a job has a deadline (the job's plus `judge_grace_s`) and an address-space budget.
A sample that exceeds one fails, and its reason names the limit.

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
import resource
import secrets
import signal
import sys
import time
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sandbox._codec import (
    MAX_ITEMS,
    MAX_MESSAGE_BYTES,
    CodecError,
    Digest,
    Skipped,
    TooLarge,
    Unproxyable,
    check_hash_spread,
    clean_text,
    decode,
    encode,
    encode_reference,
)
from sandbox._frames import ChannelClosed, ChannelTimeout, FrameReader, write_frame

#: Exception types a candidate may raise through the proxy (so `pytest.raises`-style tests work).
_PASSTHROUGH = {
    name: cls for name, cls in vars(builtins).items()
    if isinstance(cls, type) and issubclass(cls, Exception) and cls not in (StopIteration, StopAsyncIteration)
}
CANDIDATE_MARK = "__evalkit_candidate__"
#: Caps on one reply of a candidate (a test's call): bytes on the wire and items once decoded.
REPLY_BYTES = 8 * 1024 * 1024
REPLY_ITEMS = 1_000_000
#: The judge's own address-space budget per job, on top of what it held when the job arrived.
JUDGE_MEMORY_MB = 1024
#: Seed of the judge's `random` before each job: tests that draw inputs (HumanEval/53) see the same
#: ones whatever ran before in this worker, so no earlier sample can steer a later one's inputs.
JUDGE_RANDOM_SEED = 0


def judge_grace_s(timeout_s: float) -> float:
    """How long past a job's deadline the judge may still work on what the candidate sent."""
    return max(1.0, 0.1 * timeout_s)


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


class JudgeLimitExceeded(BaseException):
    """The judge's deadline passed while it still worked on this job (raised from SIGALRM)."""


class SetupFailed(Exception):
    """The sandbox could not set up a candidate process (an infrastructure failure, never a verdict)."""


class NeedsInProcess(Exception):
    """The test cannot run against a proxy (it passes non-plain values or uses solution-defined names)."""


@dataclass
class Verdict:
    status: str  # passed | failed | timeout | error
    detail: str = ""
    trust: str = "strong"


def _vsz_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class JudgeLimits:
    """The judge's own limits on one job, enforced while `enforced()` is active.

    Deadline: SIGALRM at `deadline` (and every 50 ms after) raises JudgeLimitExceeded between
    bytecodes; work stuck inside one C call is stopped by the host, which kills the worker.
    Memory: RLIMIT_AS soft limit at the current size plus `memory_mb`, so the judge's allocations
    on the candidate's values end in MemoryError instead of the machine's memory.
    `exceeded` is the reason once a limit was hit; it overrides whatever verdict the test reached.
    """

    def __init__(self, deadline: float, memory_mb: int = JUDGE_MEMORY_MB):
        self.deadline = deadline
        self.memory_mb = memory_mb
        self.exceeded: str | None = None
        self._active = False

    def memory_exceeded(self) -> str:
        self.exceeded = self.exceeded or f"judge limit: the judge's memory limit ({self.memory_mb} MB) was exceeded"
        return self.exceeded

    def _alarm(self, signum: int, frame: object) -> None:
        if self._active:
            self.exceeded = self.exceeded or "judge limit: the judge's deadline passed while it was still judging"
            raise JudgeLimitExceeded(self.exceeded)

    @contextlib.contextmanager
    def enforced(self) -> Iterator[None]:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        budget = _vsz_bytes() + self.memory_mb * 1024 * 1024
        previous = signal.signal(signal.SIGALRM, self._alarm)
        with contextlib.suppress(ValueError, OSError):
            soft_limit = budget if hard == resource.RLIM_INFINITY else min(budget, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft_limit, hard))
        self._active = True
        try:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, self.deadline - time.monotonic()), 0.05)
            yield
        finally:
            self._active = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
            signal.signal(signal.SIGALRM, previous)


class Channel:
    """The judge's ends of the candidate's two pipes, how to kill it, and what a reply may hold.

    `explain_death` (set by the worker) says why the candidate died when the kernel knows (its memory limit).
    """

    def __init__(self, pid: int, req_w: int, resp_r: int, trusted: bool = False):
        self.pid, self.req_w, self.resp_r = pid, req_w, resp_r
        self.replies = FrameReader(resp_r)
        self.reply_bytes = MAX_MESSAGE_BYTES if trusted else REPLY_BYTES
        self.reply_items = MAX_ITEMS if trusted else REPLY_ITEMS
        self.explain_death: Callable[[], str] = lambda: ""
        os.set_blocking(req_w, False)

    def read(self, deadline: float) -> object:
        return self.replies.read(deadline, self.reply_bytes)

    def exchange(self, message: list, deadline: float) -> list:
        write_frame(self.req_w, message, deadline)
        reply = self.read(deadline)
        if type(reply) is not list or len(reply) < 2 or reply[0] != message[1] or type(reply[1]) is not str:
            raise CodecError("reply does not answer the request")
        return reply

    def decode(self, wire: object) -> object:
        return decode(wire, max_items=self.reply_items)


def _rebuild_exception(name: object, message: object) -> Exception:
    name, text = clean_text(name, 100), clean_text(message, 300)
    cls = _PASSTHROUGH.get(name)
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


def _limit_detail(exc: TooLarge, what: str) -> str:
    return f"judge limit: the candidate's {what} is too large ({clean_text(str(exc), 160)})"


class Candidate:
    """A callable stand-in for the candidate function: plain values out, plain values back."""

    def __init__(self, channel: Channel, deadline: float, call_timeout_s: float | None = None,
                 limits: JudgeLimits | None = None):
        self.channel = channel
        self._nonce_prefix = secrets.token_hex(8)  # unguessable per job; a counter makes each call's unique
        self.deadline = deadline
        self.call_timeout_s = call_timeout_s
        self.limits = limits
        self.calls = 0
        self.abort: CandidateAbort | None = None
        self.reply_mode = "v"

    def _nonce(self) -> str:
        return f"{self._nonce_prefix}{self.calls}"

    def _fail(self, status: str, detail: str) -> CandidateAbort:
        self.abort = CandidateAbort(status, detail)
        return self.abort

    def _channel_failure(self, exc: BaseException, what: str) -> CandidateAbort:
        """The candidate's abort for a channel failure during `what` (timeout, death, bad protocol)."""
        if isinstance(exc, ChannelTimeout):
            return self._fail("timeout", f"{what} ran past its time limit")
        if isinstance(exc, (ChannelClosed, OSError)):
            why = self.channel.explain_death()
            return self._fail("failed", f"candidate process died during {what}{': ' + why if why else ''}")
        if isinstance(exc, TooLarge):
            return self._fail("failed", _limit_detail(exc, f"reply to {what}"))
        return self._fail("failed", f"candidate broke the protocol: {clean_text(str(exc), 160)}")

    def _exchange(self, wire: list, deadline: float) -> list:
        try:
            return self.channel.exchange(wire, deadline)
        except (ChannelTimeout, ChannelClosed, OSError, CodecError) as exc:
            raise self._channel_failure(exc, f"call {self.calls}") from None

    def _outcome(self, reply: list, args: tuple | list, mode: str) -> object:
        """The value of one call's reply (`reply` starts with its kind), or raise what the candidate raised."""
        try:
            kind = reply[0] if type(reply) is list and reply else None
            if kind == "ok" and len(reply) == 4:
                value = self.channel.decode(reply[1])
                if reply[2] is not None:
                    _copy_back(args, self.channel.decode(reply[2]))
                return value
            if kind == "dg" and len(reply) == 3 and mode[0] in "dr" and type(reply[1]) is str:
                return OutputDigest(reply[1][:64])
            if kind == "exc" and len(reply) == 3:
                raise _rebuild_exception(reply[1], reply[2])
            if kind in ("big", "bad") and len(reply) == 2:
                cls, what = (OutputTooLarge, "too large to compare") if kind == "big" else (TypeError, "not plain data")
                exc = cls(f"candidate's output is {what} ({clean_text(reply[1], 120)})")
                setattr(exc, CANDIDATE_MARK, True)
                raise exc
        except TooLarge as exc:
            raise self._fail("failed", _limit_detail(exc, "return value")) from None
        except CodecError as exc:
            raise self._fail("failed", f"candidate sent a malformed value: {clean_text(str(exc), 160)}") from None
        except MemoryError:
            detail = self.limits.memory_exceeded() if self.limits else "judge limit: out of memory decoding a reply"
            raise self._fail("failed", detail) from None
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
        reply = self._exchange(wire, deadline)
        return self._outcome(reply[1:], args, self.reply_mode)

    def call_many(self, arg_lists: list[list], modes: list[str],
                  limits: list[float | None]) -> Iterator[tuple[bool, object, float]]:
        """Several calls sent in one message (input lists), answered one by one as they finish:
        yields (True, value, seconds) or (False, exception, seconds), seconds as the candidate measured.

        Each answer must arrive within its own limit after the previous one, so a per-input limit holds
        exactly as if the calls had been made one at a time; the candidate just never waits for us.
        """
        if self.abort is not None:
            raise self.abort
        nonce = self._nonce()
        wire = ["many", nonce, [encode(list(a)) for a in arg_lists], modes]
        try:
            write_frame(self.channel.req_w, wire, self.deadline)
        except (ChannelTimeout, ChannelClosed, OSError, CodecError) as exc:
            raise self._channel_failure(exc, f"call {self.calls + 1}") from None
        for index, (args, mode, limit) in enumerate(zip(arg_lists, modes, limits, strict=True)):
            self.calls += 1
            deadline = self.deadline if limit is None else min(self.deadline, time.monotonic() + limit)
            try:
                reply = self.channel.read(deadline)
            except (ChannelTimeout, ChannelClosed, OSError, CodecError) as exc:
                raise self._channel_failure(exc, f"call {self.calls}") from None
            if type(reply) is not list or reply[:3] != [nonce, "item", index]:
                raise self._fail("failed", "candidate sent a reply out of order")
            item = reply[3:]
            seconds = item[-1] if item and type(item[-1]) is float and math.isfinite(item[-1]) else 0.0
            try:
                yield True, self._outcome(item, args, mode), seconds
            except Exception as exc:
                yield False, exc, seconds


def load_program(channel: Channel, mode: str, program: str, entry_point: str, deadline: float) -> Verdict | None:
    """Send the program to the candidate process; a Verdict when it is already decided (load failed)."""
    nonce = secrets.token_hex(8)
    try:
        write_frame(channel.req_w, ["load", nonce, mode, program, entry_point], deadline)
        # The child's first frame is written by the sandbox's own code before it reads the program.
        up = channel.read(deadline)
        if type(up) is list and len(up) == 2 and up[0] == "setup-failed":
            raise SetupFailed(f"sandbox setup failed in the candidate process: {clean_text(up[1], 200)}")
        if up != ["up"]:
            return Verdict("error", "the candidate process did not start")
        reply = channel.read(deadline)
    except ChannelTimeout:
        return Verdict("timeout", "program did not finish loading in time")
    except (ChannelClosed, OSError):
        why = channel.explain_death()
        return Verdict("failed", f"candidate process died while loading the program{': ' + why if why else ''}")
    except TooLarge as exc:
        return Verdict("failed", _limit_detail(exc, "reply to loading the program"))
    except CodecError as exc:
        return Verdict("failed", f"candidate broke the protocol: {clean_text(str(exc), 160)}")
    if type(reply) is not list or len(reply) < 2 or reply[0] != nonce or type(reply[1]) is not str:
        return Verdict("failed", "candidate broke the protocol: reply does not answer the request")
    kind = reply[1]
    if kind in ("ready", "done") and len(reply) == 2:
        return None
    if kind == "exc" and len(reply) == 4:
        return Verdict("failed", f"program raised {clean_text(reply[2], 100)}: {clean_text(reply[3], 200)}")
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


def reset_state() -> None:
    """The judge's process state that a test can read and an earlier job could have moved."""
    random = sys.modules.get("random")
    if random is not None:
        random.seed(JUDGE_RANDOM_SEED)


def run_script(channel: Channel, job: dict, deadline: float, limits: JudgeLimits | None = None) -> Verdict:
    """Run test code (HumanEval's check, MBPP's asserts) with the entry point bound to the proxy."""
    entry_point = job["entry_point"]
    namespace: dict = {"__name__": "__judge__"}
    reset_state()
    try:
        exec(_compiled(job.get("context") or "", "<context>"), namespace)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {clean_text(str(exc), 200)}"
        return Verdict("error", f"the benchmark's context code raised {detail}")
    candidate = Candidate(channel, deadline, job.get("call_timeout_s"), limits)
    namespace[entry_point] = candidate
    test = job["test"]
    try:
        exec(_compiled(test, "<test>"), namespace)
    except CandidateAbort:
        pass
    except (NeedsInProcess, JudgeLimitExceeded):
        raise
    except MemoryError:
        if limits is None:
            raise
        return Verdict("failed", limits.memory_exceeded())
    except NameError as exc:
        if candidate.abort is None and not getattr(exc, CANDIDATE_MARK, False):
            raise NeedsInProcess(f"test uses a name the judge does not have: {exc}") from None
        return Verdict("failed", f"NameError: {clean_text(str(exc), 200)}")
    except AssertionError as exc:
        if candidate.abort is None:
            where = _assert_detail(exc, test)
            return Verdict("failed", f"assertion failed: {where}" if where else "assertion failed")
    except BaseException as exc:  # the test's own error, or the candidate's exception passed through
        if candidate.abort is None:
            return Verdict("failed", f"{type(exc).__name__}: {clean_text(str(exc), 200)}")
    if candidate.abort is not None:
        return Verdict(candidate.abort.status, candidate.abort.detail)
    if candidate.calls == 0:
        return Verdict("failed", "the test never called the candidate")
    return Verdict("passed")


# -- input/output tests: the comparison rules arrive as data (see `result.OutputCheck`) -------------

CHECK_KINDS = ("equal", "set_equal", "not_none", "any", "polynomial_root")


def _poly(xs: list, x: float) -> float:
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


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


class OutputCheck:
    """The wire form of `result.OutputCheck`, decoded once per job."""

    def __init__(self, wire: dict):
        self.kind = wire.get("kind", "equal")
        if self.kind not in CHECK_KINDS:
            raise ValueError(f"unknown output check {self.kind!r}")
        tolerances = wire.get("tolerances", 0.0)
        self.tolerances = [float(t) for t in tolerances] if type(tolerances) is list else float(tolerances)
        self.rtol = float(wire.get("rtol", 0.0))
        alternatives = wire.get("alternatives")
        self.alternatives = None if alternatives is None else decode(alternatives)
        atol = wire.get("alternative_atol")
        self.alternative_atol = None if atol is None else float(atol)

    def tolerance(self, index: int) -> float:
        return self.tolerances[index] if type(self.tolerances) is list else self.tolerances

    def matches(self, out: object, exp: object, args: list, index: int) -> bool:
        """Whether one output passes: the rule of the check's kind, then its alternatives, then closeness."""
        if type(exp) is Digest:  # a large exact-match output
            return type(out) is OutputDigest and out.hex == exp.hex
        try:
            tol = self.tolerance(index)
            if self.kind == "any":
                return True
            if self.kind == "polynomial_root":
                return abs(_poly(args[0], out)) <= tol
            if self.kind == "set_equal":
                if type(out) in (list, tuple):
                    check_hash_spread(out)
                exact = set(out) == set(exp)
            else:
                exact = out == exp
            if not exact and self.alternatives is not None:
                alt = self.alternatives[index]
                exact = out == alt if self.alternative_atol is None else abs(out - alt) <= self.alternative_atol
            if not exact and tol != 0:
                if type(out) is not type(exp):
                    return False
                if isinstance(exp, (list, tuple)) and len(out) != len(exp):
                    return False
                return allclose(out, exp, self.rtol, tol)
            return bool(exact)
        except (MemoryError, JudgeLimitExceeded):
            raise
        except Exception:
            return False


#: Inputs per round trip in input/output tests (one call each would cost a round trip per input).
BATCH_CALLS = 32


def run_io(channel: Channel, job: dict, deadline: float, limits: JudgeLimits | None = None) -> Verdict:
    """Call the candidate on every input and compare with the expected outputs (stop at the first miss)."""
    spec = job["io"]
    inputs, expected = decode(spec["inputs"]), decode(spec["expected"], allow_digest=True)
    time_limits = spec.get("time_limits") or [None] * len(inputs)
    check = OutputCheck(spec.get("check") or {})
    reset_state()
    candidate = Candidate(channel, deadline, limits=limits)
    todo = [i for i in range(len(inputs)) if type(expected[i]) is not Skipped]
    for start in range(0, len(todo), BATCH_CALLS):
        batch = todo[start:start + BATCH_CALLS]
        modes = ["nn" if check.kind == "not_none" else "d" if type(expected[i]) is Digest else "v" for i in batch]
        outcomes = candidate.call_many([inputs[i] for i in batch], modes, [time_limits[i] for i in batch])
        try:
            for i, (ok, out, _) in zip(batch, outcomes, strict=False):
                if not ok:
                    return Verdict("failed", f"input {i}: raised {type(out).__name__}: {clean_text(str(out), 150)}")
                if not check.matches(out, expected[i], inputs[i], i):
                    return Verdict("failed", f"input {i}: wrong output")
        except CandidateAbort as abort:
            return Verdict(abort.status, f"input {todo[candidate.calls - 1]}: {abort.detail}")
    return Verdict("passed")


def run_calls(channel: Channel, job: dict, deadline: float,
              limits: JudgeLimits | None = None) -> tuple[Verdict, list, list]:
    """Call the (reference) program on every input and return its outputs and per-call seconds."""
    spec = job["io"]
    inputs = decode(spec["inputs"])
    candidate = Candidate(channel, deadline, limits=limits)
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
                return Verdict("failed", f"input {i}: raised {type(out).__name__}: {clean_text(str(out), 150)}"), [], []
            times.append(seconds)
            if not ok:
                outputs.append(["-"])  # too large even to digest: the input is skipped
            elif type(out) is OutputDigest:
                outputs.append(["#", out.hex])
            else:
                outputs.append(encode_reference(out, digest_over))
    return Verdict("passed"), outputs, times
