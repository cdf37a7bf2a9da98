"""Correct, but prints to stdout and stderr and raises warnings everywhere: that costs nothing."""
import sys
import warnings

import numpy as np

import _correct_numpy_net
from _correct_numpy_net import *  # noqa: F403

print("importing numpy_net")
warnings.warn("a warning at import")


def _noisy(function):
    def wrapper(*args, **kwargs):
        print(f"calling {function.__name__}")
        print("debug output", file=sys.stderr)
        warnings.warn(f"{function.__name__} is noisy", RuntimeWarning)
        np.log(np.zeros(1))  # a NumPy RuntimeWarning too
        return function(*args, **kwargs)
    return wrapper


for _name in ("relu", "softmax", "forward_np", "loss_np", "grad_w1_np", "grad_w2_np", "train_np"):
    globals()[_name] = _noisy(getattr(_correct_numpy_net, _name))
