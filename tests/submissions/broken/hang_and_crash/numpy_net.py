"""relu never returns and softmax kills its process: both cost their own checks only."""
import os

from _correct_numpy_net import *  # noqa: F403


def relu(h):
    while True:
        pass


def softmax(z):
    os._exit(3)
