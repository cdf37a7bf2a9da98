"""The reference numpy_net with one mistake: train_np uses masks[0] in every epoch.

Everything else is ``_correct_numpy_net`` (the reference, added by tests/conftest.py's
``assemble``); the changed definitions replace the reference's own, so that its
other functions use them as in a whole copy with this one change.
"""

from __future__ import annotations

import numpy as np

import _correct_numpy_net as _reference
from _correct_numpy_net import *  # noqa: F403
from _correct_numpy_net import _backward, _forward


def train_np(
    x: np.ndarray,
    target: np.ndarray,
    w1: np.ndarray,
    w2: np.ndarray,
    masks: np.ndarray,
    lr: float = 0.01,
    p: float = 0.4,
) -> tuple[np.ndarray, np.ndarray]:
    """Train on one example with dropout: one plain SGD step per row of ``masks``.

    Args:
        x: input, shape (D,).
        target: one-hot (or probability) target, shape (C,).
        w1: initial first-layer weights, shape (D, H); not modified.
        w2: initial second-layer weights, shape (H, C); not modified.
        masks: keep-masks, shape (E, H); row e is the dropout mask of epoch e,
            so E = len(masks) is the number of epochs.
        lr: learning rate.
        p: dropout probability; kept units are scaled by 1 / (1 - p).

    Returns:
        (w1, w2): the trained weights, new float64 arrays of shapes (D, H) and (H, C).
    """
    w1 = np.array(w1, dtype=np.float64)  # copies: the caller's arrays stay untouched
    w2 = np.array(w2, dtype=np.float64)
    for epoch in range(len(masks)):
        mask = masks[0]
        # forward
        cache = _forward(x, w1, w2, mask, p)
        # backward
        dw1, dw2 = _backward(cache, target, w2)
        # update (sgd)
        w1 -= lr * dw1
        w2 -= lr * dw2
    return w1, w2


for _name in ('train_np',):
    setattr(_reference, _name, globals()[_name])
