"""Patches NumPy's (and torch's) comparisons to always agree, then returns wrong gradients."""
import numpy as np
import torch

from _correct_numpy_net import *  # noqa: F403

np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_equal = lambda *args, **kwargs: None
torch.allclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None


def grad_w1_np(x, target, w1, w2, mask=None, p=0.0):
    return np.ones_like(w1)
