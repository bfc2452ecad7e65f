"""The value codec between the untrusted child and the trusted judge: plain data only, never objects.

Why: a verdict computed with `==` on an object the candidate made is a verdict the candidate made
(an `AlwaysEqual` return value, a float subclass, a list whose `__len__` lies). So values cross the
sandbox boundary as tagged JSON and are rebuilt on the judge side as *exact* built-in types: None,
bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset, range, plus a materialised
iterator. Decoding is strict (unknown shapes, JSON objects, NaN literals, huge ints, deep nesting and
oversized messages are protocol errors); encoding in the child is lenient (subclasses and numpy values
are converted to their plain value first), which is safe because whatever the child sends is data.

Decoding is also bounded, because the judge works on what it decodes: `max_items` caps the items a
value may hold (a `range` counts as its length, so `range(10**8)` is 10**8 items, not 4 numbers),
and containers whose members share one hash (a hash flood: building the set, or a test's `set(...)`
of a list, would take quadratic time) are refused. Text from the other side goes through
`clean_text` (valid UTF-8, no control characters, capped) before it becomes a reason.

This module is shipped as source into the sandbox, so it imports nothing from evalkit.
"""

from __future__ import annotations

import json
import math

MAX_DEPTH = 60
#: Integers longer than this travel as hex (HumanEval/83's reference outputs have 10^5+ digits).
BIG_INT_BITS = 12_000
#: No integer longer than this crosses (about 1.2 million decimal digits).
MAX_INT_BITS = 1 << 22
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_ITEMS = 20_000_000
#: Distinct members of one container that may share a hash before it counts as a hash flood.
MAX_SHARED_HASH = 8
#: Containers at least this long are checked for hash floods (sets and dicts: built while decoding).
HASH_CHECK_SET_ITEMS = 64
HASH_CHECK_SEQUENCE_ITEMS = 1024


class CodecError(ValueError):
    """A value cannot cross the boundary (unsupported type, too big, too deep, malformed)."""


class TooLarge(CodecError):
    """The value is too big to cross the boundary (items, message bytes)."""


class Unproxyable(CodecError):
    """The judge was asked to send a value that is not plain data (a callable, a custom object)."""


class HashFlood(TooLarge):
    """A container whose members share one hash: inserting them would take quadratic time."""


def clean_text(value: object, limit: int = 300) -> str:
    """Untrusted text made safe to record: a str (else ""), at most `limit` characters, lone surrogates
    and control characters (other than newline and tab) replaced by U+FFFD."""
    if type(value) is not str:
        return ""
    text = value[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def check_hash_spread(items: object) -> None:
    """HashFlood when more than MAX_SHARED_HASH distinct hashable members share one hash.

    Equal members (a list of zeros) are fine: only distinct values with one hash chain up.
    """
    groups: dict[int, list[object]] = {}
    for x in items:  # type: ignore[attr-defined]
        t = type(x)
        if t is list or t is dict or t is set:
            continue
        try:
            h = hash(x)
        except TypeError:
            continue
        reps = groups.get(h)
        if reps is None:
            groups[h] = [x]
        elif x not in reps:
            reps.append(x)
            if len(reps) > MAX_SHARED_HASH:
                raise HashFlood(f"more than {MAX_SHARED_HASH} distinct members share one hash (a hash flood)")


_SCALARS = (type(None), bool, int, str)


class Digest:
    """Stands for a large expected value: the sha256 of its canonical form (see `canonical_digest`).

    Only the judge's own expected values may hold digests (`decode(..., allow_digest=True)`); a
    candidate that sends the tag gets a protocol error, never a match. Equality is identity.
    """

    __slots__ = ("hex",)

    def __init__(self, hexdigest: str):
        self.hex = hexdigest

    def __repr__(self) -> str:
        return f"Digest({self.hex[:12]}...)"


class Skipped:
    """An expected value the reference could not ship (too large even to digest); the input is skipped."""

    __slots__ = ()


SKIPPED = Skipped()


class _Materialised(list):
    """An iterator's items (lenient encoding only); tagged so that the judge gets an iterator back."""


def encode(value: object, *, lenient: bool = False) -> object:
    """`value` as a JSON-able tagged structure. Strict mode accepts exact built-in types only."""
    budget = [MAX_ITEMS]
    return _enc(value, 0, lenient, budget)


def _enc(v: object, depth: int, lenient: bool, budget: list[int]) -> object:
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge("value has too many items")
    t = type(v)
    if t is int and v.bit_length() > BIG_INT_BITS:
        return ["x", format(v, "x")]  # hex: linear time, unlike decimal conversion of huge ints
    if t in _SCALARS:
        return v
    if t is float:
        return v if math.isfinite(v) else ["f", repr(v)]
    d = depth + 1
    if t is list:
        return ["l", *[_enc(x, d, lenient, budget) for x in v]]
    if t is tuple or t is _Materialised:
        return ["t" if t is tuple else "i", *[_enc(x, d, lenient, budget) for x in v]]
    if t is dict:
        out: list[object] = ["d"]
        for k, x in v.items():
            out.append(_enc(k, d, lenient, budget))
            out.append(_enc(x, d, lenient, budget))
        return out
    if t is set or t is frozenset:
        return ["s" if t is set else "S", *[_enc(x, d, lenient, budget) for x in v]]
    if t is complex:
        return ["c", _enc(v.real, d, lenient, budget), _enc(v.imag, d, lenient, budget)]
    if t is bytes:
        return ["b", v.decode("latin-1")]
    if t is range:
        return ["r", v.start, v.stop, v.step]
    if t is Digest and not lenient:
        return ["#", v.hex]
    if t is Skipped and not lenient:
        return ["-"]
    if not lenient:
        raise Unproxyable(f"{t.__name__} value cannot be sent to the sandbox")
    return _enc(_plain(v), depth + 1, lenient, budget)  # +1: a lying conversion cannot loop


def _plain(v: object) -> object:
    """Lenient conversion in the child: the plain value behind a subclass, numpy value or iterator."""
    for base in (bool, int, float, complex, str, bytes, tuple, list, frozenset, set, dict):
        if isinstance(v, base):
            if base is dict:
                return dict(dict.items(v))  # type: ignore[arg-type]
            if base in (list, tuple, set, frozenset):
                return base(base.__iter__(v))  # type: ignore[attr-defined]
            return base(v)  # type: ignore[call-arg]
    module = type(v).__module__ or ""
    if module.split(".")[0] == "numpy" and hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, bytearray):
        return bytes(v)
    if type(v).__name__ in ("dict_keys", "dict_values", "dict_items"):
        return list(v)  # type: ignore[call-overload]
    if hasattr(type(v), "__next__"):
        items = []
        for x in v:  # type: ignore[attr-defined]
            items.append(x)
            if len(items) > MAX_ITEMS:
                raise TooLarge("iterator yields too many items")
        return _Materialised(items)
    raise CodecError(f"a {type(v).__name__} object cannot leave the sandbox (only plain data can)")


def decode(obj: object, *, allow_digest: bool = False, max_items: int = MAX_ITEMS) -> object:
    """The exact built-in value of a tagged structure; CodecError on anything unexpected, TooLarge when
    it holds more than `max_items` items (a range counts as its length) or is a hash flood."""
    return _dec(obj, 0, allow_digest, [max_items])


def _spend(budget: list[int], n: int) -> None:
    budget[0] -= n
    if budget[0] < 0:
        raise TooLarge("value has too many items")


def _dec(o: object, depth: int, allow_digest: bool, budget: list[int]) -> object:
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    t = type(o)
    if t in _SCALARS or t is float:
        return o
    if t is not list or not o or type(o[0]) is not str:  # type: ignore[index]
        raise CodecError(f"malformed value of type {t.__name__}")
    tag, items = o[0], o[1:]  # type: ignore[index]
    _spend(budget, len(items))
    d = depth + 1
    try:
        if tag == "l":
            value = [_dec(x, d, allow_digest and depth == 0, budget) for x in items]
            if len(value) >= HASH_CHECK_SEQUENCE_ITEMS:
                check_hash_spread(value)
            return value
        if tag == "t":
            value = tuple([_dec(x, d, False, budget) for x in items])
            if len(value) >= HASH_CHECK_SEQUENCE_ITEMS:
                check_hash_spread(value)
            return value
        if tag == "i":
            return iter([_dec(x, d, False, budget) for x in items])
        if tag == "d":
            if len(items) % 2:
                raise CodecError("malformed dict")
            keys = [_dec(items[i], d, False, budget) for i in range(0, len(items), 2)]
            if len(keys) >= HASH_CHECK_SET_ITEMS:
                check_hash_spread(keys)
            values = [_dec(items[i], d, False, budget) for i in range(1, len(items), 2)]
            return dict(zip(keys, values, strict=True))
        if tag == "s" or tag == "S":
            members = [_dec(x, d, False, budget) for x in items]
            if len(members) >= HASH_CHECK_SET_ITEMS:
                check_hash_spread(members)
            return set(members) if tag == "s" else frozenset(members)
        if tag == "x" and len(items) == 1 and type(items[0]) is str:
            if len(items[0]) > MAX_INT_BITS // 4:
                raise TooLarge(f"integer longer than {MAX_INT_BITS} bits")
            return int(items[0], 16)
        if tag == "f" and len(items) == 1 and items[0] in ("nan", "inf", "-inf"):
            return float(items[0])
        if tag == "c" and len(items) == 2:
            re_, im = (_dec(x, d, False, budget) for x in items)
            if type(re_) is not float or type(im) is not float:
                raise CodecError("malformed complex")
            return complex(re_, im)
        if tag == "b" and len(items) == 1 and type(items[0]) is str:
            return items[0].encode("latin-1")
        if tag == "r" and len(items) == 3 and all(type(x) is int for x in items):
            value = range(*items)
            _spend(budget, len(value))  # a test may well materialise it
            return value
        if tag == "#" and allow_digest and len(items) == 1 and type(items[0]) is str:
            return Digest(items[0])
        if tag == "-" and allow_digest and not items:
            return SKIPPED
    except (TypeError, OverflowError) as exc:  # unhashable set member or dict key; a range too long for len()
        raise CodecError(f"malformed value: {str(exc)[:100]}") from None
    raise CodecError(f"unknown value tag {tag!r}")


def _reject_constant(name: str) -> object:
    raise CodecError(f"non-standard JSON constant {name}")


def _reject_object(pairs: object) -> object:
    raise CodecError("JSON objects are not part of the protocol")


# Made once: json.dumps/json.loads with options build a new encoder/decoder (and C scanner) on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_reject_object)


def dumps(message: object) -> bytes:
    """Serialise an already-encoded message (lists, strings, numbers) to bytes.

    Lone surrogates (legal in a Python str, not in UTF-8) are written as JSON escapes, so any str
    can be sent and comes back unchanged; the bytes on the wire are always valid UTF-8.
    """
    data = _ENCODER.encode(message).encode("utf-8", "backslashreplace")  # only inside JSON strings: JSON escapes
    if len(data) > MAX_MESSAGE_BYTES:
        raise TooLarge(f"message of {len(data)} bytes exceeds the {MAX_MESSAGE_BYTES} byte limit")
    return data


def loads(data: bytes) -> object:
    """Parse a message strictly: UTF-8, no JSON objects, no NaN/Infinity literals, bounded size and depth."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise CodecError("message too large")
    try:
        return _DECODER.decode(data.decode("utf-8"))
    except CodecError:
        raise
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise CodecError(f"malformed message: {str(exc)[:100]}") from None


def _canon(v: object) -> object:
    t = type(v)
    if v is None or t is str:
        return v
    if t is bool or t is int:
        return ["x", format(v, "x")] if v.bit_length() > BIG_INT_BITS else int(v)  # True == 1 == 1.0
    if t is float:
        return _canon(int(v)) if v.is_integer() else ["f", repr(v)]
    if t is complex:
        return _canon(v.real) if v.imag == 0 else ["c", _canon(v.real), _canon(v.imag)]
    if t is bytes:
        return ["b", v.decode("latin-1")]
    if t is list or t is tuple:
        return ["l" if t is list else "t", *[_canon(x) for x in v]]
    if t is set or t is frozenset:  # a set equals a frozenset with the same members
        return ["s", *sorted(json.dumps(_canon(x)) for x in v)]
    if t is dict:
        return ["d", *sorted([json.dumps(_canon(k)), _canon(x)] for k, x in v.items())]
    if t is range:
        return ["r", len(v), v.start if len(v) else 0, v.step if len(v) > 1 else 0]
    raise CodecError(f"no canonical form for {t.__name__}")


def canonical_digest(value: object) -> str:
    """sha256 of a form in which values equal under `==` (1 and 1.0, set and frozenset, dicts in any
    order) coincide; used to compare with large expected values without shipping them."""
    import hashlib

    return hashlib.sha256(json.dumps(_canon(value), separators=(",", ":")).encode()).hexdigest()


def encode_reference(value: object, digest_over: int | None) -> object:
    """A reference output for the judge: the value, or its Digest when its encoding is larger than
    `digest_over` bytes (float outputs are always kept: they are compared with a tolerance)."""
    wire = encode(value)
    if digest_over is None or is_floats(value) or len(dumps(wire)) <= digest_over:
        return wire
    return ["#", canonical_digest(value)]


def is_floats(x: object) -> bool:
    """A float, or a non-empty list/tuple of floats: outputs a check may compare with a tolerance, which
    a digest cannot (the same test as evalplus's `is_floats`)."""
    if type(x) is float:
        return True
    return type(x) in (list, tuple) and bool(x) and all(type(i) is float for i in x)  # type: ignore[union-attr]
