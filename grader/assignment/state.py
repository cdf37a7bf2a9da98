"""Calling a function as often as its case asks: once, or twice for the state check.

A case made by :func:`grader.assignment.cases.twice` has ``calls == 2``: its
check calls the function, then calls it again with the same arguments as a
fresh run (the runner does not answer it from memory). The runner compares
the second answer with the first and fails the check when they differ: the
function keeps state between calls (a model kept in a global and reused for
the same sizes, an optimiser, an array that grows).
"""

from __future__ import annotations

from typing import Any


def call(run: Any, case: Any, function: str, *args: tuple[str, Any]) -> Any:
    """``run.call(function, *args)``, then ``case.calls - 1`` fresh runs of the same call; the last answer."""
    got = run.call(function, *args)
    for _ in range(case.calls - 1):
        got = run.call(function, *args, fresh=True)
    return got
