"""Known wrong versions of the reference, computed in the grader's own process.

A :class:`Mistake` is a set of switches on a float64 NumPy model of the
network: each switch is one mistake students make (scaling forgotten in the
forward pass, the mask read as a drop-mask, the ReLU derivative left out...).
:func:`network` runs one forward and backward pass with the switches set,
:func:`train` a whole training run with them (plus the mistakes that only a
training loop can make: the update's sign, gradients that pile up, one epoch
too many or too few, a fixed learning rate...).

Nothing here sees student code: :mod:`.hints` turns these answers into
``{hint: wrong answer}`` tables, one per case, and the checks compare the
student's answer with them.

Shapes: ``x`` (D,), ``target`` (C,), ``w1`` (D, H), ``w2`` (H, C),
``mask`` (H,) or None, ``masks`` (E, H).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


@dataclass(frozen=True)
class Mistake:
    """Switches of the model; the defaults give the reference's answers."""

    forward_scale: bool = True      # the forward pass divides kept units by (1 - p)
    backward_scale: bool = True     # the backward pass divides the gradient of kept units by (1 - p)
    backward_mask: bool = True      # the backward pass applies the mask at all
    scale_multiplies: bool = False  # kept units multiplied by (1 - p) instead of divided (forward and backward)
    invert_mask: bool = False       # the keep-mask read as a drop-mask (1 = drop)
    double_softmax: bool = True     # the loss applies log_softmax to y (False: the textbook -sum(t log y))
    relu_gate: bool = True          # the backward pass zeroes units with h <= 0
    mean_loss: bool = False         # the loss averaged over the C classes instead of summed
    no_softmax: bool = False        # the network's output is the logits z, not softmax(z)


class Pass(NamedTuple):
    """One forward and backward pass: output y (C,), loss, dL/dw1 (D, H), dL/dw2 (H, C)."""

    y: np.ndarray
    loss: float
    dw1: np.ndarray
    dw2: np.ndarray


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable softmax over ``axis``."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_unstable(z: np.ndarray) -> np.ndarray:
    """exp(z) / sum(exp(z)) over the last axis without the shift: overflows (NaN) on large logits."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


def softmax_whole(z: np.ndarray) -> list[np.ndarray]:
    """Softmax of a 2-D array normalised over every entry at once (Python's built-in ``sum`` twice).

    Two answers: the shift by the global maximum, and by each row's
    maximum (then the rows' different shifts no longer cancel).
    """
    e = np.exp(z - z.max())
    rows = np.exp(z - z.max(axis=-1, keepdims=True))
    return [e / e.sum(), rows / rows.sum()]


def softmax_columns(z: np.ndarray) -> list[np.ndarray]:
    """Softmax of a 2-D array normalised over axis 0 (the columns) instead of each row.

    Two answers: shifted by each column's maximum (a column softmax), and by
    each row's maximum then summed over axis 0.
    """
    rows = np.exp(z - z.max(axis=-1, keepdims=True))
    return [softmax(z, axis=0), rows / rows.sum(axis=0, keepdims=True)]


def _factors(mask: np.ndarray | None, p: float, hidden: int, m: Mistake) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit dropout factors (H,) of the forward and of the backward pass."""
    if mask is None:
        return np.ones(hidden), np.ones(hidden)
    keep = 1.0 - mask if m.invert_mask else mask
    scaled = keep * (1 - p) if m.scale_multiplies else keep / (1 - p)
    forward = scaled if m.forward_scale else keep
    if not m.backward_mask:
        backward = np.ones(hidden)
    else:
        backward = scaled if m.backward_scale else keep
    return forward, backward


def network(
    x: np.ndarray, target: np.ndarray, w1: np.ndarray, w2: np.ndarray,
    mask: np.ndarray | None, p: float, m: Mistake = Mistake(),
) -> Pass:
    """Forward and backward pass of the network with the mistakes ``m``."""
    h = x @ w1                                            # (H,)
    forward, backward = _factors(mask, p, h.shape[-1], m)
    a = np.maximum(h, 0) * forward                        # (H,)
    z = a @ w2                                            # (C,)
    y = z if m.no_softmax else softmax(z)                 # (C,)
    classes = target.shape[-1]
    shrink = 1.0 / classes if m.mean_loss else 1.0
    if m.double_softmax:
        log_q = y - y.max() - np.log(np.exp(y - y.max()).sum())
        loss = -float((target * log_q).sum()) * shrink
        dy = (softmax(y) * target.sum() - target) * shrink
        dz = dy if m.no_softmax else (np.diag(y) - np.outer(y, y)) @ dy
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = -float((target * np.log(y)).sum()) * shrink
        dz = (y * target.sum() - target) * shrink
    da = w2 @ dz                                          # (H,)
    dh = da * backward * ((h > 0) if m.relu_gate else 1.0)
    return Pass(y=y, loss=loss, dw1=np.outer(x, dh), dw2=np.outer(a, dz))  # dL/dw2 uses the forward pass's a


@dataclass(frozen=True)
class Loop:
    """Mistakes of a training loop (on top of a :class:`Mistake` in each step)."""

    ascent: bool = False          # w + lr * g instead of w - lr * g
    accumulate: bool = False      # gradients never reset: step e uses g_0 + ... + g_e
    skip_first: bool = False      # one epoch too few: masks[1:]
    skip_last: bool = False       # one epoch too few: masks[:-1]
    extra_last: bool = False      # one epoch too many: the last mask used twice
    extra_first: bool = False     # one epoch too many: range(E + 1) with masks[e - 1] (masks[-1] first)
    reversed_masks: bool = False  # the masks used last row first
    first_mask_only: bool = False  # masks[0] in every epoch
    fixed_lr: float | None = None  # the learning rate hard-coded (0.01) instead of the lr argument
    fixed_p: float | None = None   # p hard-coded (0.4) instead of the p argument
    w2_after_w1: bool = False     # w1 updated first, then dL/dw2 computed with the new w1
    w1_after_w2: bool = False     # w2 updated first, then dL/dw1 computed with the new w2


def train(
    x: np.ndarray, target: np.ndarray, w1: np.ndarray, w2: np.ndarray, masks: np.ndarray,
    lr: float, p: float, m: Mistake = Mistake(), loop: Loop = Loop(),
) -> tuple[np.ndarray, np.ndarray]:
    """Weights (w1 (D, H), w2 (H, C)) after one SGD step per mask row, with the mistakes ``m`` and ``loop``."""
    rows = list(masks)
    if loop.reversed_masks:
        rows = rows[::-1]
    if loop.first_mask_only:
        rows = rows[:1] * len(rows)
    if loop.skip_first:
        rows = rows[1:]
    if loop.skip_last:
        rows = rows[:-1]
    if loop.extra_last:
        rows = rows + rows[-1:]
    if loop.extra_first:
        rows = rows[-1:] + rows
    lr = loop.fixed_lr if loop.fixed_lr is not None else lr
    p = loop.fixed_p if loop.fixed_p is not None else p
    sign = 1.0 if loop.ascent else -1.0
    w1, w2 = np.array(w1, dtype=np.float64), np.array(w2, dtype=np.float64)
    total1, total2 = np.zeros_like(w1), np.zeros_like(w2)
    with np.errstate(all="ignore"):
        for mask in rows:
            step = network(x, target, w1, w2, mask, p, m)
            g1, g2 = step.dw1, step.dw2
            if loop.accumulate:
                total1, total2 = total1 + g1, total2 + g2
                g1, g2 = total1, total2
            if loop.w2_after_w1:
                w1 = w1 + sign * lr * g1
                w2 = w2 + sign * lr * network(x, target, w1, w2, mask, p, m).dw2
            elif loop.w1_after_w2:
                w2 = w2 + sign * lr * g2
                w1 = w1 + sign * lr * network(x, target, w1, w2, mask, p, m).dw1
            else:
                w1, w2 = w1 + sign * lr * g1, w2 + sign * lr * g2
    return w1, w2
