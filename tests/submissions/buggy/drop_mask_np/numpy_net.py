"""The reference numpy_net with one mistake: the keep-mask read as a drop-mask (NumPy).

Everything else is ``_correct_numpy_net`` (the reference, added by tests/conftest.py's
``assemble``); the changed definitions replace the reference's own, so that its
other functions use them as in a whole copy with this one change.
"""

from __future__ import annotations

import numpy as np

import _correct_numpy_net as _reference
from _correct_numpy_net import *  # noqa: F403


def _keep_scale(mask: np.ndarray | None, p: float, hidden: int) -> np.ndarray:
    """Per-unit factor of inverted dropout, shape (H,): mask / (1 - p), or ones without a mask."""
    if mask is None:
        return np.ones(hidden)
    return (1.0 - mask) / (1.0 - p)


for _name in ('_keep_scale',):
    setattr(_reference, _name, globals()[_name])
