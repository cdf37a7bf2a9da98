"""The checks, a pytest suite run in the grader's own (trusted) process.

:func:`run_checks` runs ``grader/assignment/checks/check_task*.py`` against
one or more submissions in one pytest session. There is one results path:
pytest-json-report builds each check's JSON entry, the plugin hands a
submission's entries over as soon as its last check ends, and :func:`_fold`
turns each into a typed :class:`~grader.report.CheckResult`. Student code never
runs here: the checks reach it only through
:class:`~grader.runner.SubmissionRunner`.

:func:`catalogue` lists the checks without running any (collection only), for
the report of a submission that could not be graded.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from pytest_jsonreport.plugin import JSONReport

from grader.report import CheckResult
from grader.rubric import Rubric
from .plugin import GradingPlugin, Runner

CHECKS_DIR = Path(__file__).resolve().parents[1] / "assignment" / "checks"
PYTEST_ARGS = [
    "-q",
    "-p", "no:cacheprovider",  # never write .pytest_cache next to the checks
    "-p", "no:randomly",
    # Plugins the checks do not need and that cost time per submission
    # (unraisableexception runs gc.collect, logging wraps every phase).
    "-p", "no:logging",
    "-p", "no:unraisableexception",
    "-p", "no:threadexception",
    "-p", "no:doctest",
    "-p", "no:junitxml",
    "-p", "no:pastebin",
    "-p", "no:nose",
    "-p", "no:warnings",
    "-p", "no:faulthandler",
    "-p", "no:stepwise",
    "-p", "no:setuponly",
    "-p", "no:setupplan",
    "-p", "no:tmpdir",
    "-p", "no:monkeypatch",
    "-p", "no:recwarn",
    "-p", "no:debugging",
    "--capture=no",  # student code never runs in this process: nothing to capture
    "-o", "python_files=check_*.py",
    "-o", "addopts=",
    "--import-mode=importlib",
    "--rootdir", str(CHECKS_DIR),
    "--json-report-file=none",
]


class ChecksError(RuntimeError):
    """The check suite itself could not run (a grader or rubric problem)."""


def run_checks(
    runners: Sequence[Runner],
    rubric: Rubric,
    *,
    visible_only: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_results: Callable[[int, list[CheckResult]], None] | None = None,
    substitute: Callable[[Any], Any] | None = None,
) -> list[list[CheckResult]]:
    """Run every check (or only the visible ones) against each runner's submission.

    One pytest session grades all of ``runners`` one after the other (its
    start-up and collection are paid once); ``on_start(i)`` is called when
    submission ``i`` starts and ``on_results(i, results)`` as soon as it is
    done. ``substitute(case)`` gives the case to grade instead of each
    case of :mod:`grader.assignment.cases` (hidden cases drawn from a course
    secret). Returns one list of results per runner, in order, folded from
    pytest-json-report's JSON.
    """

    results: list[list[CheckResult]] = [[] for _ in runners]

    def done(index: int, entries: list[dict[str, Any]]) -> None:
        results[index] = [_fold(entry)[1] for entry in entries]
        if on_results is not None:
            on_results(index, results[index])

    json_report = JSONReport()
    grading = GradingPlugin(runners, rubric, json_report, visible_only=visible_only, on_start=on_start, on_done=done,
                            substitute=substitute)
    try:
        exit_code = _pytest(grading, json_report)
    finally:
        grading.close_runners()
    if grading.collection_error is not None:
        raise ChecksError(str(grading.collection_error))
    if exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise ChecksError(f"the check suite did not run (pytest exit code {int(exit_code)})")
    return results


def catalogue(rubric: Rubric, *, visible_only: bool = False) -> tuple[CheckResult, ...]:
    """Every check this rubric prices, as it appears in a report, with no outcome yet (status ``error``).

    Found by collecting the suite (nothing runs): the ids, functions,
    visibility and points of a report that could not be graded. Collected
    once per process and rubric.
    """
    key = (repr(rubric), visible_only)
    if key not in _CATALOGUES:
        _CATALOGUES[key] = _collect(rubric, visible_only=visible_only)
    return _CATALOGUES[key]


_CATALOGUES: dict[tuple[str, bool], tuple[CheckResult, ...]] = {}


def _collect(rubric: Rubric, *, visible_only: bool) -> tuple[CheckResult, ...]:
    grading = GradingPlugin([_NoRunner()], rubric, JSONReport(), visible_only=visible_only)
    exit_code = _pytest(grading, None, "--collect-only")
    if grading.collection_error is not None:
        raise ChecksError(str(grading.collection_error))
    if exit_code != pytest.ExitCode.OK:
        raise ChecksError(f"the check suite could not be collected (pytest exit code {int(exit_code)})")
    return tuple(_fold({"user_properties": [{key: value} for key, value in properties]})[1]
                 for properties in grading.collected)


def _pytest(grading: GradingPlugin, json_report: JSONReport | None, *extra: str) -> int | pytest.ExitCode:
    plugins: list[Any] = [grading] if json_report is None else [grading, json_report]
    with contextlib.redirect_stdout(io.StringIO()):  # the grader prints its own summary
        return pytest.main([*PYTEST_ARGS, *extra, str(CHECKS_DIR)], plugins=plugins)


class _NoRunner:
    """The one "submission" of a collection-only session: never called."""

    def call(self, function: str, *args: tuple[str, Any]) -> Any:
        raise AssertionError("catalogue() runs no check")

    def close(self) -> None:
        pass


def _seconds(test: dict[str, Any]) -> float:
    """How long one check took, over its setup, call and teardown."""
    return sum(float(test.get(stage, {}).get("duration", 0.0)) for stage in ("setup", "call", "teardown"))


def _fold(test: dict[str, Any]) -> tuple[int, CheckResult]:
    """One pytest-json-report test entry → (submission index, :class:`CheckResult`)."""
    properties: dict[str, Any] = {}
    for entry in test.get("user_properties", []):
        properties.update(entry)
    status = properties.get("status", "error")
    max_score = float(properties["max_score"])
    return int(properties["submission"]), CheckResult(
        id=properties["check"],
        function=properties["function"],
        status=status,
        score=max_score if status == "pass" else 0.0,
        max_score=max_score,
        visibility=properties["visibility"],
        message=properties.get("message") or ("ok" if status == "pass" else "the check did not complete"),
        hint=properties.get("hint"),
        internal_error=properties.get("internal"),
        seconds=_seconds(test),
    )
