"""Calling a function as often as its case asks: once, or again for the state check.

A case made by :func:`grader.assignment.cases.twice` has ``calls == 2``: its
check calls the function, then again with the same arguments as a fresh run
(the runner does not answer it from memory), and then runs the group's
*first* call once more, fresh, after every call made since: the same
arguments again, with other calls in between. The runner compares each
repeat with the first answer and fails the check when they differ: the
function keeps state between calls (a model kept in a global and reused for
the same sizes, an optimiser, an array that grows).
"""

from __future__ import annotations

import weakref
from typing import Any

# runner -> {function: the arguments of its first call}: what the state check repeats later
_FIRST_CALLS: weakref.WeakKeyDictionary[Any, dict[str, tuple[tuple[str, Any], ...]]] = weakref.WeakKeyDictionary()


def call(run: Any, case: Any, function: str, *args: tuple[str, Any]) -> Any:
    """``run.call(function, *args)``, then the state check's fresh repeats when ``case.calls > 1``; the answer."""
    try:
        first_calls = _FIRST_CALLS.setdefault(run, {})
    except TypeError:  # a runner that cannot be weakly referenced: no repeat of earlier calls
        first_calls = {}
    first_calls.setdefault(function, args)
    got = run.call(function, *args)
    for _ in range(case.calls - 1):
        got = run.call(function, *args, fresh=True)  # right after the first: state kept for the same sizes
    earlier = first_calls[function]
    if case.calls > 1 and earlier is not args:
        run.call(function, *earlier, fresh=True)  # the first call again, other calls in between
    return got
