"""The checks, a pytest suite run in the grader's own (trusted) process.

:func:`run_checks` runs ``check_task*.py`` against one submission through
pytest and pytest-json-report, and folds pytest's JSON into typed
:class:`~grader.report.CheckResult` lists. Student code never runs here: the
checks reach it only through :class:`~grader.runner.SubmissionRunner`.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from pytest_jsonreport.plugin import JSONReport

from grader.report import CheckResult
from grader.rubric import Rubric
from grader.runner import SubmissionRunner

from .plugin import GradingPlugin

CHECKS_DIR = Path(__file__).resolve().parent
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
    "-o", "python_files=check_*.py",
    "-o", "addopts=",
    "-o", "filterwarnings=ignore",
    "--import-mode=importlib",
    "--rootdir", str(CHECKS_DIR),
    "--json-report-file=none",
]


class ChecksError(RuntimeError):
    """The check suite itself could not run (a grader or rubric problem)."""


def run_checks(runner: SubmissionRunner, rubric: Rubric, *, visible_only: bool = False) -> list[CheckResult]:
    """Run every check (or only the visible ones) against ``runner``'s submission."""
    grading = GradingPlugin(runner, rubric, visible_only=visible_only)
    json_report = JSONReport()
    with contextlib.redirect_stdout(io.StringIO()):  # the grader prints its own summary
        exit_code = pytest.main([*PYTEST_ARGS, str(CHECKS_DIR)], plugins=[grading, json_report])
    if grading.collection_error is not None:
        raise ChecksError(str(grading.collection_error))
    if json_report.report is None or exit_code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise ChecksError(f"the check suite did not run (pytest exit code {int(exit_code)})")
    return [_fold(test) for test in json_report.report["tests"]]


def _fold(test: dict[str, Any]) -> CheckResult:
    """One pytest-json-report test entry → a :class:`CheckResult`."""
    properties: dict[str, Any] = {}
    for entry in test.get("user_properties", []):
        properties.update(entry)
    status = properties.get("status", "error")
    max_score = float(properties["max_score"])
    return CheckResult(
        id=properties["check"],
        function=properties["function"],
        status=status,
        score=max_score if status == "pass" else 0.0,
        max_score=max_score,
        visibility=properties["visibility"],
        message=properties.get("message") or ("ok" if status == "pass" else "the check did not complete"),
        hint=properties.get("hint"),
        internal_error=properties.get("internal"),
    )
