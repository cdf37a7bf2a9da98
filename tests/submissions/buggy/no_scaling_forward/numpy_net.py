"""A two-layer network in NumPy, forward and backward written by hand.

Shapes: x (D,), w1 (D, H), w2 (H, C), target (C,).

    h = x @ w1                          # (H,)  hidden pre-activation
    a = relu(h) * mask / (1 - p)        # (H,)  inverted dropout, only with a mask
    z = a @ w2                          # (C,)  logits
    y = softmax(z)                      # (C,)  the network's output
    L = -sum(target * log_softmax(y))   # softmax applied a second time, as the
                                        # original's nn.CrossEntropyLoss did

No function modifies its arguments.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# ---------------------------------------------------------------- activations


def relu(h: np.ndarray) -> np.ndarray:
    """Rectified linear unit, elementwise.

    Args:
        h: array of any shape, e.g. the hidden pre-activation (H,).

    Returns:
        max(h, 0), same shape as ``h``.
    """
    return np.maximum(h, 0.0)


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, numerically stable.

    Args:
        z: logits, shape (C,) or (N, C). Large values such as [1000, 1001]
            must not overflow.

    Returns:
        Probabilities, same shape as ``z``; each slice along the last axis sums to 1.
    """
    shifted = z - np.max(z, axis=-1, keepdims=True)  # largest entry becomes 0: exp cannot overflow
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """log(softmax(z)) over the last axis, without taking the log of a rounded 0."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


# ------------------------------------------------------------------- dropout


def dropout_masks(epochs: int, hidden: int, p: float, seed: int) -> np.ndarray:
    """The keep-masks the grader hands to both training functions.

    Args:
        epochs: number of rows E, one per training epoch.
        hidden: number of hidden units H.
        p: probability of dropping a unit.
        seed: seed of ``np.random.default_rng``.

    Returns:
        Array of shape (E, H) of 0.0 (drop) and 1.0 (keep), float64.
    """
    return (np.random.default_rng(seed).random((epochs, hidden)) >= p).astype(np.float64)


def _keep_scale(mask: np.ndarray | None, p: float, hidden: int) -> np.ndarray:
    """Per-unit factor of inverted dropout, shape (H,): mask / (1 - p), or ones without a mask."""
    if mask is None:
        return np.ones(hidden)
    return mask / (1.0 - p)


# ------------------------------------------------------------ forward / loss


class _Cache(NamedTuple):
    """What the forward pass keeps for the backward pass."""

    x: np.ndarray     # (D,)  input
    h: np.ndarray     # (H,)  hidden pre-activation
    keep: np.ndarray  # (H,)  dropout factor, mask / (1 - p)
    a: np.ndarray     # (H,)  hidden activation after dropout
    y: np.ndarray     # (C,)  output probabilities


def _forward(
    x: np.ndarray, w1: np.ndarray, w2: np.ndarray, mask: np.ndarray | None, p: float
) -> _Cache:
    """The network's forward pass, keeping every intermediate for ``_backward``."""
    h = x @ w1                                   # (H,)
    keep = _keep_scale(mask, p, h.shape[-1])     # (H,)
    a = relu(h) * (keep * (1.0 - p) if mask is not None else keep)  # (H,) the scaling forgotten here only
    z = a @ w2                                   # (C,)
    y = softmax(z)                               # (C,)
    return _Cache(x=x, h=h, keep=keep, a=a, y=y)


def forward_np(
    x: np.ndarray,
    w1: np.ndarray,
    w2: np.ndarray,
    mask: np.ndarray | None = None,
    p: float = 0.0,
) -> np.ndarray:
    """Forward pass of the network.

    Args:
        x: input, shape (D,).
        w1: first-layer weights, shape (D, H) (``x @ w1`` convention).
        w2: second-layer weights, shape (H, C).
        mask: keep-mask of shape (H,) (1.0 keeps a unit, 0.0 drops it), or
            None for no dropout.
        p: dropout probability; kept units are scaled by 1 / (1 - p). Only
            used when ``mask`` is given.

    Returns:
        y: output probabilities softmax(relu(x @ w1) * mask / (1 - p) @ w2),
            shape (C,), float64.
    """
    return _forward(x, w1, w2, mask, p).y


def loss_np(y: np.ndarray, target: np.ndarray) -> float:
    """The assignment's loss: cross-entropy applied to probabilities (double softmax).

    ``y`` is already a softmax output; the loss applies log_softmax to it once
    more, exactly as ``nn.CrossEntropyLoss`` does on the torch network's output.

    Args:
        y: output probabilities of the network, shape (C,).
        target: one-hot (or probability) target, shape (C,).

    Returns:
        -sum(target * log_softmax(y)), a Python float.
    """
    return float(-np.sum(target * _log_softmax(y)))


# ------------------------------------------------------------------ backward


def _backward(
    cache: _Cache, target: np.ndarray, w2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Chain rule from the loss back to both weights: (dL/dw1 (D, H), dL/dw2 (H, C))."""
    x, h, keep, a, y = cache
    dy = softmax(y) * np.sum(target) - target    # (C,)   dL/dy: the loss's own softmax
    jacobian = np.diag(y) - np.outer(y, y)       # (C, C) dy/dz of the network's softmax
    dz = jacobian @ dy                           # (C,)   dL/dz
    dw2 = np.outer(a, dz)                        # (H, C) dL/dw2
    da = w2 @ dz                                 # (H,)   dL/da
    dh = da * keep * (h > 0)                     # (H,)   through dropout and the ReLU gate
    dw1 = np.outer(x, dh)                        # (D, H) dL/dw1
    return dw1, dw2


def grad_w1_np(
    x: np.ndarray,
    target: np.ndarray,
    w1: np.ndarray,
    w2: np.ndarray,
    mask: np.ndarray | None = None,
    p: float = 0.0,
) -> np.ndarray:
    """Gradient of the loss with respect to w1, derived by hand (no autograd).

    Args:
        x: input, shape (D,).
        target: one-hot (or probability) target, shape (C,).
        w1: first-layer weights, shape (D, H).
        w2: second-layer weights, shape (H, C).
        mask: keep-mask of shape (H,), or None for no dropout.
        p: dropout probability, used only when ``mask`` is given.

    Returns:
        dL/dw1, shape (D, H), float64, where L = loss_np(forward_np(x, w1, w2, mask, p), target).
    """
    dw1, _ = _backward(_forward(x, w1, w2, mask, p), target, w2)
    return dw1


def grad_w2_np(
    x: np.ndarray,
    target: np.ndarray,
    w1: np.ndarray,
    w2: np.ndarray,
    mask: np.ndarray | None = None,
    p: float = 0.0,
) -> np.ndarray:
    """Gradient of the loss with respect to w2, derived by hand (no autograd).

    Args:
        x: input, shape (D,).
        target: one-hot (or probability) target, shape (C,).
        w1: first-layer weights, shape (D, H).
        w2: second-layer weights, shape (H, C).
        mask: keep-mask of shape (H,), or None for no dropout.
        p: dropout probability, used only when ``mask`` is given.

    Returns:
        dL/dw2, shape (H, C), float64, where L = loss_np(forward_np(x, w1, w2, mask, p), target).
    """
    _, dw2 = _backward(_forward(x, w1, w2, mask, p), target, w2)
    return dw2


# ------------------------------------------------------------------ training


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
    for mask in masks:
        # forward
        cache = _forward(x, w1, w2, mask, p)
        # backward
        dw1, dw2 = _backward(cache, target, w2)
        # update (sgd)
        w1 -= lr * dw1
        w2 -= lr * dw2
    return w1, w2
