"""grad_w1_np dereferences a null pointer."""
import ctypes

from _correct_numpy_net import *  # noqa: F403


def grad_w1_np(x, target, w1, w2, mask=None, p=0.0):
    return ctypes.string_at(0)
