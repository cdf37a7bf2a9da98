"""The request loop's own steps, run in this process: arguments are fresh for every call, and the check for
arguments modified in place compares values (NaN equal to NaN, -0.0 equal to 0.0)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from grader.inside import harness, wire
from grader.runner import encode_argument


@pytest.fixture
def module() -> Iterator[str]:
    """A module of functions that modify their argument in place, or only look at it."""
    name = "_nngrader_test_harness"
    functions = ModuleType(name)

    def double_in_place(x: Any) -> Any:
        x *= 2
        return x.sum()

    functions.double_in_place = double_in_place  # type: ignore[attr-defined]
    functions.echo = lambda x: x  # type: ignore[attr-defined]
    sys.modules[name] = functions
    yield name
    del sys.modules[name]


def _calls(module: str, *functions: str, value: np.ndarray, tensor: bool) -> list[dict[str, Any]]:
    """The replies to one ``calls`` request that passes the same encoded ``value`` to each function."""
    encoded = encode_argument(value, tensor=tensor)
    calls = [{"op": "call", "module": module, "function": function, "args": [["x", encoded]], "seed": 0}
             for function in functions]
    request = wire.decode_message(wire.encode_message({"op": "calls", "calls": calls}))
    return list(harness._replies(request, "", lambda: None))


@pytest.mark.parametrize("tensor", [False, True], ids=["ndarray", "tensor"])
def test_an_argument_modified_in_place_is_reported_and_the_next_call_gets_the_values_sent(module, tensor):
    x = np.array([[1.0, -2.0], [3.0, 0.5]])
    modified, seen = _calls(module, "double_in_place", "echo", value=x, tensor=tensor)
    assert modified["ok"] and modified["mutated"] == ["x"]
    assert seen["ok"] and seen["mutated"] == []
    assert np.array_equal(wire.decode_value(seen["value"]).array, x)  # not the doubled copy of the call before


@pytest.mark.parametrize("old, new, unchanged", [
    (np.array([1.0, 2.0]), np.array([1.0, 2.0]), True),
    (np.array([np.nan, 2.0]), np.array([np.nan, 2.0]), True),
    (np.array([-0.0, 2.0]), np.array([0.0, 2.0]), True),  # equal values, other bytes
    (np.array([1.0, 2.0]), np.array([1.0, 2.5]), False),
    (np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0]).reshape(2, 2), False),
    (np.array([1.0, 2.0]), np.array([1.0, 2.0], dtype=np.float32), True),  # equal values, another dtype
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), True),
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 3.0]), False),
], ids=["same", "nan", "signed-zero", "value", "shape", "dtype", "tensor-same", "tensor-value"])
def test_an_argument_is_unchanged_when_its_values_are(old, new, unchanged):
    assert harness._unchanged(new, harness._snapshot(old)) is unchanged
