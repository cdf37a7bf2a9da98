"""forward_np raises: its checks error with the exception and the line, the rest is graded normally."""
from _correct_numpy_net import *  # noqa: F403


def forward_np(x, w1, w2, mask=None, p=0.0):
    h = x @ w1
    return h @ w1  # shapes do not match: ValueError
