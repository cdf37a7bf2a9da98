"""The reference numpy_net with one mistake: the forward pass leaves out 1/(1-p), the backward pass
has it.

Everything else is ``_correct_numpy_net`` (the reference, added by tests/conftest.py's
``assemble``); the changed definitions replace the reference's own, so that its
other functions use them as in a whole copy with this one change.
"""

from __future__ import annotations

import numpy as np

import _correct_numpy_net as _reference
from _correct_numpy_net import *  # noqa: F403
from _correct_numpy_net import _Cache, _keep_scale


def _forward(
    x: np.ndarray, w1: np.ndarray, w2: np.ndarray, mask: np.ndarray | None, p: float
) -> _Cache:
    """The network's forward pass, keeping every intermediate for ``_backward``."""
    h = x @ w1                                   # (H,)
    keep = _keep_scale(mask, p, h.shape[-1])     # (H,)
    a = relu(h) * (keep * (1.0 - p) if mask is not None else keep)  # (H,) the scaling forgotten here only
    z = a @ w2                                   # (C,)
    y = softmax(z)                               # (C,)
    return _Cache(x=x, h=h, keep=keep, a=a, y=y)


for _name in ('_forward',):
    setattr(_reference, _name, globals()[_name])
