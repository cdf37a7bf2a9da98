"""A two-layer network in NumPy, forward and backward written by hand.

Shapes: x (D,), w1 (D, H), w2 (H, C), target (C,).

    h = x @ w1                          # (H,)  hidden pre-activation
    a = relu(h) * mask / (1 - p)        # (H,)  inverted dropout, only with a mask
    z = a @ w2                          # (C,)  logits
    y = softmax(z)                      # (C,)  the network's output
    L = -sum(target * log_softmax(y))   # softmax applied a second time, as the
                                        # original's nn.CrossEntropyLoss did

Fill in every block marked YOUR CODE HERE; keep the names, signatures and
return types. Use NumPy only (no torch, no autograd) and float64 arrays, and
never modify an argument in place. ``dropout_masks`` is given: do not change it.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- activations


def relu(h: np.ndarray) -> np.ndarray:
    """Rectified linear unit, elementwise.

    Args:
        h: array of any shape, e.g. the hidden pre-activation (H,).

    Returns:
        max(h, 0), same shape as ``h``.
    """
    # ===== YOUR CODE HERE =====
    raise NotImplementedError("relu is not implemented yet")
    # ===== END OF YOUR CODE =====


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, numerically stable.

    Args:
        z: logits, shape (C,) or (N, C). Large values such as [1000, 1001]
            must not overflow.

    Returns:
        Probabilities, same shape as ``z``; each slice along the last axis sums to 1.
    """
    # ===== YOUR CODE HERE =====
    # Hint: softmax(z) == softmax(z - max(z)); use axis=-1 and keepdims=True.
    raise NotImplementedError("softmax is not implemented yet")
    # ===== END OF YOUR CODE =====


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
    # Given: not part of the assignment. Use it to make masks for your own tests.
    return (np.random.default_rng(seed).random((epochs, hidden)) >= p).astype(np.float64)


# ------------------------------------------------------------ forward / loss


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
    # ===== YOUR CODE HERE =====
    raise NotImplementedError("forward_np is not implemented yet")
    # ===== END OF YOUR CODE =====


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
    # ===== YOUR CODE HERE =====
    # Hint: log_softmax(y) == (y - max(y)) - log(sum(exp(y - max(y)))).
    raise NotImplementedError("loss_np is not implemented yet")
    # ===== END OF YOUR CODE =====


# ------------------------------------------------------------------ backward


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
    # ===== YOUR CODE HERE =====
    # Hint: chain rule backwards through the loss's softmax, the network's
    # softmax (a C x C Jacobian), w2, the dropout scaling, the ReLU and w1.
    raise NotImplementedError("grad_w1_np is not implemented yet")
    # ===== END OF YOUR CODE =====


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
    # ===== YOUR CODE HERE =====
    raise NotImplementedError("grad_w2_np is not implemented yet")
    # ===== END OF YOUR CODE =====


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
    # ===== YOUR CODE HERE =====
    # Hint: copy the weights first. Each epoch: compute both gradients at the
    # current weights with that epoch's mask, then update both weights.
    raise NotImplementedError("train_np is not implemented yet")
    # ===== END OF YOUR CODE =====
