"""Calling a function as often as its case asks: once, or twice more for the state check.

A case made by :func:`grader.assignment.cases.again` has ``calls == 2``: the
check calls the function twice with the arguments of an earlier case. The
runner compares each answer with the first answer to the same call and fails
the check when they differ (a function that keeps state between calls).
"""

from __future__ import annotations

from typing import Any


def call(run: Any, case: Any, function: str, *args: tuple[str, Any]) -> Any:
    """``run.call(function, *args)``, ``case.calls`` times; the last answer."""
    got = None
    for _ in range(max(1, case.calls)):
        got = run.call(function, *args)
    return got
