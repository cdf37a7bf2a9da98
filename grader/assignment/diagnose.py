"""Localisation: where a failing answer first goes wrong, found with smaller calls to the student's own functions.

When no known mistake (:mod:`.hints`) matches a failing answer, the check
asks one of the functions below for a one-sentence finding: it calls the
student's functions on smaller or simpler inputs (one epoch instead of all,
no mask instead of a mask, the gradient functions on the first training
step, x = 0 through the network) and compares each answer with the
reference's, computed here in the grader's process. A finding is returned
only when the evidence fits; anything that goes wrong while looking (the
student's code raises, answers garbage) means no finding, never a crash.

Shapes as in :mod:`.cases`: x (D,), target (C,), w1 (D, H), w2 (H, C), masks (E, H).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference import numpy_net as ref

from ..compare import CheckFailed
from ..inside.wire import ArrayValue
from ..rubric import Tolerance
from . import hints
from .cases import NetCase, TrainCase


def add_hint(failure: CheckFailed, find: Callable[[], str | None]) -> None:
    """Give ``failure`` the finding of ``find`` when it has no hint yet; never raises."""
    if failure.hint is not None:
        return
    try:
        failure.hint = find()
    except Exception:  # noqa: BLE001 - a diagnosis must never turn a fail into an error
        failure.hint = None


def _close(got: Any, want: np.ndarray, tolerance: Tolerance) -> bool:
    """Whether an answer is an array within tolerance of ``want``."""
    if not isinstance(got, ArrayValue) or got.array.shape != want.shape or not np.isfinite(got.array).all():
        return False
    return float(np.abs(got.array - want).max(initial=0.0)) <= tolerance.bound(float(np.abs(want).max(initial=0.0)))


def _pair_close(got: Any, want: tuple[np.ndarray, np.ndarray], tolerance: Tolerance) -> bool:
    return isinstance(got, tuple) and len(got) == 2 and all(_close(g, w, tolerance) for g, w in zip(got, want))


def _net_args(case: NetCase, mask: np.ndarray | None, p: float) -> tuple[tuple[str, Any], ...]:
    return ("x", case.x), ("target", case.target), ("w1", case.w1), ("w2", case.w2), ("mask", mask), ("p", p)


# ------------------------------------------------------------ one pass (forward_np, grad_w1_np, grad_w2_np)

def masked_pass(run: Any, function: str, case: NetCase, tolerance: Tolerance) -> str | None:
    """A failing ``forward_np`` / ``grad_w*_np`` on a masked case: is it right without the mask?

    Otherwise, for a gradient: is the student's own ``forward_np`` already wrong here?
    """
    want = {"forward_np": lambda m, p: ref.forward_np(case.x, case.w1, case.w2, m, p),
            "grad_w1_np": lambda m, p: ref.grad_w1_np(case.x, case.target, case.w1, case.w2, m, p),
            "grad_w2_np": lambda m, p: ref.grad_w2_np(case.x, case.target, case.w1, case.w2, m, p)}[function]
    if case.mask is not None:
        args = _net_args(case, None, 0.0)
        if function == "forward_np":
            args = (args[0], args[2], args[3], args[4], args[5])
        if _close(run.call(function, *args), want(None, 0.0), tolerance):
            backward = "" if function == "forward_np" else ", and dropped units get zero gradient in the backward pass"
            return hints.LOCAL_ONLY_MASK.format(backward=backward)
    if function != "forward_np":
        forward = run.call("forward_np", ("x", case.x), ("w1", case.w1), ("w2", case.w2), ("mask", case.mask),
                           ("p", case.p))
        if not _close(forward, ref.forward_np(case.x, case.w1, case.w2, case.mask, case.p), tolerance):
            return hints.LOCAL_FORWARD_WRONG
    return None


# ------------------------------------------------------------ the torch network

def bias(run: Any, case: NetCase | TrainCase) -> str | None:
    """Does the student's network add a bias? With x = 0 and no bias, every logit is 0: the output is uniform."""
    zeros = np.zeros_like(case.x)
    y = run.call("forward_torch", ("x", zeros), ("w1", case.w1), ("w2", case.w2))
    classes = case.w2.shape[1]
    if isinstance(y, ArrayValue) and y.array.shape == (classes,) and np.isfinite(y.array).all():
        if float(np.abs(y.array - 1.0 / classes).max()) > 1e-4:
            return hints.BIAS
    return None


def net_bias(run: Any, case: NetCase) -> str | None:
    """:func:`bias`, through the student's ``Net`` itself."""
    zeros = np.zeros_like(case.x)
    got = run.call("Net", ("w1", case.w1), ("w2", case.w2), ("p", case.p), ("x", zeros), ("mask", None))
    classes = case.w2.shape[1]
    if isinstance(got, tuple) and len(got) == 3 and isinstance(got[0], ArrayValue):
        y = got[0].array
        if y.shape == (classes,) and np.isfinite(y).all() and float(np.abs(y - 1.0 / classes).max()) > 1e-4:
            return hints.BIAS
    return None


# ------------------------------------------------------------ training

def _train_call(run: Any, function: str, case: TrainCase, masks: np.ndarray, p: float) -> Any:
    return run.call(function, ("x", case.x), ("target", case.target), ("w1", case.w1), ("w2", case.w2),
                    ("masks", masks), ("lr", case.lr), ("p", p))


def _ref_train(case: TrainCase, masks: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    return ref.train_np(case.x, case.target, case.w1, case.w2, masks, case.lr, p)


def training(run: Any, function: str, case: TrainCase, tolerance: Tolerance) -> str | None:
    """A failing ``train_np`` / ``train_torch``: where does the run first go wrong?

    1. Is the first step already wrong? Then, in NumPy, are the student's own
       gradient functions wrong on that step (and which), or the update; in
       torch, does the network add a bias, is the step right without dropout,
       is the Net's output on that step right (then the loss or the optimiser is not).
    2. Otherwise, the first wrong step (binary search over prefixes of masks):
       something carries over from step to step.
    3. Is the run right without dropout (all-ones masks, p = 0)?
    """
    masks, epochs = case.masks, len(case.masks)
    if not _pair_close(_train_call(run, function, case, masks[:1], case.p), _ref_train(case, masks[:1], case.p),
                       tolerance):
        return _first_step(run, function, case, tolerance)
    good, bad = 1, epochs  # the first `good` steps are right, the first `bad` are not
    while bad - good > 1:
        middle = (good + bad) // 2
        if _pair_close(_train_call(run, function, case, masks[:middle], case.p),
                       _ref_train(case, masks[:middle], case.p), tolerance):
            good = middle
        else:
            bad = middle
    ones = np.ones_like(masks)
    if _pair_close(_train_call(run, function, case, ones, 0.0), _ref_train(case, ones, 0.0), tolerance):
        return hints.LOCAL_ONLY_DROPOUT
    return hints.LOCAL_LATER_STEP.format(good=good, bad=bad)


def _first_step(run: Any, function: str, case: TrainCase, tolerance: Tolerance) -> str | None:
    mask = case.masks[0]
    ones = np.ones_like(case.masks[:1])
    one_epoch = _train_call(run, function, case, case.masks[:1], case.p)
    if isinstance(one_epoch, tuple) and len(one_epoch) == 2 and all(
            isinstance(w, ArrayValue) and w.array.shape == initial.shape and np.array_equal(w.array, initial)
            for w, initial in zip(one_epoch, (case.w1, case.w2))):
        return hints.LOCAL_NO_STEP
    if function == "train_torch":
        found = bias(run, case)
        if found is None and _pair_close(_train_call(run, function, case, ones, 0.0), _ref_train(case, ones, 0.0),
                                         tolerance):
            found = hints.LOCAL_ONLY_DROPOUT
        if found is None:
            net = run.call("Net", ("w1", case.w1), ("w2", case.w2), ("p", case.p), ("x", case.x), ("mask", mask))
            y = net[0] if isinstance(net, tuple) and len(net) == 3 else None
            if _close(y, ref.forward_np(case.x, case.w1, case.w2, mask, case.p), tolerance):
                found = hints.LOCAL_TORCH_STEP
        return found
    wrong = []
    for name, want in (("grad_w1_np", ref.grad_w1_np), ("grad_w2_np", ref.grad_w2_np)):
        got = run.call(name, ("x", case.x), ("target", case.target), ("w1", case.w1), ("w2", case.w2),
                       ("mask", mask), ("p", case.p))
        if not _close(got, want(case.x, case.target, case.w1, case.w2, mask, case.p), tolerance):
            wrong.append(name)
    if wrong:
        detail = f"case {case.id}'s first step, with masks[0] and p={case.p}"
        return hints.LOCAL_OWN_GRADIENT.format(function=" and ".join(wrong), detail=detail)
    if _pair_close(_train_call(run, function, case, ones, 0.0), _ref_train(case, ones, 0.0), tolerance):
        return hints.LOCAL_ONLY_DROPOUT
    return hints.LOCAL_UPDATE
