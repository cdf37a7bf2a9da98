"""The same two-layer network in PyTorch, differentiated by autograd.

Shapes: x (D,), w1 (D, H), w2 (H, C), target (C,), masks (E, H).

``nn.Linear(D, H)`` computes ``x @ weight.T``, so with the assignment's
``x @ w1`` convention ``linear1.weight`` holds ``w1.T`` (H, D) and
``linear2.weight`` holds ``w2.T`` (C, H).

The network ends in ``Softmax`` and is trained with ``nn.CrossEntropyLoss``,
which applies ``log_softmax`` once more: the double softmax of the original
notebook, and the same loss as ``numpy_net.loss_np``.
"""

from __future__ import annotations

import torch
from torch import nn


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
            a = a * mask / (1 - self.p)      # inverted dropout with the given keep-mask
        return self.softmax(self.linear2(a))  # (C,)


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
    return net(x).detach()


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
    loss = nn.CrossEntropyLoss()(net(x), target)
    # backward
    loss.backward()
    return net.linear1.weight.grad.T.clone()


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
    for mask in masks:
        # forward
        loss = loss_fn(net(x, mask), target)
        # backward
        optimizer.zero_grad()
        loss.backward()
        # update (sgd)
        optimizer.step()
    return net.linear1.weight.detach().T.clone(), net.linear2.weight.detach().T.clone()
