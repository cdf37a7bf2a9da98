"""Bug: relu modifies its argument in place."""
from _correct_numpy_net import *  # noqa: F403


def relu(h):
    h[h < 0] = 0.0
    return h
