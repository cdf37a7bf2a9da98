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
from .checks import catalogue, run_checks
from .report import CheckResult, Report, TaskResult
from .rubric import Rubric, load_rubric
from .runner import SubmissionRunner
from .sandbox import Limits, Sandbox
from .submission import Submission, SubmissionError, load_submission, submission_name

NOT_LOADED = "not run: the submission could not be loaded (see the error above)"


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
    check suite's start-up is shared. A path that cannot be loaded gets
    :meth:`Report.without_results` and runs nothing. ``on_start(i)`` is
    called as submission ``i`` starts, ``on_report(i, report)`` as soon as
    its report is ready. Returns one report per path, in order.
    """
    reports: dict[int, Report] = {}
    loaded: list[tuple[int, Submission]] = []
    unloadable: dict[int, Report] = {}
    for index, path in enumerate(paths):
        try:
            loaded.append((index, load_submission(Path(path))))
        except SubmissionError as exc:
            unloadable[index] = Report.without_results(
                submission_name(Path(path)), str(exc), catalogue(options.rubric, visible_only=options.visible_only),
                options.rubric.task_titles, environment=environment(), check_message=NOT_LOADED,
                case_fingerprint=options.cases.fingerprint)

    def announce_unloadable(before: int) -> None:
        """Callbacks for the unloadable paths ahead of ``before``, so that they come in path order."""
        for index in sorted(i for i in unloadable if i < before):
            reports[index] = unloadable.pop(index)
            if on_start is not None:
                on_start(index)
            if on_report is not None:
                on_report(index, reports[index])

    if loaded:
        active = options.open_sandbox() if sandbox is None else sandbox
        try:
            _run_loaded(loaded, options, active, reports, on_start=on_start, on_report=on_report,
                        before_start=announce_unloadable)
        finally:
            if sandbox is None:
                active.close()
    announce_unloadable(len(paths))
    return [reports[index] for index in range(len(paths))]


def _run_loaded(
    loaded: list[tuple[int, Submission]],
    options: GradingOptions,
    sandbox: Sandbox,
    reports: dict[int, Report],
    *,
    on_start: Callable[[int], None] | None,
    on_report: Callable[[int, Report], None] | None,
    before_start: Callable[[int], None],
) -> None:
    """Run the check suite once over the loaded submissions, filling ``reports`` by path index."""
    runners = [SubmissionRunner(sandbox, submission, timeout_s=options.limits.call_timeout_s, seed=options.seed,
                                notebook_timeout_s=options.limits.notebook_timeout_s)
               for _, submission in loaded]
    began: dict[int, float] = {}

    def starting(position: int) -> None:
        before_start(loaded[position][0])
        began[position] = time.perf_counter()
        if on_start is not None:
            on_start(loaded[position][0])

    def finished(position: int, checks: list[CheckResult]) -> None:
        index, submission = loaded[position]
        duration = time.perf_counter() - began.get(position, time.perf_counter())
        reports[index] = _report(submission, checks, options, duration_s=duration, layers=sandbox.layers,
                                 warnings=runners[position].warnings)
        if on_report is not None:
            on_report(index, reports[index])

    run_checks(runners, options.rubric, visible_only=options.visible_only, on_start=starting, on_results=finished,
               substitute=options.cases.substitute)


def _report(
    submission: Submission,
    checks: list[CheckResult],
    options: GradingOptions,
    *,
    duration_s: float,
    layers: dict[str, Any],
    warnings: Sequence[str] = (),
) -> Report:
    tasks = tuple(
        TaskResult(task, title, tuple(c for c in checks if c.id.split("/", 1)[0] == task))
        for task, title in options.rubric.task_titles.items()
    )
    return Report(
        submission=submission.name,
        status="graded",
        tasks=tasks,
        environment=environment(),
        duration_s=max(duration_s, 0.0),
        sandbox=layers,
        content_hash=submission.content_hash,
        warnings=tuple(warnings),
        case_fingerprint=options.cases.fingerprint,
    )
