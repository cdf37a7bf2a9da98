"""Gradescope's ``results.json`` from a score report.

Gradescope runs ``/autograder/run_autograder`` in a container and reads
``/autograder/results/results.json``: a list of tests, each with a score,
a max score, a status and a visibility. Hidden checks are shown to students
only once the grades are published (``after_published``, configurable), so
their messages never leak before then.
"""

from __future__ import annotations

from typing import Any

from .report import Report


def results_json(report: Report, *, hidden_visibility: str = "after_published") -> dict[str, Any]:
    """The Gradescope results of one report."""
    tests = []
    for task_number, task in enumerate(report.tasks, start=1):
        for check_number, check in enumerate(task.checks, start=1):
            output = check.message + (f"\nHint: {check.hint}" if check.hint else "")
            tests.append({
                "name": f"{check.id} ({check.status})",
                "number": f"{task_number}.{check_number}",
                "score": round(check.score, 4),
                "max_score": round(check.max_score, 4),
                "status": "passed" if check.status == "pass" else "failed",
                "output": output,
                "tags": [task.id, check.function],
                "visibility": "visible" if check.visibility == "visible" else hidden_visibility,
            })
    output = f"{report.submission}: {report.score:g} / {report.max_score:g}"
    if report.error:
        output += f"\nThe submission could not be graded: {report.error}"
    if report.warnings:
        output += "\nWarnings:\n" + "\n".join(f"- {warning}" for warning in report.warnings)
    return {
        "score": round(report.score, 4),
        "execution_time": round(report.duration_s),
        "output": output,
        "stdout_visibility": "hidden",
        "tests": tests,
    }
