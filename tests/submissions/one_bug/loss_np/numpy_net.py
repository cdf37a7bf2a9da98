"""Bug: the textbook loss -sum(target * log(y)), a single softmax."""
from _correct_numpy_net import *  # noqa: F403


def loss_np(y, target):
    return float(-np.sum(target * np.log(y)))
