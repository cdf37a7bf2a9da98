"""The checks, run in the grader's own (trusted) process: check → result.

:mod:`~grader.checks.collect` finds the checks of
``grader/assignment/checks/check_task*.py`` (a pytest suite, collected once per
process); :func:`run_checks` calls each of them for each submission (in suite
order, the state checks last) and records how it ended: it returned (``pass``, with the message it
gave ``passed``), raised :class:`~grader.compare.CheckFailed` (``fail``, with
its hint), raised :class:`~grader.compare.CodeError` (``error``: the student's
code did not run), or raised anything else (a grader bug: ``error``, with the
traceback kept for staff). Student code never runs here: the checks reach it
only through the runner (:class:`~grader.runner.SubmissionRunner`).

A check asks, by argument name, for ``case`` (its parametrized case),
``run`` (the submission), ``tolerance`` (the rubric's tolerance for its
group) and ``passed`` (records the pass message). Its points are its share of
the rubric's points for its group (:meth:`~grader.rubric.Rubric.shares`).

Before the first check, a rehearsal (:mod:`~grader.checks.rehearse`) learns
which calls the checks will make; a runner that has ``expect(calls)`` is
told, so that it can ask for them all at once.

:func:`catalogue` lists the checks without running any, for the report of a
submission that could not be graded.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from grader.compare import CheckFailed, CodeError
from grader.report import CheckResult
from grader.rubric import Rubric, RubricError
from .collect import Check, CollectionError, collected
from .rehearse import Call, rehearse

INTERNAL_ERROR = "internal grader error: this check could not be graded (course staff have the details)"
MAX_INTERNAL = 20_000  # characters of a grader traceback kept for staff


class ChecksError(RuntimeError):
    """The check suite itself could not run (a grader or rubric problem)."""


class Runner(Protocol):
    """What checks call student code through (:class:`~grader.runner.SubmissionRunner`).

    A runner may also have ``expect(calls: Sequence[Call])``: the calls its
    checks will make, in order, told before the first check runs.
    """

    def call(self, function: str, *args: tuple[str, Any], fresh: bool = False) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class _Priced:
    """A check as this run grades it: its case (after substitution), id and points."""

    check: Check
    case: Any
    id: str
    max_score: float

    @property
    def visibility(self) -> str:
        return "visible" if self.case.visible else "hidden"


def run_checks(
    runners: Sequence[Runner],
    rubric: Rubric,
    *,
    visible_only: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_results: Callable[[int, list[CheckResult]], None] | None = None,
    substitute: Callable[[Any], Any] | None = None,
) -> list[list[CheckResult]]:
    """Run every check (or only the visible ones) against each runner's submission, one after the other.

    The results of a submission come in suite order, although its state
    checks run after all the others (see :mod:`~grader.checks.collect`).

    ``on_start(i)`` is called when submission ``i`` starts and
    ``on_results(i, results)`` as soon as it is done (its runner already
    closed). ``substitute(case)`` gives the case to grade instead of each
    case of :mod:`grader.assignment.cases` (hidden cases drawn from a course
    secret). Returns one list of results per runner, in order.
    """
    checks = _priced(rubric, visible_only=visible_only, substitute=substitute)
    order = sorted(range(len(checks)), key=lambda position: checks[position].check.runs_last)  # stable
    plan = _plan([checks[position] for position in order], rubric)
    results: list[list[CheckResult]] = []
    try:
        for index, runner in enumerate(runners):
            if on_start is not None:
                on_start(index)
            outcome: list[CheckResult] = [None] * len(checks)  # type: ignore[list-item]
            try:
                expect = getattr(runner, "expect", None)
                if expect is not None:
                    expect(plan)
                for position in order:
                    outcome[position] = _run(checks[position], runner, rubric)
            finally:
                runner.close()
            results.append(outcome)
            if on_results is not None:
                on_results(index, outcome)
    finally:
        for runner in runners:
            runner.close()
    return results


def catalogue(rubric: Rubric, *, visible_only: bool = False) -> tuple[CheckResult, ...]:
    """Every check this rubric prices, as it appears in a report, with no outcome yet (status ``error``).

    The ids, functions, visibility and points of a report that could not be
    graded; nothing runs.
    """
    return tuple(CheckResult(id=check.id, function=check.check.subject, status="error", score=0.0,
                             max_score=check.max_score, visibility=check.visibility,
                             message="the check did not complete")
                 for check in _priced(rubric, visible_only=visible_only))


def _priced(rubric: Rubric, *, visible_only: bool, substitute: Callable[[Any], Any] | None = None) -> list[_Priced]:
    """The suite's checks priced by ``rubric``, with their cases substituted, visible ones only if asked."""
    try:
        checks = collected()
        counts = Counter(check.group for check in checks)
        rubric.verify_groups(dict(counts))
        shares = {group: iter(rubric.shares(group, count)) for group, count in counts.items()}
    except (CollectionError, RubricError) as exc:
        raise ChecksError(str(exc)) from None
    priced = []
    for check in checks:
        case = check.case if substitute is None else substitute(check.case)
        points = next(shares[check.group])
        if not (visible_only and not case.visible):
            priced.append(_Priced(check, case, f"{check.group}/{case.id}", points))
    return priced


def _plan(checks: Sequence[_Priced], rubric: Rubric) -> tuple[Call, ...]:
    """The calls ``checks`` will make when run in this order (:func:`~grader.checks.rehearse.rehearse`)."""
    return rehearse(((lambda run, priced=priced: _call(priced, run, rubric, lambda message: None)),
                     int(getattr(priced.case, "repeats", 0))) for priced in checks)


def _call(priced: _Priced, runner: Any, rubric: Rubric, passed: Callable[[str], None]) -> None:
    """Call one check's function with the arguments it asks for."""
    check = priced.check
    given = {"case": priced.case, "run": runner, "tolerance": rubric.group(check.group).tolerance, "passed": passed}
    check.function(**{name: given[name] for name in check.arguments})


def _run(priced: _Priced, runner: Runner, rubric: Rubric) -> CheckResult:
    """Call one check on one submission and record how it ended."""
    check = priced.check
    messages: list[str] = []
    status, hint, internal = "pass", None, None
    started = time.perf_counter()
    try:
        _call(priced, runner, rubric, messages.append)
    except CheckFailed as failure:
        status, hint = "fail", failure.hint
        messages.append(failure.message)
    except CodeError as error:
        status = "error"
        messages.append(error.message)
    except Exception as bug:  # noqa: BLE001 - a grader bug costs this check, never the run
        status, internal = "error", "".join(traceback.format_exception(bug))[-MAX_INTERNAL:]
        messages.append(INTERNAL_ERROR)
    seconds = time.perf_counter() - started
    return CheckResult(
        id=priced.id,
        function=check.subject,
        status=status,
        score=priced.max_score if status == "pass" else 0.0,
        max_score=priced.max_score,
        visibility=priced.visibility,
        message=(messages[-1] if messages else "") or ("ok" if status == "pass" else "the check did not complete"),
        hint=hint,
        internal_error=internal,
        seconds=seconds,
    )
