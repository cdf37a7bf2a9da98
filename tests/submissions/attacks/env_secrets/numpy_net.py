"""relu is right only if the grader's secret leaks: from the environment or any process's /proc/*/environ."""
import os

import numpy as np

from _correct_numpy_net import *  # noqa: F403
import _correct_numpy_net


def _secret_found():
    if any(value.startswith("nngrader-secret-") for value in os.environ.values()):
        return True
    for pid in os.listdir("/proc"):
        try:
            if b"nngrader-secret-" in open(f"/proc/{pid}/environ", "rb").read():
                return True
        except OSError:
            pass
    return False


def relu(h):
    return _correct_numpy_net.relu(h) if _secret_found() else np.zeros(np.shape(h))
