"""grad_w2_np tries to take 64 GiB of memory."""
import numpy as np

from _correct_numpy_net import *  # noqa: F403


def grad_w2_np(x, target, w1, w2, mask=None, p=0.0):
    hog = []
    for _ in range(64):
        hog.append(np.ones(1 << 27))  # 1 GiB each, touched
    return hog[0][: w2.size].reshape(w2.shape)
