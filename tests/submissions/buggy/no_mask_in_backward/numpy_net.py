"""The reference numpy_net with one mistake: the backward pass ignores the dropout mask.

Everything else is ``_correct_numpy_net`` (the reference, added by tests/conftest.py's
``assemble``); the changed definitions replace the reference's own, so that its
other functions use them as in a whole copy with this one change.
"""

from __future__ import annotations

import numpy as np

import _correct_numpy_net as _reference
from _correct_numpy_net import *  # noqa: F403
from _correct_numpy_net import _Cache


def _backward(
    cache: _Cache, target: np.ndarray, w2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Chain rule from the loss back to both weights: (dL/dw1 (D, H), dL/dw2 (H, C))."""
    x, h, keep, a, y = cache
    dy = softmax(y) * np.sum(target) - target    # (C,)   dL/dy: the loss's own softmax
    jacobian = np.diag(y) - np.outer(y, y)       # (C, C) dy/dz of the network's softmax
    dz = jacobian @ dy                           # (C,)   dL/dz
    dw2 = np.outer(a, dz)                        # (H, C) dL/dw2
    da = w2 @ dz                                 # (H,)   dL/da
    dh = da * (h > 0)                            # (H,)   the mask forgotten in the backward pass
    dw1 = np.outer(x, dh)                        # (D, H) dL/dw1
    return dw1, dw2


for _name in ('_backward',):
    setattr(_reference, _name, globals()[_name])
