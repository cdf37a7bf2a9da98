"""Bug (like the original notebook's fixed dropout index): every epoch reuses the first mask."""
from _correct_numpy_net import *  # noqa: F403


def train_np(x, target, w1, w2, masks, lr=0.01, p=0.4):
    w1, w2 = w1.copy(), w2.copy()
    for _ in range(len(masks)):
        g1 = grad_w1_np(x, target, w1, w2, masks[0], p)
        g2 = grad_w2_np(x, target, w1, w2, masks[0], p)
        w1, w2 = w1 - lr * g1, w2 - lr * g2
    return w1, w2
