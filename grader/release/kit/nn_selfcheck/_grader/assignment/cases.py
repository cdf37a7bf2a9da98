"""Stand-in for the grader's ``cases``: the visible cases only, from ``data.json``.

Every list the grader defines is here (``cases.FORWARD``, ...), holding its
visible cases; hidden cases exist only on the grader's side.
"""

from __future__ import annotations

from typing import Any

from ._data import Case, case_lists

ArrayCase = NetCase = TrainCase = Case  # the names the checks' annotations use

globals().update(case_lists())


def __getattr__(name: str) -> Any:
    raise AttributeError(f"the self-check's cases define no {name!r}")
