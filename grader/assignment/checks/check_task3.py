"""Task 3: the gradient of w2 and training with SGD and the grader's dropout masks."""

from __future__ import annotations

import numpy as np
import pytest

from grader.assignment import cases, diagnose, expected, hints, state
from grader.compare import CheckFailed, check_array, check_pair, shape_text
from grader.inside.wire import ArrayValue


@pytest.mark.group("task3/grad_w2_np")
@pytest.mark.parametrize("case", cases.GRAD_W2, ids=lambda c: c.id)
def test_grad_w2_np(case, run, tolerance, passed):
    got = state.call(run, case, "grad_w2_np", ("x", case.x), ("target", case.target), ("w1", case.w1),
                     ("w2", case.w2), ("mask", case.mask), ("p", case.p))
    try:
        passed(check_array(got, expected.grad_w2(case), tolerance, what=f"grad_w2_np({case.label})",
                           reveal=case.visible, alternatives=hints.grad(case, "dw2")))
    except CheckFailed as failure:
        diagnose.add_hint(failure, lambda: diagnose.masked_pass(run, "grad_w2_np", case, tolerance))
        raise


def _train(run, function: str, case: cases.TrainCase):
    got = state.call(run, case, function, ("x", case.x), ("target", case.target), ("w1", case.w1), ("w2", case.w2),
                     ("masks", case.masks), ("lr", case.lr), ("p", case.p))
    return check_pair(got, f"{function}({case.label})")


def _check_weights(got, want, tolerance, what: str, reveal: bool, case: cases.TrainCase | None = None) -> str:
    messages = [check_array(g, w, tolerance, what=f"{what}: {name}", reveal=reveal,
                            alternatives=hints.train_layer(case, layer) if case is not None else None)
                for layer, name, g, w in zip((1, 2), ("w1", "w2"), got, want)]
    return "; ".join(messages)


def _check_training(function: str, case, run, tolerance, passed) -> None:
    got = _train(run, function, case)
    try:
        passed(_check_weights(got, expected.train(case), tolerance, f"{function}({case.label})", case.visible, case))
    except CheckFailed as failure:
        diagnose.add_hint(failure, lambda: diagnose.training(run, function, case, tolerance))
        raise


@pytest.mark.group("task3/train_np")
@pytest.mark.parametrize("case", cases.TRAIN, ids=lambda c: c.id)
def test_train_np(case, run, tolerance, passed):
    _check_training("train_np", case, run, tolerance, passed)


@pytest.mark.group("task3/train_torch")
@pytest.mark.parametrize("case", cases.TRAIN, ids=lambda c: c.id)
def test_train_torch(case, run, tolerance, passed):
    _check_training("train_torch", case, run, tolerance, passed)


# How far the shared training may be from the task's (relative to the change the task's training makes)
# and still count as a training of this network. Anything that computes nothing (the initial weights,
# constants, zeros, a shift or scaling of the weights, noise) is >= 97% off on these cases
# (tests/test_attacks_data.py); a training with a bug in both frameworks can still agree.
AGREEMENT_MAX_OFF = 0.5


@pytest.mark.group("task3/agreement")
@pytest.mark.parametrize("case", cases.AGREEMENT, ids=lambda c: c.id)
def test_agreement(case, run, tolerance, passed):
    """The submission's NumPy and torch training end with the same weights under the same masks.

    Agreement counts only for a training: the weights must move (roughly) the way this case's
    training moves them, so that two functions that compute nothing never agree for points.
    """
    numpy_weights = _train(run, "train_np", case)
    torch_weights = _train(run, "train_torch", case)
    for name, a, b, initial in zip(("w1", "w2"), numpy_weights, torch_weights, (case.w1, case.w2)):
        if not (isinstance(a, ArrayValue) and isinstance(b, ArrayValue)):
            raise CheckFailed(f"train_np and train_torch ({case.label}): {name} is not an array in both")
        if a.array.shape != initial.shape:
            raise CheckFailed(f"train_np ({case.label}): {name} has shape {shape_text(a.array.shape)}, "
                              f"expected {shape_text(initial.shape)}")
        if np.allclose(a.array, initial, rtol=0, atol=1e-9):
            raise CheckFailed(f"train_np ({case.label}): {name} did not change during training")
        if not a.array.any():
            raise CheckFailed(f"train_np ({case.label}): {name} is all zeros after training")
    want = expected.train(case)
    change = np.concatenate([(a.array - w0).ravel() for a, w0 in zip(numpy_weights, (case.w1, case.w2))])
    want_change = np.concatenate([(w - w0).ravel() for w, w0 in zip(want, (case.w1, case.w2))])
    with np.errstate(all="ignore"):
        off = float(np.linalg.norm(change - want_change) / np.linalg.norm(want_change))
    if not off <= AGREEMENT_MAX_OFF:  # NaN too
        raise CheckFailed(f"train_np ({case.label}): the weights do not move the way training on this case "
                          f"moves them (off by {off:.0%} of the change); NumPy and torch agreeing earns points "
                          "only for a training")
    what = f"train_torch vs train_np ({case.label})"
    passed(_check_weights(torch_weights, tuple(w.array for w in numpy_weights), tolerance, what, reveal=True))
