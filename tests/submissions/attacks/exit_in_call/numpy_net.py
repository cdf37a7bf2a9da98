"""sys.exit in forward_np (an exception, caught), os._exit in relu (the process dies)."""
import os
import sys

from _correct_numpy_net import *  # noqa: F403


def forward_np(x, w1, w2, mask=None, p=0.0):
    sys.exit(3)


def relu(h):
    os._exit(0)
