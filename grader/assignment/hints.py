"""Known mistakes, and the answers they produce.

Each function returns ``{hint: wrong answer}`` for one case; a failing check
whose answer matches one of them reports that hint. The wrong answers come
from :func:`_network`, a small model of the network with switches for the
mistakes students actually make (several are in the original notebook).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .cases import NetCase

SINGLE_SOFTMAX = (
    "this is the gradient of the textbook loss -sum(target * log(y)); the assignment's loss applies "
    "log_softmax to y, which is already a softmax output (softmax twice)"
)
NO_SCALING = "dropout without the 1/(1-p) scaling: kept units must be divided by (1 - p)"
DROP_MASK = "the mask was used as a drop-mask: in the assignment, 1 means keep the unit"
NO_RELU_GATE = "the gradient ignores the ReLU: units with h <= 0 must get zero gradient"
NO_MASK_IN_BACKWARD = "the backward pass ignores the dropout mask: dropped units must get zero gradient"


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _network(
    case: NetCase, *, scale: bool = True, invert_mask: bool = False, double_softmax: bool = True,
    relu_gate: bool = True, mask_in_backward: bool = True,
) -> dict[str, np.ndarray]:
    """Forward and backward pass with switchable mistakes; returns y, dw1, dw2."""
    mask = case.mask
    if mask is not None and invert_mask:
        mask = 1.0 - mask
    h = case.x @ case.w1
    a = np.maximum(h, 0)
    factor = np.ones_like(h) if mask is None else mask / ((1 - case.p) if scale else 1.0)
    a_dropped = a * factor
    y = _softmax(a_dropped @ case.w2)
    if double_softmax:
        dy = _softmax(y) * case.target.sum() - case.target
        dz = (np.diag(y) - np.outer(y, y)) @ dy
    else:
        dz = y * case.target.sum() - case.target
    da = (case.w2 @ dz) * (factor if mask_in_backward else np.ones_like(h))
    dh = da * (h > 0) if relu_gate else da
    return {"y": y, "dw1": np.outer(case.x, dh), "dw2": np.outer(a_dropped, dz)}


def _mask_mistakes(case: NetCase, key: str) -> dict[str, np.ndarray]:
    if case.mask is None:
        return {}
    return {
        NO_SCALING: _network(case, scale=False)[key],
        DROP_MASK: _network(case, invert_mask=True)[key],
    }


@cache
def forward(case: NetCase) -> dict[str, np.ndarray]:
    return _mask_mistakes(case, "y")


@cache
def loss(case: NetCase) -> dict[str, float]:
    y = _network(case)["y"]
    return {"this is the textbook loss -sum(target * log(y)); the assignment's loss applies log_softmax to y, "
            "which is already a softmax output (softmax twice)": float(-(case.target * np.log(y)).sum())}


@cache
def grad(case: NetCase, key: str) -> dict[str, np.ndarray]:
    """Mistakes in ``dw1`` (key "dw1") or ``dw2`` (key "dw2")."""
    mistakes = {SINGLE_SOFTMAX: _network(case, double_softmax=False)[key]}
    if key == "dw1":
        mistakes[NO_RELU_GATE] = _network(case, relu_gate=False)[key]
        if case.mask is not None:
            mistakes[NO_MASK_IN_BACKWARD] = _network(case, mask_in_backward=False)[key]
    return {**mistakes, **_mask_mistakes(case, key)}
