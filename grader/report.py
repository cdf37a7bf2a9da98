"""The score report: small typed results, their JSON form, and writing it safely.

Totals are derived from the checks, never stored twice. The JSON layout is
the contract in ``spec/REPORT.md``; ``grader/schema/report.schema.json``
pins it and ``grader/schema/sample_report.json`` shows it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
REPORT_MODE = 0o644


@dataclass(frozen=True)
class CheckResult:
    """One check: ``status`` is "pass" (right), "fail" (wrong answer) or "error" (did not run)."""

    id: str  # "task1/forward_np/x1"
    function: str
    status: str
    score: float
    max_score: float
    visibility: str  # "visible" | "hidden"
    message: str
    hint: str | None = None
    internal_error: str | None = None  # a grader traceback, for staff; never the student's fault
    seconds: float = 0.0  # how long the check took (not in the JSON: reports of unchanged code stay equal)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "function": self.function,
            "status": self.status,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "visibility": self.visibility,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class TaskResult:
    id: str
    title: str
    checks: tuple[CheckResult, ...]

    @property
    def score(self) -> float:
        return sum(check.score for check in self.checks)

    @property
    def max_score(self) -> float:
        return sum(check.max_score for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "checks": [check.to_json() for check in self.checks],
        }


@dataclass(frozen=True)
class Report:
    """The outcome of grading one submission."""

    submission: str
    status: str  # "graded" | "error"
    tasks: tuple[TaskResult, ...]
    environment: dict[str, str]
    duration_s: float
    error: str | None = None  # why the grader could not grade at all
    sandbox: dict[str, Any] = field(default_factory=dict)
    content_hash: str | None = None
    case_fingerprint: str | None = None  # digest of the case set graded (never the course secret)

    @property
    def score(self) -> float:
        return sum(task.score for task in self.tasks)

    @property
    def max_score(self) -> float:
        return sum(task.max_score for task in self.tasks)

    @property
    def checks(self) -> list[CheckResult]:
        return [check for task in self.tasks for check in task.checks]

    @property
    def internal_errors(self) -> list[dict[str, str]]:
        return [{"check": c.id, "traceback": c.internal_error} for c in self.checks if c.internal_error]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "submission": self.submission,
            "status": self.status,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "tasks": [task.to_json() for task in self.tasks],
            "environment": self.environment,
            "duration_s": round(self.duration_s, 3),
            "sandbox": self.sandbox,
            "content_hash": self.content_hash,
            "case_fingerprint": self.case_fingerprint,
        }
        if self.error:
            data["error"] = self.error
        if self.internal_errors:
            data["internal_errors"] = self.internal_errors
        return data


def _points(value: float) -> float:
    return round(value, 4)


def dumps(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Readers never see a half-written file, and an interrupted write leaves
    the previous version in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, REPORT_MODE)  # mkstemp makes 0600; reports are for TAs and tools to read
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_report(report: Report, path: Path) -> None:
    write_atomically(path, dumps(report))
