"""The wire decoder on its own (no sandbox): whatever a child sends is a value or a WireError.

A child shares its process with student code, so every byte it sends may be
hostile: malformed JSON, numbers no float holds, arrays of 65 dimensions,
values nested a thousand deep, messages larger than the limit. The grader's
decoder must turn each into :class:`WireError` (the student's error), never
into another exception (an internal grader error).
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.inside import wire
from grader.inside.wire import ArrayValue, Other, WireError, decode_message, decode_value, encode_value


def array(shape, data, dtype="float64", kind="ndarray"):
    """An encoded array; a list of numbers is packed as an honest encoder packs it, anything else is sent as is."""
    if isinstance(data, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data):
        data = wire.pack_array(np.array(data, dtype=np.float64))
    return {"type": kind, "dtype": dtype, "shape": shape, "data": data}


# ---------------------------------------------------------------- what honest peers send


def test_values_survive_the_round_trip():
    a = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    decoded = decode_value(json.loads(json.dumps(encode_value((a, 0.5, None, [1, 2], np.float32(2.5))))))
    got, number, nothing, pair, scalar = decoded
    assert isinstance(got, ArrayValue) and got.kind == "ndarray" and got.dtype == "float64"
    assert np.array_equal(got.array, a) and got.array.shape == (3, 4)
    assert (number, nothing, pair, scalar) == (0.5, None, (1.0, 2.0), 2.5)


def test_non_finite_values_and_every_bit_travel():
    values = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 0.1 + 0.2, np.float32(0.1)])
    body = wire.encode_message({"value": encode_value(values), "number": encode_value(np.nan)})
    got = decode_value(decode_message(body)["value"]).array
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == -np.inf
    assert np.array_equal(got[3:], values[3:]) and np.signbit(got[3])
    assert math.isnan(decode_value(decode_message(body)["number"]))  # a number: the JSON extension NaN


def test_arrays_travel_packed():
    encoded = encode_value(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert encoded["data"] == wire.pack_array(np.arange(6.0)) and isinstance(encoded["data"], str)
    assert len(wire.encode_message(encode_value(np.random.default_rng(0).random(1000)))) < 11_000  # not 20 bytes a value


def test_decoded_arrays_are_plain_read_only_float64():
    got = decode_value(array([2], [1, 2], dtype="int64"))
    assert type(got.array) is np.ndarray and got.array.dtype == np.float64 and got.dtype == "int64"
    with pytest.raises(ValueError):
        got.array[0] = 5.0  # a cached answer cannot be changed by whoever reads it


def test_the_encoder_reports_what_it_cannot_ship_as_other():
    assert encode_value(10**400) == {"type": "other", "name": "integer too large for a float"}
    assert encode_value({"a": 1}) == {"type": "other", "name": "dict"}
    assert encode_value(list(range(17))) == {"type": "other", "name": "list"}
    assert encode_value(np.zeros(wire.MAX_ELEMENTS + 1))["type"] == "other"
    assert encode_value(np.array(["a"]))["name"] == "array of dtype str32"
    nested: object = 1.0
    for _ in range(6):
        nested = (nested,)
    assert "deeply nested value" in json.dumps(encode_value(nested))


# ---------------------------------------------------------------- malformed messages


@pytest.mark.parametrize("body, reason", [
    (b"\xff\xfe", "utf-8"),
    (b"{not json", "malformed message"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"text"', "must be a JSON object"),
    (b'{"value": ' + b"1" * 400 + b"}", "an integer of 400 digits"),  # 10**400: no float holds it
    (b'{"value": ' + b"9" * 5000 + b"}", "an integer of 5000 digits"),  # beyond int()'s own 4300-digit limit
    (b'{"value": -' + b"9" * 31 + b"}", "an integer of 31 digits"),
    (b"[" * 100_000 + b"]" * 100_000, "malformed message"),  # recursion in the JSON parser
    (b'{"data": [' + b"0," * wire.MAX_MESSAGE_VALUES + b"0]}", "more than 3100000 values"),  # 1 GB to parse
])
def test_malformed_messages_are_wire_errors(body, reason):
    with pytest.raises(WireError, match=reason):
        decode_message(body)


def test_a_huge_float_literal_reads_as_infinity():
    assert decode_message(b'{"value": 1e400}') == {"value": math.inf}


def test_receive_message_refuses_an_oversized_message_before_reading_it():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(struct.pack(">I", 1 << 30))  # claims 1 GiB, sends nothing more
        with pytest.raises(WireError, match="exceeds the limit of 1024"):
            wire.receive_message(ours, 1024)


def test_receive_message_reads_a_framed_message_and_sees_the_peer_close():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        wire.send_message(theirs, {"ok": True})
        theirs.sendall(struct.pack(">I", 10) + b'{"ok"')  # a message cut short
        theirs.shutdown(socket.SHUT_WR)
        assert wire.receive_message(ours, 1024) == {"ok": True}
        with pytest.raises(EOFError):
            wire.receive_message(ours, 1024)


# ---------------------------------------------------------------- malformed values


@pytest.mark.parametrize("encoded, reason", [
    ([1, 2], "must be an object"),
    ({"type": "mystery"}, "unknown value type 'mystery'"),
    ({"type": ["x"] * 1000}, "unknown value type"),
    ({"type": "number", "value": "1"}, "a number must hold a number"),
    ({"type": "number", "value": True}, "a number must hold a number"),
    ({"type": "number"}, "a number must hold a number"),
    ({"type": "tuple", "items": {"a": 1}}, "a tuple must hold a list"),
    ({"type": "tuple", "items": [{"type": "none"}] * 17}, "more than 16 items"),
    (array([2], [1.0, 2.0], dtype="complex128"), "unsupported dtype 'complex128'"),
    (array([2], [1.0, 2.0], dtype=["float64"]), "unsupported dtype"),
    (array([1] * 65, [1.0]), "malformed shape"),  # NumPy itself refuses 65 dimensions
    (array([1] * 33, [1.0]), "malformed shape"),
    (array([0, 10**20], []), "malformed shape"),  # no data, but no array of that shape exists
    (array([-1, -2], [1.0, 2.0]), "malformed shape"),
    (array([2.0], [1.0, 2.0]), "malformed shape"),
    (array([True, True], [1.0]), "malformed shape"),
    (array("3", [1.0, 2.0, 3.0]), "malformed shape"),
    (array([1000, 1001], [0.0]), "elements"),  # more than MAX_ELEMENTS
    (array([3], [1.0, 2.0]), "data does not match the shape"),
    (array([2], "12"), "data does not match the shape"),
    (array([2], wire.pack_array(np.ones(2)) + "===="), "data does not match the shape"),
    (array([2], "!" * 24), "array data must be base64 text"),
    (array([2], "é" * 24), "array data must be base64 text"),
    (array([2], "A" * 21 + "==="), "array data must be base64 text"),
    (array([2], [1.0, "2"]), "array data must be base64 text"),
    (array([2], [1.0, None]), "array data must be base64 text"),
    (array([2], [1.0, 2.0][:1] + [[2.0]]), "array data must be base64 text"),
    (array([2], [1.0, True]), "array data must be base64 text"),
])
def test_malformed_values_are_wire_errors(encoded, reason):
    with pytest.raises(WireError, match=reason):
        decode_value(encoded)


def test_values_nested_deeper_than_the_encoder_sends_are_wire_errors():
    nested: object = 1.0
    for _ in range(10):
        nested = (nested,)
    value = json.loads(json.dumps(encode_value(nested)))
    assert decode_value(value) is not None  # as deep as an honest encoder goes
    with pytest.raises(WireError, match="nested more than"):
        decode_value({"type": "tuple", "items": [value]})


def test_other_names_are_capped_but_left_for_the_printer_to_make_safe():
    got = decode_value({"type": "other", "name": "\x1b[2J" + "x" * 10_000})
    assert isinstance(got, Other) and len(got.name) == wire.MAX_OTHER_NAME
    assert decode_value({"type": "other"}).name == "?"


def test_the_largest_allowed_array_decodes():
    got = decode_value(array([1000, 1000], [0.5] * wire.MAX_ELEMENTS))
    assert got.array.shape == (1000, 1000)


# ---------------------------------------------------------------- anything at all

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**40), 10**40) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(
        st.sampled_from(["type", "dtype", "shape", "data", "items", "value", "name", "requires_grad", "x"]),
        children, max_size=6),
    max_leaves=12,
)
tagged = st.fixed_dictionaries({
    "type": st.sampled_from(["ndarray", "tensor", "number", "tuple", "none", "other", "bogus"]),
}, optional={
    "dtype": st.sampled_from(["float64", "float32", "bool", "int64", "object", 7]),
    "shape": st.lists(st.integers(-2, 4), max_size=4) | json_values,
    "data": st.lists(st.floats() | st.integers(-(10**35), 10**35), max_size=20) | json_values,
    "items": st.lists(json_values, max_size=4),
    "value": json_values,
    "name": json_values,
})


@settings(max_examples=60, deadline=None)
@given(st.one_of(json_values, tagged))
def test_any_json_value_decodes_or_is_a_wire_error(encoded):
    try:
        decode_value(encoded)
    except WireError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps({"value": v}).encode()))
def test_any_bytes_decode_to_an_object_or_are_a_wire_error(body):
    try:
        assert isinstance(decode_message(body), dict)
    except WireError:
        pass


def test_a_deadline_bounds_a_whole_message_not_each_read():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(wire.HEADER.pack(10) + b'{"a"')  # a header and part of the body, then nothing more
        with pytest.raises(TimeoutError):
            wire.receive_message(wire.Deadline(ours, time.monotonic() + 0.2), 100)
        with pytest.raises(TimeoutError, match="deadline passed"):
            wire.receive_message(wire.Deadline(ours, time.monotonic() - 1), 100)
