"""The self-check's data file (``data.json``) and the codec its values use.

The file holds what the visible checks need and nothing else: the visible
cases, the answers the checks asked the grader's ``expected`` and ``hints``
modules for on those cases (the reference's outputs and the answers of known
mistakes), and the points and tolerances of the visible checks.

Values are tagged JSON: ``{"ndarray": shape, "data": [...]}``,
``{"tuple": [...]}``, ``{"list": [...]}``, ``{"dict": [[key, value], ...]}``
(order kept: the first matching hint wins), ``{"case": uid}``; numbers,
strings, booleans and null as themselves. Python writes floats with
``repr``, so every number reads back exactly.

The grader writes the file with this same module (``grader release``), so
both sides encode a call the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
DATA_FILE = Path(__file__).resolve().parent / "data.json"


def encode(value: Any, case_uid: Callable[[Any], str | None]) -> Any:
    """``value`` as tagged JSON; ``case_uid(value)`` names a case object (None for anything else)."""
    uid = case_uid(value)
    if uid is not None:
        return {"case": uid}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) if isinstance(value, (float, np.floating)) else int(value)
    if isinstance(value, np.ndarray):
        array = np.asarray(value, dtype=np.float64)
        return {"ndarray": list(array.shape), "data": array.ravel().tolist()}
    if isinstance(value, tuple):
        return {"tuple": [encode(item, case_uid) for item in value]}
    if isinstance(value, list):
        return {"list": [encode(item, case_uid) for item in value]}
    if isinstance(value, Mapping):  # hint tables are lazy mappings: computed here, once per visible case
        return {"dict": [[encode(k, case_uid), encode(v, case_uid)] for k, v in value.items()]}
    raise TypeError(f"cannot store a {type(value).__name__} in the self-check's data")


def decode(value: Any, case: Callable[[str], Any]) -> Any:
    """The inverse of :func:`encode`; arrays come back as read-only float64 arrays."""
    if isinstance(value, list):
        raise ValueError("a bare list in the self-check's data")
    if not isinstance(value, dict):
        return value
    if "case" in value:
        return case(value["case"])
    if "ndarray" in value:
        array = np.asarray(value["data"], dtype=np.float64).reshape(value["ndarray"])
        array.setflags(write=False)
        return array
    if "tuple" in value:
        return tuple(decode(item, case) for item in value["tuple"])
    if "list" in value:
        return [decode(item, case) for item in value["list"]]
    if "dict" in value:
        return {decode(k, case): decode(v, case) for k, v in value["dict"]}
    raise ValueError(f"unknown value in the self-check's data: {sorted(value)}")


def call_key(module: str, function: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             case_uid: Callable[[Any], str | None]) -> str:
    """How a call such as ``expected.forward(case)`` is named in the data file."""
    encoded = [module, function, [encode(a, case_uid) for a in args],
               {k: encode(v, case_uid) for k, v in sorted(kwargs.items())}]
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"))


@cache
def load_data() -> dict[str, Any]:
    """The parsed ``data.json`` next to this module."""
    data = json.loads(DATA_FILE.read_text("utf-8"))
    if data.get("format") != FORMAT:
        raise RuntimeError(f"{DATA_FILE}: written by another version of the grader (format {data.get('format')})")
    return data
