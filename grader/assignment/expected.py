"""Expected answers, computed by the reference solution in the grader's process.

Only the trusted side imports this module: the sandbox never sees the
reference or these values. Everything is float64 NumPy, computed once per
case and process (cases are constants) and returned read-only.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from reference import numpy_net as ref

from .cases import ArrayCase, NetCase, TrainCase


@cache
def relu(case: ArrayCase) -> np.ndarray:
    return _frozen(ref.relu(case.value))


@cache
def softmax(case: ArrayCase) -> np.ndarray:
    return _frozen(ref.softmax(case.value))


@cache
def forward(case: NetCase) -> np.ndarray:
    """Probabilities, shape (C,)."""
    return _frozen(ref.forward_np(case.x, case.w1, case.w2, case.mask, case.p))


@cache
def loss(case: NetCase) -> float:
    return float(ref.loss_np(forward(case), case.target))


@cache
def grad_w1(case: NetCase) -> np.ndarray:
    """dL/dw1, shape (D, H)."""
    return _frozen(ref.grad_w1_np(case.x, case.target, case.w1, case.w2, case.mask, case.p))


@cache
def grad_w2(case: NetCase) -> np.ndarray:
    """dL/dw2, shape (H, C)."""
    return _frozen(ref.grad_w2_np(case.x, case.target, case.w1, case.w2, case.mask, case.p))


@cache
def train(case: TrainCase) -> tuple[np.ndarray, np.ndarray]:
    """Weights (w1 (D, H), w2 (H, C)) after one SGD step per mask row."""
    w1, w2 = ref.train_np(case.x, case.target, case.w1, case.w2, case.masks, case.lr, case.p)
    return _frozen(w1), _frozen(w2)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array
