"""The comparison on its own (no sandbox): what a check says, in which order, for every kind of answer.

A comparison stops at the first problem, in a fixed order: type → shape →
dtype → NaN/inf → values. Each test below gives an answer with several
problems at once and expects the message of the earliest one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from grader.compare import CheckFailed, check_array, check_number, check_pair, describe
from grader.inside.wire import ArrayValue, Other
from grader.rubric import Tolerance

TOLERANCE = Tolerance(rtol=1e-5, atol=1e-7)
WANT = np.arange(12, dtype=np.float64).reshape(3, 4) / 10


def value(array, dtype="float64", kind="ndarray"):
    return ArrayValue(kind=kind, dtype=dtype, array=np.asarray(array, dtype=np.float64))


def failure(got, want=WANT, *, reveal=False, alternatives=None) -> CheckFailed:
    with pytest.raises(CheckFailed) as caught:
        check_array(got, want, TOLERANCE, what="f(x1)", reveal=reveal, alternatives=alternatives)
    return caught.value


# ---------------------------------------------------------------- the order of the messages


def test_type_comes_first():
    assert failure((value(WANT), value(WANT))).message == "f(x1): returned a tuple of 2, expected an array of shape (3, 4)"
    assert failure(None).message == "f(x1): returned None, expected an array of shape (3, 4)"
    assert failure(0.5).message == "f(x1): returned the number 0.5, expected an array of shape (3, 4)"
    assert failure(Other("dict")).message == "f(x1): returned a dict, expected an array of shape (3, 4)"


def test_shape_comes_before_dtype_nan_and_values():
    bad = np.full((4, 3), np.nan)
    got = failure(value(bad, dtype="float16"))
    assert got.message == "f(x1): shape (4, 3), expected (3, 4)"
    assert got.hint == "this is the transpose of the expected shape"
    assert failure(value(np.zeros(12))).message == "f(x1): shape (12,), expected (3, 4)"
    assert failure(value(np.zeros(12))).hint is None


def test_dtype_comes_before_nan_and_values():
    bad = np.full((3, 4), np.nan)
    assert failure(value(bad, dtype="float16")).message == (
        "f(x1): dtype float16 loses too much precision; use float64 (NumPy) or float32 (torch)")
    assert failure(value(bad, dtype="bfloat16", kind="tensor")).message.startswith("f(x1): dtype bfloat16 loses")
    assert failure(value(bad, dtype="int64")).message == "f(x1): dtype int64, expected floating-point values"


def test_non_finite_comes_before_values():
    bad = WANT + 1.0
    bad[1, 2] = np.inf
    bad[2, 0] = np.nan
    assert failure(value(bad, dtype="float32")).message == "f(x1): contains inf at [1, 2] (2 non-finite values)"
    bad[0, 0] = np.nan
    assert failure(value(bad)).message == "f(x1): contains NaN at [0, 0] (3 non-finite values)"


def test_values_come_last_and_reveal_only_when_allowed():
    bad = WANT.copy()
    bad[2, 1] += 0.5
    hidden = failure(value(bad))
    assert hidden.message == "f(x1): max abs error 5.0e-01 at [2, 1] (tolerance 1.1e-05)"
    shown = failure(value(bad), reveal=True)
    assert shown.message == hidden.message + "; got 1.4, expected 0.9"


def test_a_right_answer_passes_in_float32_too():
    got = value(WANT.astype(np.float32), dtype="float32", kind="tensor")
    assert check_array(got, WANT, TOLERANCE, what="f(x1)", reveal=False).startswith("f(x1): matches (max abs error")


# ---------------------------------------------------------------- hints


def test_hints_name_known_mistakes():
    assert failure(value(np.zeros((3, 4)))).hint == "every value is 0"
    wrong = WANT * 2
    assert failure(value(wrong), alternatives={"doubled": wrong}).hint == "doubled"
    rounded = np.round(WANT + 1 / 3, 4)
    assert failure(value(rounded)).hint == "the values look rounded to 4 decimals; return them unrounded"


# ---------------------------------------------------------------- numbers and pairs


def test_numbers():
    assert check_number(0.25, 0.25, TOLERANCE, what="loss", reveal=True).startswith("loss: matches")
    assert check_number(value([[0.25]], dtype="float32"), 0.25, TOLERANCE, what="loss", reveal=True)
    with pytest.raises(CheckFailed, match=r"loss: returned a float64 array of shape \(2,\), expected a number"):
        check_number(value([0.25, 0.5]), 0.25, TOLERANCE, what="loss", reveal=True)
    with pytest.raises(CheckFailed, match="loss: dtype float16 loses"):
        check_number(value([0.25], dtype="float16"), 0.25, TOLERANCE, what="loss", reveal=True)
    with pytest.raises(CheckFailed, match="loss: contains NaN"):
        check_number(float("nan"), 0.25, TOLERANCE, what="loss", reveal=True)
    with pytest.raises(CheckFailed, match="loss: returned None, expected a number"):
        check_number(None, 0.25, TOLERANCE, what="loss", reveal=True)


def test_pairs():
    assert check_pair((1.0, 2.0), "train") == (1.0, 2.0)
    with pytest.raises(CheckFailed, match=r"train: returned a tuple of 3, expected a tuple \(w1, w2\)"):
        check_pair((1.0, 2.0, 3.0), "train")


# ---------------------------------------------------------------- hostile answers


def test_extreme_values_fail_cleanly_without_warnings():
    huge = np.full((3, 4), 1.7e308)
    huge[0, 0] = -1.7e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would be an internal error under -W error
        assert "max abs error" in failure(value(huge)).message
        assert "max abs error inf" in failure(value(huge), want=-huge).message
        with pytest.raises(CheckFailed, match="max abs error"):
            check_number(1.7e308, -1.7e308, TOLERANCE, what="loss", reveal=True)


def test_type_names_from_the_child_are_made_safe():
    assert describe(Other("\x1b[2J\x1b[H100/100\u202e")) == "a \\x1b[2J\\x1b[H100/100\\u202e"
    assert len(describe(Other("x" * 1000))) < 130
