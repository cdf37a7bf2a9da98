"""Bug: softmax normalises over the whole array, not over the last axis (wrong for 2-D input)."""
from _correct_numpy_net import *  # noqa: F403


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)
