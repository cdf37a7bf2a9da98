"""The wire format between the grader and the sandboxed child.

Messages are JSON objects, each sent as a 4-byte big-endian length followed by
UTF-8 JSON. JSON cannot execute code when read (unlike pickle), and every
message is size-capped by the receiver.

Values (arguments and results) are encoded as tagged JSON objects:

=============  ==========================================================
``ndarray``    ``{"type": "ndarray", "dtype": "float64", "shape": [3, 4], "data": "<base64>"}``
``tensor``     same as ``ndarray`` plus ``"requires_grad": bool``
``number``     ``{"type": "number", "value": 0.5}`` (Python/NumPy scalars)
``tuple``      ``{"type": "tuple", "items": [...]}`` (tuples and lists)
``none``       ``{"type": "none"}``
``other``      ``{"type": "other", "name": "dict"}``: anything else, by type name
=============  ==========================================================

``data`` is the array's values as float64 (little-endian, C order), in
base64 (:func:`pack_array`): every value exactly, NaN and infinities
included, and no Python object per number on either side (a list of JSON
numbers cost a float object per value to write and to read, most of the
encoding's time). A ``number``'s NaN and infinities travel as the JSON
extensions ``NaN``/``Infinity`` that Python's ``json`` reads and writes.

The grader decodes what a child sends, and a child may send anything: the
decoder bounds every dimension of a value (``MAX_INTEGER_DIGITS``,
``MAX_ELEMENTS`` per array, ``MAX_DIMS``, ``MAX_ITEMS`` per tuple,
``MAX_DEPTH``) and turns whatever does not fit the format into
:class:`WireError`, never into another exception.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import socket
import struct
import time
from dataclasses import dataclass
import sys
from typing import Any

import numpy as np

HEADER = struct.Struct(">I")
MAX_ELEMENTS = 1_000_000  # a larger array is reported as "other", not shipped
MAX_DIMS = 32  # dimensions of an array (NumPy's own limit is 64, or 32 before NumPy 2)
MAX_ITEMS = 16  # items of a tuple; a longer tuple or list is reported as "other"
MAX_DEPTH = 4  # tuples inside tuples; deeper values are reported as "other"
# Values (numbers, strings...) in one message: room for the largest answer the encoder ships (Net: three
# arrays of MAX_ELEMENTS). Checked before parsing, it bounds the memory json.loads takes (~32 bytes a value).
MAX_MESSAGE_VALUES = 3 * MAX_ELEMENTS + 100_000
MAX_INTEGER_DIGITS = 30  # an integer literal in a message (sizes, seeds); longer ones are malformed
MAX_OTHER_NAME = 500  # characters of an "other" value's type name kept (a printer shows fewer, with "…")
NUMERIC_DTYPES = frozenset(
    ["float16", "float32", "float64", "int8", "int16", "int32", "int64",
     "uint8", "uint16", "uint32", "uint64", "bool", "bfloat16"]
)


class WireError(Exception):
    """The peer sent something that is not a well-formed message."""


# ---------------------------------------------------------------- framing

def encode_message(message: dict[str, Any]) -> bytes:
    """A message's body: compact UTF-8 JSON."""
    return json.dumps(message, allow_nan=True, separators=(",", ":")).encode("utf-8")


def frame(message: dict[str, Any] | bytes) -> bytes:
    """One message as sent: its length, then its body (``bytes`` are an already encoded body)."""
    body = message if isinstance(message, bytes) else encode_message(message)
    return HEADER.pack(len(body)) + body


def send_message(sock: socket.socket, message: dict[str, Any] | bytes) -> None:
    """Send one JSON message (length-prefixed); ``bytes`` are an already encoded body."""
    sock.sendall(frame(message))


def _recv_exactly(sock: socket.socket | Deadline, n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the connection")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class Deadline:
    """A read-only view of a socket whose ``recv`` fails once an overall deadline passes.

    A per-call socket timeout alone would let a peer that trickles one byte
    at a time hold the reader forever: ``receive_message(Deadline(sock,
    time.monotonic() + s), ...)`` returns within ``s`` seconds or raises
    ``TimeoutError``.
    """

    def __init__(self, connection: socket.socket, deadline: float) -> None:
        self._connection = connection
        self._deadline = deadline

    def recv(self, size: int) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        self._connection.settimeout(remaining)
        return self._connection.recv(size)


def receive_message(sock: socket.socket | Deadline, max_bytes: int) -> dict[str, Any]:
    """Receive one JSON message of at most ``max_bytes``.

    Raises ``EOFError`` when the peer closed, ``WireError`` when the message is
    too large or not a JSON object, and ``socket.timeout`` as set on ``sock``.
    """
    return _receive_rest(sock, _recv_exactly(sock, HEADER.size), max_bytes)


def receive_message_and_fds(sock: socket.socket, max_bytes: int, max_fds: int) -> tuple[dict[str, Any], list[int]]:
    """:func:`receive_message`, and the descriptors (at most ``max_fds``, close-on-exec) sent along with it."""
    head, fds, _, _ = socket.recv_fds(sock, HEADER.size, max_fds, socket.MSG_CMSG_CLOEXEC)
    if not head:
        raise EOFError("peer closed the connection")
    return _receive_rest(sock, head + _recv_exactly(sock, HEADER.size - len(head)), max_bytes), fds


def _receive_rest(sock: socket.socket | Deadline, header: bytes, max_bytes: int) -> dict[str, Any]:
    """The message whose ``header`` (its length) was read: its body, size-capped and parsed."""
    (size,) = HEADER.unpack(header)
    if size > max_bytes:
        raise WireError(f"message of {size} bytes exceeds the limit of {max_bytes}")
    return decode_message(_recv_exactly(sock, size))


def decode_message(body: bytes) -> dict[str, Any]:
    """Parse a message's body; anything but a JSON object within the format's limits is ``WireError``."""
    if body.count(b",") >= MAX_MESSAGE_VALUES:  # an upper bound on the values, at the speed of memchr
        raise WireError(f"malformed message: more than {MAX_MESSAGE_VALUES} values")
    try:
        message = _DECODER.decode(body.decode("utf-8"))
    except WireError:
        raise
    except (ValueError, RecursionError, OverflowError) as exc:  # JSONDecodeError and UnicodeDecodeError included
        raise WireError(f"malformed message: {str(exc)[:200]}") from None
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


def _parse_int(text: str) -> int:
    """JSON integers: a long one would cost quadratic time to read and overflow a float."""
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise WireError(f"malformed message: an integer of {len(text.lstrip('-'))} digits")
    return int(text)


# One decoder for every message: ``json.loads(..., parse_int=...)`` built a new one (and its scanner) per
# message: about 3.5 µs here, a third or more of the time it took to read a typical reply.
_DECODER = json.JSONDecoder(parse_int=_parse_int)


# ---------------------------------------------------------------- values

def pack_array(array: np.ndarray) -> str:
    """An array's values as the ``data`` of an encoded array: float64, little-endian, C order, base64."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f8").tobytes()).decode("ascii")


def _packed_length(size: int) -> int:
    return 4 * -(-8 * size // 3)  # base64 of 8 bytes a value, padded


def _array_payload(array: np.ndarray, dtype: str) -> dict[str, Any]:
    """Pack a plain ndarray (already in float64 or bool) under its original dtype name."""
    if dtype not in NUMERIC_DTYPES:
        return {"type": "other", "name": f"array of dtype {dtype}"}
    if array.size > MAX_ELEMENTS:
        return {"type": "other", "name": f"array with {array.size} elements"}
    return {"dtype": dtype, "shape": list(array.shape), "data": pack_array(array)}


def encode_value(value: Any, _depth: int = 0) -> dict[str, Any]:
    """Turn a value into its tagged JSON form (used on both sides)."""
    if _depth > MAX_DEPTH:
        return {"type": "other", "name": "deeply nested value"}
    if value is None:
        return {"type": "none"}
    torch = sys.modules.get("torch")  # only the child side has torch loaded
    if torch is not None and isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().resolve_conj().resolve_neg()
        dtype = str(tensor.dtype).removeprefix("torch.")
        if tensor.is_complex() or dtype not in NUMERIC_DTYPES:
            return {"type": "other", "name": f"tensor of dtype {dtype}"}
        payload = _array_payload(tensor.to(torch.float64).numpy(), dtype)
        if "type" in payload:
            return payload
        return {"type": "tensor", **payload, "requires_grad": bool(value.requires_grad)}
    if isinstance(value, np.ndarray):
        array = np.array(value, copy=True, subok=False)
        payload = _array_payload(array, array.dtype.name)
        return payload if "type" in payload else {"type": "ndarray", **payload}
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        try:
            return {"type": "number", "value": float(value)}
        except OverflowError:  # an int beyond float64 (10**400)
            return {"type": "other", "name": "integer too large for a float"}
    if isinstance(value, (tuple, list)) and len(value) <= MAX_ITEMS:
        return {"type": "tuple", "items": [encode_value(item, _depth + 1) for item in value]}
    return {"type": "other", "name": type(value).__name__}


def decode_value(encoded: Any, _depth: int = 0) -> Any:
    """Rebuild a value from its tagged JSON form.

    Arrays and tensors both come back as :class:`ArrayValue` (values in
    float64, read-only, original dtype by name); numbers as ``float``.
    Anything malformed or beyond the format's limits raises ``WireError``.
    """
    if not isinstance(encoded, dict):
        raise WireError("an encoded value must be an object")
    if _depth > MAX_DEPTH + 1:  # the encoder's deepest item is the "other" standing in for what is deeper
        raise WireError(f"values nested more than {MAX_DEPTH + 1} deep")
    kind = encoded.get("type")
    if kind == "none":
        return None
    if kind == "number":
        value = encoded.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WireError("a number must hold a number")
        return float(value)  # an int is at most MAX_INTEGER_DIGITS long: it fits
    if kind == "tuple":
        items = encoded.get("items")
        if not isinstance(items, list):
            raise WireError("a tuple must hold a list")
        if len(items) > MAX_ITEMS:
            raise WireError(f"a tuple of more than {MAX_ITEMS} items")
        return tuple(decode_value(item, _depth + 1) for item in items)
    if kind in ("ndarray", "tensor"):
        return ArrayValue(
            kind=kind,
            dtype=str(encoded.get("dtype")),
            array=_decode_array(encoded),
            requires_grad=encoded.get("requires_grad", False) is True,
        )
    if kind == "other":  # the name is untrusted text: whoever prints it makes it safe (grader/safe_text.py)
        return Other(str(encoded.get("name", "?"))[:MAX_OTHER_NAME])
    raise WireError(f"unknown value type {str(kind)[:40]!r}")


def _decode_array(encoded: dict[str, Any]) -> np.ndarray:
    dtype, shape, data = encoded.get("dtype"), encoded.get("shape"), encoded.get("data")
    if not isinstance(dtype, str) or dtype not in NUMERIC_DTYPES:
        raise WireError(f"unsupported dtype {str(dtype)[:40]!r}")
    if not (isinstance(shape, list) and len(shape) <= MAX_DIMS
            and all(type(n) is int and 0 <= n <= MAX_ELEMENTS for n in shape)):
        raise WireError(f"malformed shape (at most {MAX_DIMS} dimensions of at most {MAX_ELEMENTS} each)")
    size = math.prod(shape)
    if size > MAX_ELEMENTS:
        raise WireError(f"an array of {size} elements (at most {MAX_ELEMENTS})")
    if not isinstance(data, str):
        raise WireError("array data must be base64 text")
    if len(data) != _packed_length(size):  # checked before decoding: no allocation beyond the shape's
        raise WireError("data does not match the shape")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):  # ValueError: text that is not ASCII
        raise WireError("array data must be base64 text") from None
    array = np.frombuffer(raw, dtype="<f8").astype(np.float64, copy=False).reshape(shape)
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class ArrayValue:
    """An array or tensor as received: its values in float64 and what it was."""

    kind: str  # "ndarray" or "tensor"
    dtype: str  # the sender's dtype name: "float64", "float32", ...
    array: np.ndarray  # the values, float64, in the sender's shape
    requires_grad: bool = False


class Other:
    """A value that is neither an array, a tensor, a number, a tuple nor None."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"
