"""Bug: returns linear1.weight.grad as it is, shape (H, D), without transposing it."""
from _correct_torch_net import *  # noqa: F403


def grad_w1_torch(x, target, w1, w2):
    net = Net(w1, w2)
    loss = nn.CrossEntropyLoss()(net(x), target)
    loss.backward()
    return net.linear1.weight.grad
