"""Stand-in for the grader's ``diagnose``: no localisation in the self-check.

The grader narrows a failure down with the reference's own intermediate
values (which step of training first goes wrong, and so on); the kit holds
no reference, so a failing visible check here gets the hint of a known
mistake when its answer matches one, and otherwise none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def add_hint(failure: Any, find: Callable[[], str | None]) -> None:
    """Leave ``failure`` as it is (``find`` would need the reference)."""


def __getattr__(name: str) -> Callable[..., None]:
    if name.startswith("__"):
        raise AttributeError(name)
    return lambda *args, **kwargs: None
