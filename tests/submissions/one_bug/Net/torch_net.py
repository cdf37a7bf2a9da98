"""Bug: Net.forward ignores the dropout mask."""
from _correct_torch_net import *  # noqa: F403
import _correct_torch_net


class Net(_correct_torch_net.Net):
    def forward(self, x, mask=None):
        return super().forward(x, None)
