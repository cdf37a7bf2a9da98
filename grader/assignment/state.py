"""Calling a function as often as its case asks: once, or three times for the state check.

A state check's case (made by :func:`grader.assignment.cases.with_state_check`)
has ``repeats == 2`` and runs after every other check. Its first call is
answered from the runner's memory of the function's first answer on this
case, long before; the two repeats really run again (``fresh``), the first
after all the calls in between, the second right after it. The runner
compares each with the first answer and raises
:class:`~grader.compare.AnswerChanged` when they differ; here the message
says which repeat it was.
"""

from __future__ import annotations

from typing import Any

from grader.compare import AnswerChanged

WHEN = ("after every other check had run", "twice in a row")


def call(run: Any, case: Any, function: str, *args: tuple[str, Any]) -> Any:
    """``run.call(function, *args)``, then ``case.repeats`` fresh runs of the same call; the last answer."""
    got = run.call(function, *args)
    for repeat in range(case.repeats):
        try:
            got = run.call(function, *args, fresh=True)
        except AnswerChanged as changed:
            when = WHEN[min(repeat, len(WHEN) - 1)]
            raise AnswerChanged(f"{function}({case.label}): answered differently when called again with the same "
                                f"arguments, {when}", hint=changed.hint, detail=changed.detail) from None
    return got
