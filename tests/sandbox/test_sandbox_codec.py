"""The boundary codec: plain values round-trip exactly; everything else is refused."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox import _codec

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text() | st.binary()
hashable = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
                        max_leaves=8)
values = st.recursive(
    scalars | st.complex_numbers(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(hashable, inner, max_size=3)
    | st.sets(hashable, max_size=3),
    max_leaves=20,
)


def _roundtrip(value, **kw):
    return _codec.decode(_codec.loads(_codec.dumps(_codec.encode(value, **kw))))


@given(values)
def test_plain_values_round_trip_with_exact_types(value):
    back = _roundtrip(value)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**5000, -(10**5000), range(2, 9, 3),
                                   b"\x00\xff", complex(1.5, -2), frozenset({(1, 2)})],
                         ids=["nan", "inf", "-inf", "bigint", "-bigint", "range", "bytes", "complex", "frozenset"])
def test_special_values_round_trip(value):
    back = _roundtrip(value)
    assert type(back) is type(value)
    assert back == value or (isinstance(value, float) and math.isnan(back))


def test_strict_encoding_refuses_objects_and_subclasses():
    class Sub(int):
        pass

    for value in (Sub(1), object(), len, [1, object()], {"k": lambda: 0}):
        with pytest.raises(_codec.Unproxyable):
            _codec.encode(value)


def test_lenient_encoding_yields_the_plain_value_behind_a_subclass():
    class Liar(int):
        def __eq__(self, other):
            return True

    back = _roundtrip([Liar(3), (x for x in (1, 2))], lenient=True)
    assert type(back[0]) is int and back[0] == 3
    assert list(back[1]) == [1, 2]


@pytest.mark.parametrize("payload", [b'{"a": 1}', b"NaN", b'["zz", 1]', b'["d", 1]', b"[" * 5000 + b"]" * 5000,
                                     b'["s", ["l"]]', b"not json", b'["#", "abc"]'])
def test_decoding_rejects_malformed_or_forged_messages(payload):
    with pytest.raises(_codec.CodecError):
        _codec.decode(_codec.loads(payload))


def test_digests_are_only_accepted_where_the_judge_asks_for_them():
    wire = ["l", ["#", "ab" * 32]]
    with pytest.raises(_codec.CodecError):
        _codec.decode(wire)
    assert isinstance(_codec.decode(wire, allow_digest=True)[0], _codec.Digest)


def test_canonical_digest_follows_python_equality():
    assert _codec.canonical_digest([1, True, 2.0]) == _codec.canonical_digest([1.0, 1, 2])
    assert _codec.canonical_digest({3, 1, 2}) == _codec.canonical_digest(frozenset({1, 2, 3}))
    assert _codec.canonical_digest({"a": 1, "b": 2}) == _codec.canonical_digest({"b": 2, "a": 1})
    assert _codec.canonical_digest([1, 2]) != _codec.canonical_digest((1, 2))
    assert _codec.canonical_digest("1") != _codec.canonical_digest(1)
