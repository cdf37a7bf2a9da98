"""Bug: forward_torch returns the logits, not the probabilities."""
from _correct_torch_net import *  # noqa: F403


def forward_torch(x, w1, w2):
    return torch.relu(x @ w1) @ w2
