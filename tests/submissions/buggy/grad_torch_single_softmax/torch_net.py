"""The reference torch_net with one mistake: grad_w1_torch uses the textbook cross-entropy on the
probabilities.

Everything else is ``_correct_torch_net`` (the reference, added by tests/conftest.py's
``assemble``); the changed definitions replace the reference's own, so that its
other functions use them as in a whole copy with this one change.
"""

from __future__ import annotations

import torch

import _correct_torch_net as _reference
from _correct_torch_net import *  # noqa: F403


def grad_w1_torch(
    x: torch.Tensor, target: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor
) -> torch.Tensor:
    """Gradient of the loss with respect to w1, by autograd, without dropout.

    The loss is ``nn.CrossEntropyLoss()`` applied to the ``Net``'s output
    probabilities and ``target`` (the double softmax).

    Args:
        x: input, shape (D,), float32.
        target: one-hot (or probability) target, shape (C,), float32.
        w1: first-layer weights, shape (D, H), float32.
        w2: second-layer weights, shape (H, C), float32.

    Returns:
        dL/dw1, shape (D, H), float32 (the transpose of ``linear1.weight.grad``).
    """
    net = Net(w1, w2)
    # forward
    loss = -(target * torch.log(net(x))).sum()
    # backward
    loss.backward()
    return net.linear1.weight.grad.T.clone()


for _name in ('grad_w1_torch',):
    setattr(_reference, _name, globals()[_name])
