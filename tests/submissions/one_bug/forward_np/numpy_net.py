"""Bug: forward_np applies the dropout mask without the 1/(1-p) scaling."""
from _correct_numpy_net import *  # noqa: F403


def forward_np(x, w1, w2, mask=None, p=0.0):
    a = np.maximum(x @ w1, 0)
    if mask is not None:
        a = a * mask
    z = a @ w2
    e = np.exp(z - z.max())
    return e / e.sum()
