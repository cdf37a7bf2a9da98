"""Compare what a submission returned with what was expected.

A comparison stops at the first problem, in a fixed order: wrong type →
shape → dtype that loses precision → NaN/inf → values, and says what was
compared and how it differs ("grad_w1_np(x1, y1): shape (4, 3), expected
(3, 4)"). The earlier stages (missing name, code that raised) belong to
:mod:`grader.runner`.

Values arrive as :mod:`grader.inside.wire` decodes them: plain float64
arrays built by the grader, so nothing the submission defined (a lying
``__eq__``, a patched NumPy) takes part in a comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .rubric import Tolerance
from .inside.wire import ArrayValue, Other
from .safe_text import MAX_NAME, safe_text

LOW_PRECISION = {"float16", "bfloat16"}


class CheckFailed(Exception):
    """The code ran and its answer is wrong. ``hint`` names a likely mistake."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class AnswerChanged(CheckFailed):
    """A function answered differently when called again with the same arguments (the state check).

    ``detail`` says how, when that is more than other values ("this time it raised ...").
    """

    def __init__(self, message: str, hint: str | None = None, detail: str = "") -> None:
        super().__init__(message + (f"; {detail}" if detail else ""), hint)
        self.detail = detail


class CodeError(Exception):
    """The student's code did not run (raised, timed out, crashed, missing)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def describe(value: Any) -> str:
    """How a received value reads in a message: ``a tuple of 2``, ``None``."""
    if value is None:
        return "None"
    if isinstance(value, ArrayValue):
        return f"a {value.dtype} {'tensor' if value.kind == 'tensor' else 'array'} of shape {shape_text(value.array.shape)}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, Other):
        return f"a {safe_text(value.name, MAX_NAME)}"  # a type name the child chose
    return f"the number {value!r}"


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def check_array(
    got: Any,
    want: np.ndarray,
    tolerance: Tolerance,
    *,
    what: str,
    reveal: bool,
    alternatives: Mapping[str, np.ndarray | list[np.ndarray]] | None = None,
) -> str:
    """Check an array answer; return the pass message or raise :class:`CheckFailed`.

    ``what`` names the call ("forward_np(x1, y1)"); ``reveal`` allows the
    message to show expected values (visible cases only); ``alternatives``
    maps a hint to the answer a known mistake would give (or a list of them).
    """
    if not isinstance(got, ArrayValue):
        raise CheckFailed(f"{what}: returned {describe(got)}, expected an array of shape {shape_text(want.shape)}")
    array = got.array
    if array.shape != want.shape:
        hint = "this is the transpose of the expected shape" if array.shape == want.shape[::-1] and array.ndim == 2 else None
        raise CheckFailed(f"{what}: shape {shape_text(array.shape)}, expected {shape_text(want.shape)}", hint)
    _check_dtype(got, what)
    if not np.isfinite(array).all():  # a known mistake may give the same NaN/inf (an unstable softmax)
        _check_finite(array, what, _recognise(array, alternatives, tolerance.bound(float(np.abs(want).max(initial=0.0))), want))
    return _check_values(array, want, tolerance, what=what, reveal=reveal, alternatives=alternatives)


def check_number(
    got: Any,
    want: float,
    tolerance: Tolerance,
    *,
    what: str,
    reveal: bool,
    alternatives: Mapping[str, float] | None = None,
) -> str:
    """Check a scalar answer: a number, or an array/tensor holding one value."""
    if isinstance(got, ArrayValue) and got.array.size == 1:
        _check_dtype(got, what)
        got = float(got.array.reshape(()))
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise CheckFailed(f"{what}: returned {describe(got)}, expected a number")
    array, expected = np.array(float(got)), np.array(float(want))
    _check_finite(array, what)
    others = {hint: np.array(float(v)) for hint, v in (alternatives or {}).items()}
    return _check_values(array, expected, tolerance, what=what, reveal=reveal, alternatives=others)


def check_pair(got: Any, what: str) -> tuple[Any, Any]:
    """Unpack a ``(w1, w2)`` answer."""
    if not isinstance(got, tuple) or len(got) != 2:
        raise CheckFailed(f"{what}: returned {describe(got)}, expected a tuple (w1, w2)")
    return got


def _check_dtype(got: ArrayValue, what: str) -> None:
    if got.dtype in LOW_PRECISION:
        raise CheckFailed(f"{what}: dtype {got.dtype} loses too much precision; use float64 (NumPy) or float32 (torch)")
    if not got.dtype.startswith("float"):
        raise CheckFailed(f"{what}: dtype {got.dtype}, expected floating-point values")


def _check_finite(array: np.ndarray, what: str, hint: str | None = None) -> None:
    """Refuse NaN/inf; ``hint`` names a known mistake that gives the same non-finite answer."""
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(array[index]) else "inf"
        at = f" at {_index_text(index)}" if index else ""
        raise CheckFailed(f"{what}: contains {kind}{at} ({int(bad.sum())} non-finite values)", hint)


def _check_values(
    array: np.ndarray,
    want: np.ndarray,
    tolerance: Tolerance,
    *,
    what: str,
    reveal: bool,
    alternatives: Mapping[str, np.ndarray] | None,
) -> str:
    with np.errstate(all="ignore"):  # finite values may still differ by more than a float holds: inf
        error = np.abs(array - want)
    bound = tolerance.bound(float(np.abs(want).max(initial=0.0)))
    worst = float(error.max(initial=0.0))
    if worst <= bound:
        return f"{what}: matches (max abs error {worst:.1e})"
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape)) if error.ndim else ()
    at = f" at {_index_text(index)}" if index else ""
    message = f"{what}: max abs error {worst:.1e}{at} (tolerance {bound:.1e})"
    if reveal:
        message += f"; got {array[index]:.6g}, expected {want[index]:.6g}"
    raise CheckFailed(message, _recognise(array, alternatives, bound, want))


def _recognise(
    array: np.ndarray, alternatives: Mapping[str, np.ndarray] | None, bound: float, want: np.ndarray
) -> str | None:
    """The hint of the known mistake whose answer the submission matches, or None.

    A mistake matches when every value is within ``10 * bound`` of its answer
    (NaN matching NaN, inf the same inf) and the answer is at least twice as
    close to it as to the right one; a mistake whose answer on this case
    passes (the ReLU's derivative where every unit is on) names nothing and
    is skipped. A hint may map to a list of answers (ways of making the same
    mistake). The closest one wins; when another
    mistake with a different hint also matches and its answer lies within
    ``bound`` of the closest one's, this case cannot tell them apart and no
    hint is given (a wrong hint is worse than none).
    """
    finite = np.isfinite(array)
    if finite.all() and not array.any():
        return "every value is 0"
    with np.errstate(all="ignore"):  # values near the float64 limit overflow when shifted or scaled
        matches: list[tuple[float, str, np.ndarray]] = []
        same_shape = want.shape == array.shape and finite.all()
        from_right = float(np.abs(array - want).max(initial=0.0)) if same_shape else np.inf  # NaN is far from right
        candidates = [(hint, answer) for hint, answers in (alternatives or {}).items()
                      for answer in (answers if isinstance(answers, list) else [answers])]
        for hint, wrong in candidates:
            wrong = np.asarray(wrong, dtype=np.float64)
            if wrong.shape != array.shape or not np.array_equal(np.isfinite(wrong), finite):
                continue
            if _near(wrong, want, bound):  # on this case the mistake gives the right answer
                continue
            if not np.array_equal(array[~finite], wrong[~finite], equal_nan=True):
                continue
            error = float(np.abs(array[finite] - wrong[finite]).max(initial=0.0))
            if error <= 10 * bound + 1e-12 and 2 * error < from_right:
                matches.append((error, hint, wrong))
        if matches:
            matches.sort(key=lambda match: match[0])
            _, best, answer = matches[0]
            for _, hint, wrong in matches[1:]:
                if hint != best and _near(wrong, answer, bound):
                    return None
            return best
        if finite.all() and np.array_equal(array, np.round(array, 4)) and np.any(array != np.round(array, 2)):
            return "the values look rounded to 4 decimals; return them unrounded"
    return None


def _near(a: np.ndarray, b: np.ndarray, bound: float) -> bool:
    both = np.isfinite(a) & np.isfinite(b)
    return bool(np.array_equal(np.isfinite(a), np.isfinite(b))
                and float(np.abs(a[both] - b[both]).max(initial=0.0)) <= bound)


def _index_text(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]"
