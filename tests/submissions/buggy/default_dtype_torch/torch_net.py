"""The reference, except that train_torch switches torch's default dtype to float64 ("more precise").

That changes every later call in the process: this Net builds its layers in
the default dtype, as most code does, so after a training its float64 layers
no longer accept the float32 input. Only a check that calls the Net again
after train_torch has run can see it.
"""

import torch
from torch import nn

from _correct_torch_net import *  # noqa: F403


class Net(nn.Module):
    def __init__(self, w1, w2, p=0.4):
        super().__init__()
        self.p = p
        self.linear1 = nn.Linear(w1.shape[0], w1.shape[1], bias=False)  # the default dtype
        self.linear2 = nn.Linear(w2.shape[0], w2.shape[1], bias=False)
        with torch.no_grad():
            self.linear1.weight.copy_(w1.T)
            self.linear2.weight.copy_(w2.T)

    def forward(self, x, mask=None):
        a = torch.relu(self.linear1(x))
        if mask is not None:
            a = a * mask / (1 - self.p)
        return torch.softmax(self.linear2(a), dim=-1)


def train_torch(x, target, w1, w2, masks, lr=0.01, p=0.4):
    torch.set_default_dtype(torch.float64)
    net = Net(w1.double(), w2.double(), p)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    for mask in masks:
        loss = nn.CrossEntropyLoss()(net(x.double(), mask.double()), target.double())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.linear1.weight.detach().T.float(), net.linear2.weight.detach().T.float()
