"""Bug: the gradient of the single-softmax loss (dL/dz = y - target)."""
from _correct_numpy_net import *  # noqa: F403


def grad_w1_np(x, target, w1, w2, mask=None, p=0.0):
    h = x @ w1
    keep = np.ones_like(h) if mask is None else mask / (1 - p)
    a = np.maximum(h, 0) * keep
    z = a @ w2
    y = np.exp(z - z.max())
    y = y / y.sum()
    dz = y - target
    dh = (w2 @ dz) * keep * (h > 0)
    return np.outer(x, dh)
