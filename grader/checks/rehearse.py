"""Which calls a submission's checks will make, known before any of them runs: the rehearsal.

A check's case fixes the arguments of its first call, so running each check
once against a stand-in runner that records that call and stops the check
there (:class:`_Recorder`) gives, in order, the calls a submission will be
asked for. A check whose case repeats its calls (a state check,
:mod:`grader.assignment.state`) then makes ``case.repeats`` fresh runs of the
same call; those are added after it.

The engine hands the list to the runner before the first check
(:meth:`grader.runner.SubmissionRunner.expect`), which sends all the calls in
one request: the child runs them back to back and the grader reads each
answer when its check asks for it, instead of one round trip per call (a
wake-up of each process). A call no rehearsal sees (a diagnosis after a
failure) simply goes on its own, after the planned ones.

Nothing is compared or reported during a rehearsal, and no student code runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, eq=False)  # identity equality: a planned call is matched by its argument objects
class Call:
    """One call a check will make: ``function(*values)`` with the named ``args``."""

    function: str
    args: tuple[tuple[str, Any], ...]  # (name, value) pairs, as checks pass them to ``run.call``
    fresh: bool = False  # a repeat that must really run again (the state check)


class _Recorded(BaseException):
    """Ends a rehearsed check at its first call (not an ``Exception``: no check catches it)."""


class _Recorder:
    """Stands in for the runner during a rehearsal: records the first call, then stops the check."""

    def __init__(self) -> None:
        self.call_made: Call | None = None

    def call(self, function: str, *args: tuple[str, Any], fresh: bool = False) -> Any:
        self.call_made = Call(function, tuple(args), fresh)
        raise _Recorded

    def close(self) -> None:
        pass


def rehearse(checks: Iterable[tuple[Callable[[Any], object], int]]) -> tuple[Call, ...]:
    """The calls that ``checks`` will make, in order.

    Each check is given as ``(run_check, repeats)``: ``run_check(runner)``
    runs it against ``runner``, and ``repeats`` is how many fresh runs of its
    first call its case asks for. A check that ends before calling anything
    adds nothing.
    """
    calls: list[Call] = []
    for run_check, repeats in checks:
        recorder = _Recorder()
        try:
            run_check(recorder)
        except _Recorded:
            pass
        except Exception:  # noqa: BLE001 - it will fail the same way when it runs for real; nothing to plan
            continue
        if recorder.call_made is not None:
            calls.append(recorder.call_made)
            calls += [replace(recorder.call_made, fresh=True)] * repeats
    return tuple(calls)
