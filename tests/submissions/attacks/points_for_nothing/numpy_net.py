"""Trains nothing: returns the initial weights shifted by one."""
from _correct_numpy_net import *  # noqa: F403


def train_np(x, target, w1, w2, masks, lr=0.01, p=0.4):
    return w1 + 1.0, w2 + 1.0
