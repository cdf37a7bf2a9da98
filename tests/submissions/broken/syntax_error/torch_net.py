"""A syntax error: every torch check errors, the NumPy checks are graded normally."""
import torch


def forward_torch(x, w1, w2)
    return x
