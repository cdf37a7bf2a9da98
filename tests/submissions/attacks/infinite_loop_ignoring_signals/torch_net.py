"""train_torch spins forever and ignores every signal it can."""
import signal

from _correct_torch_net import *  # noqa: F403


def train_torch(x, target, w1, w2, masks, lr=0.01, p=0.4):
    for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
        signal.signal(sig, signal.SIG_IGN)
    signal.alarm(0)
    while True:
        pass
