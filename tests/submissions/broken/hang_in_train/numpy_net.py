"""train_np never returns: its checks time out, every other check is graded normally."""
from _correct_numpy_net import *  # noqa: F403


def train_np(x, target, w1, w2, masks, lr=0.01, p=0.4):
    while True:
        pass
