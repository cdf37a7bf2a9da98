"""The reference torch_net with one mistake: the keep-mask read as a drop-mask (torch).

Everything else is ``_correct_torch_net`` (the reference, added by tests/conftest.py's
``assemble``); the changed definitions replace the reference's own, so that its
other functions use them as in a whole copy with this one change.
"""

from __future__ import annotations

import torch
from torch import nn

import _correct_torch_net as _reference
from _correct_torch_net import *  # noqa: F403


class Net(nn.Module):
    """Linear (no bias) -> ReLU -> inverted dropout (given mask) -> Linear (no bias) -> Softmax.

    Args:
        w1: first-layer weights, shape (D, H); copied into ``linear1.weight`` as w1.T.
        w2: second-layer weights, shape (H, C); copied into ``linear2.weight`` as w2.T.
        p: dropout probability; kept units are scaled by 1 / (1 - p).
    """

    def __init__(self, w1: torch.Tensor, w2: torch.Tensor, p: float = 0.4) -> None:
        """Build the layers and copy the weights in (the caller's tensors are not aliased)."""
        super().__init__()
        d, h = w1.shape
        c = w2.shape[1]
        self.p = p
        self.linear1 = nn.Linear(d, h, bias=False, dtype=w1.dtype)
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(h, c, bias=False, dtype=w2.dtype)
        self.softmax = nn.Softmax(dim=-1)
        with torch.no_grad():  # copy_ writes into the layers' own storage
            self.linear1.weight.copy_(w1.T)
            self.linear2.weight.copy_(w2.T)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Forward pass.

        Args:
            x: input, shape (D,).
            mask: keep-mask of shape (H,) (1.0 keeps a unit, 0.0 drops it), or
                None for no dropout.

        Returns:
            Output probabilities, shape (C,).
        """
        a = self.relu(self.linear1(x))       # (H,)
        if mask is not None:
            a = a * (1 - mask) / (1 - self.p)  # mask polarity inverted
        return self.softmax(self.linear2(a))  # (C,)


for _name in ('Net',):
    setattr(_reference, _name, globals()[_name])
