"""The reference torch_net with one mistake: forward_torch applies softmax to the Net's output
again.

Everything else is ``_correct_torch_net`` (the reference, added by tests/conftest.py's
``assemble``); the changed definitions replace the reference's own, so that its
other functions use them as in a whole copy with this one change.
"""

from __future__ import annotations

import torch

import _correct_torch_net as _reference
from _correct_torch_net import *  # noqa: F403


def forward_torch(x: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    """Forward pass of a ``Net`` built from w1 and w2, without dropout.

    Args:
        x: input, shape (D,), float32.
        w1: first-layer weights, shape (D, H), float32.
        w2: second-layer weights, shape (H, C), float32.

    Returns:
        Output probabilities, shape (C,), float32.
    """
    net = Net(w1, w2)
    return torch.softmax(net(x), dim=-1).detach()


for _name in ('forward_torch',):
    setattr(_reference, _name, globals()[_name])
