"""Leaves a double-forked, setsid daemon behind at import, then behaves."""
import os
import time

from _correct_numpy_net import *  # noqa: F403

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(3600):
            time.sleep(1)
    os._exit(0)
os.wait()
