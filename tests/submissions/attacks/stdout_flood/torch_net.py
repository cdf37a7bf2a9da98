"""forward_torch prints 500 MB before answering."""
import sys

from _correct_torch_net import *  # noqa: F403
import _correct_torch_net


def forward_torch(x, w1, w2):
    chunk = "spam " * 200_000 + "\n"  # 1 MB
    for _ in range(500):
        sys.stdout.write(chunk)
    return _correct_torch_net.forward_torch(x, w1, w2)
