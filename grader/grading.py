"""Grade one submission: load → run → check → report.

:func:`grade` is the library entry point the command line, the batch mode and
the tests all call. It never raises for anything a submission does; a
submission that cannot even be loaded still gets a full report (status
``"error"``, every check ``error`` with the reason).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from . import __version__
from .assignment.case_sets import CaseSet, default_case_set
from .checks import run_checks
from .compare import CodeError
from .report import CheckResult, Report, TaskResult
from .rubric import Rubric, load_rubric
from .runner import SubmissionRunner
from .sandbox import Limits, Sandbox
from .submission import Submission, SubmissionError, load_submission, submission_name


@dataclass(frozen=True)
class GradingOptions:
    """Everything a grading run is configured by, built once at the edge."""

    rubric: Rubric = field(default_factory=load_rubric)
    visible_only: bool = False
    bubblewrap: bool | None = None  # None: use it when available
    seed: int = 0
    hide: Sequence[Path] = ()  # extra paths the sandbox must not show (other submissions, outputs)
    cases: CaseSet = field(default_factory=default_case_set)  # the fixed cases, or a course secret's draw

    @property
    def limits(self) -> Limits:
        return self.rubric.limits

    def open_sandbox(self) -> Sandbox:
        return Sandbox(self.limits, bubblewrap=self.bubblewrap, hide=self.hide)


@cache
def _versions() -> tuple[tuple[str, str], ...]:
    """Read once per process: package metadata lookups scan site-packages."""

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (("python", platform.python_version()), ("numpy", version("numpy")), ("torch", version("torch")),
            ("grader", __version__))


def environment() -> dict[str, str]:
    """Versions that produced a report (read from package metadata; nothing is imported)."""
    return dict(_versions())


def grade(path: Path, options: GradingOptions, *, sandbox: Sandbox | None = None) -> Report:
    """Grade the submission at ``path`` (a folder, ``.py`` or ``.ipynb``).

    Pass an open ``sandbox`` to reuse its warm worker; otherwise one is
    started and closed around this submission.
    """
    return grade_many([path], options, sandbox=sandbox)[0]


def grade_many(
    paths: Sequence[Path],
    options: GradingOptions,
    *,
    sandbox: Sandbox | None = None,
    on_start: Callable[[int], None] | None = None,
    on_report: Callable[[int, Report], None] | None = None,
) -> list[Report]:
    """Grade several submissions in one pass of the check suite (batch mode's unit of work).

    Each submission still gets its own sandboxed process, created when its
    checks start and removed before the next submission's begin; only the
    check suite's start-up is shared. ``on_start(i)`` is called as
    submission ``i`` starts, ``on_report(i, report)`` as soon as its report
    is ready. Returns one report per path, in order.
    """
    started = time.perf_counter()
    names = [submission_name(Path(path)) for path in paths]
    began: dict[int, float] = {}
    seconds: dict[int, float] = {}
    submissions: list[Submission | None] = []
    errors: list[str | None] = []
    for path in paths:
        try:
            submissions.append(load_submission(Path(path)))
            errors.append(None)
        except SubmissionError as exc:
            submissions.append(None)
            errors.append(str(exc))

    own_sandbox = sandbox is None and any(submissions)
    active = options.open_sandbox() if own_sandbox else sandbox
    try:
        runners = [
            _Unrunnable(error) if submission is None else
            SubmissionRunner(active, submission, timeout_s=options.limits.call_timeout_s, seed=options.seed)
            for submission, error in zip(submissions, errors)
        ]

        def report(index: int, checks: list[CheckResult]) -> Report:
            submission = submissions[index]
            layers = active.layers if submission is not None and active is not None else {}
            return _report(names[index], checks, options, duration_s=seconds.get(index, 0.0), layers=layers,
                           error=errors[index], submission=submission)

        def starting(index: int) -> None:
            began[index] = time.perf_counter()
            if on_start is not None:
                on_start(index)

        def finished(index: int, checks: list[CheckResult]) -> None:
            seconds[index] = time.perf_counter() - began.get(index, started)
            if on_report is not None:
                on_report(index, report(index, checks))

        results = run_checks(runners, options.rubric, visible_only=options.visible_only, on_start=starting,
                             on_results=finished, substitute=options.cases.substitute)
        return [report(index, checks) for index, checks in enumerate(results)]
    finally:
        if own_sandbox and active is not None:
            active.close()


class _Unrunnable:
    """Stands in for a runner when the submission could not be loaded: every call is an error."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def call(self, function: str, *args: Any) -> Any:
        raise CodeError(f"not run: {self.reason}")

    def close(self) -> None:
        pass


def _report(
    name: str,
    checks: list[CheckResult],
    options: GradingOptions,
    *,
    duration_s: float,
    layers: dict[str, Any],
    error: str | None = None,
    submission: Submission | None = None,
) -> Report:
    tasks = tuple(
        TaskResult(task, title, tuple(c for c in checks if c.id.split("/", 1)[0] == task))
        for task, title in options.rubric.task_titles.items()
    )
    return Report(
        submission=name,
        status="error" if error else "graded",
        tasks=tasks,
        environment=environment(),
        duration_s=max(duration_s, 0.0),
        error=error,
        sandbox=layers,
        content_hash=submission.content_hash if submission else None,
        case_fingerprint=options.cases.fingerprint,
    )
