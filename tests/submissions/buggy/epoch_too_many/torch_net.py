"""The reference torch_net with one mistake: train_torch runs range(E + 1) with masks[e - 1].

Everything else is ``_correct_torch_net`` (the reference, added by tests/conftest.py's
``assemble``); the changed definitions replace the reference's own, so that its
other functions use them as in a whole copy with this one change.
"""

from __future__ import annotations

import torch
from torch import nn

import _correct_torch_net as _reference
from _correct_torch_net import *  # noqa: F403


def train_torch(
    x: torch.Tensor,
    target: torch.Tensor,
    w1: torch.Tensor,
    w2: torch.Tensor,
    masks: torch.Tensor,
    lr: float = 0.01,
    p: float = 0.4,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train a ``Net`` on one example with dropout: one ``torch.optim.SGD`` step per row of ``masks``.

    Args:
        x: input, shape (D,), float32.
        target: one-hot (or probability) target, shape (C,), float32.
        w1: initial first-layer weights, shape (D, H), float32; not modified.
        w2: initial second-layer weights, shape (H, C), float32; not modified.
        masks: keep-masks, shape (E, H), float32; row e is the dropout mask of
            epoch e, so E = len(masks) is the number of epochs.
        lr: learning rate.
        p: dropout probability; kept units are scaled by 1 / (1 - p).

    Returns:
        (w1, w2): the trained weights as new tensors of shapes (D, H) and (H, C).
    """
    net = Net(w1, w2, p)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(len(masks) + 1):
        mask = masks[epoch - 1]
        # forward
        loss = loss_fn(net(x, mask), target)
        # backward
        optimizer.zero_grad()
        loss.backward()
        # update (sgd)
        optimizer.step()
    return net.linear1.weight.detach().T.clone(), net.linear2.weight.detach().T.clone()


for _name in ('train_torch',):
    setattr(_reference, _name, globals()[_name])
