"""Bug (from the original notebook): the gradient is rounded to 4 decimals."""
from _correct_numpy_net import *  # noqa: F403
import _correct_numpy_net


def grad_w2_np(x, target, w1, w2, mask=None, p=0.0):
    return np.round(_correct_numpy_net.grad_w2_np(x, target, w1, w2, mask, p), 4)
