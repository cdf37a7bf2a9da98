"""Replies the grader cannot decode: 10**400, a 65-dimensional array, a 5,000-digit integer.

Student code shares its process with the harness, so it can rewrite how replies are encoded.
"""
import sys

from _correct_numpy_net import *  # noqa: F403

sys.set_int_max_str_digits(0)  # lets json write a 5,000-digit integer

PAYLOADS = {
    "relu": {"type": "number", "value": 10**400},
    "softmax": {"type": "ndarray", "dtype": "float64", "shape": [1] * 65, "data": [1.0]},
    "forward_np": {"type": "ndarray", "dtype": "float64", "shape": [1], "data": [int("9" * 5000)]},
}


def _hostile(name):
    def function(*args):
        wires = [m for m in list(sys.modules.values()) if hasattr(m, "encode_value") and hasattr(m, "receive_message")]
        originals = [wire.encode_value for wire in wires]

        def encode(value, _depth=0):
            for wire, original in zip(wires, originals):
                wire.encode_value = original  # once
            return PAYLOADS[name]

        for wire in wires:
            wire.encode_value = encode
        return None

    function.__name__ = name
    return function


relu, softmax, forward_np = (_hostile(name) for name in ("relu", "softmax", "forward_np"))
