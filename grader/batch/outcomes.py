"""One word for how a submission fared, and why: what a TA scans the class table for.

A report's ``status`` says only whether the grader could grade (``graded``)
or not (``error``). :func:`classify` tells apart, from the checks' messages
(written by :mod:`grader.runner`, which keeps their wording stable):

- ``import error``: a module could not be imported (syntax error, a missing
  package, an exception at import); the reason is the report's warning that
  says so (else the first such message);
- ``not implemented``: no check passed and every error is a function still
  raising ``NotImplementedError`` or missing (the untouched template);
- ``timed out``: some call ran past the time limit (the functions are named);
- ``graded``: everything else the grader graded (right or wrong answers);
- ``error``: the grader could not grade at all (the report's ``error``);
- ``missing``: no report (an interrupted batch, a student without submission).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GRADED, NOT_IMPLEMENTED, IMPORT_ERROR, TIMED_OUT, ERROR, MISSING = (
    "graded", "not implemented", "import error", "timed out", "error", "missing")
_IMPORT = "could not be imported: "
_NOT_IMPLEMENTED = ("is not implemented yet", "is missing: ")
_TIMED_OUT = "timed out after"


@dataclass(frozen=True)
class Outcome:
    status: str  # one of the constants above
    why: str = ""  # one line: the reason, for the class page and the student's page


def checks_of(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [check for task in report.get("tasks", []) for check in task.get("checks", [])]


def classify(report: Mapping[str, Any] | None) -> Outcome:
    """The outcome of one report (None: no report)."""
    if report is None:
        return Outcome(MISSING, "no report")
    if report.get("status") != "graded":
        return Outcome(ERROR, str(report.get("error") or "could not be graded").splitlines()[0])
    checks = checks_of(report)
    errors = [str(c.get("message", "")) for c in checks if c.get("status") == "error"]
    # the reason is stated once, in the report's warnings; the checks say "could not be imported (see above)"
    warnings = [str(w) for w in report.get("warnings") or [] if _IMPORT in str(w)]
    imports = warnings + [m for m in errors if _IMPORT in m]
    if imports:
        return Outcome(IMPORT_ERROR, _first_line(imports[0]))
    passed = any(c.get("status") == "pass" for c in checks)
    if checks and not passed and errors and all(any(p in m for p in _NOT_IMPLEMENTED) for m in errors):
        return Outcome(NOT_IMPLEMENTED, "no function is implemented yet (the template as handed out?)")
    timed_out = sorted({str(c.get("function", "?")) for c in checks
                        if c.get("status") == "error" and _TIMED_OUT in str(c.get("message", ""))})
    if timed_out:
        return Outcome(TIMED_OUT, f"timed out in {', '.join(timed_out)}")
    return Outcome(GRADED)


def _first_line(text: str) -> str:
    return text.splitlines()[0][:300] if text else ""
