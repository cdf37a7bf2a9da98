"""The score report: small typed results, their JSON form, and writing it safely.

Totals are derived from the checks, never stored twice. Every text that may
hold student data (messages, hints, the submission's name, errors, staff
tracebacks) goes through :mod:`grader.safe_text` on its way into the JSON, so
a report can always be encoded and written, whatever the submission sent. The JSON layout is
documented in ``docs/report.md``; ``grader/schema/report.schema.json`` pins
it and ``grader/schema/sample_report.json`` shows it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .safe_text import MAX_NAME, safe_lines, safe_text

SCHEMA_VERSION = 1
REPORT_MODE = 0o644
MAX_MESSAGE = 2000  # characters of a check's message (it quotes at most MAX_TEXT of the student's own text)
MAX_TRACEBACK = 20_000  # characters of a staff traceback


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
            "message": safe_text(self.message, MAX_MESSAGE),
            "hint": None if self.hint is None else safe_text(self.hint, MAX_MESSAGE),
        }


@dataclass(frozen=True)
class TaskResult:
    id: str
    title: str
    checks: tuple[CheckResult, ...]

    @property
    def score(self) -> float:
        return math.fsum(check.score for check in self.checks)  # fsum: 8 points over 6 checks add up to 8.0

    @property
    def max_score(self) -> float:
        return math.fsum(check.max_score for check in self.checks)

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
    warnings: tuple[str, ...] = ()  # shown once above the checks: failed imports, failed notebook cells
    case_fingerprint: str | None = None  # digest of the case set graded (never the course secret)

    @classmethod
    def without_results(
        cls,
        submission: str,
        reason: str,
        checks: Sequence[CheckResult],
        task_titles: Mapping[str, str],
        *,
        environment: dict[str, str],
        content_hash: str | None = None,
        check_message: str | None = None,
        case_fingerprint: str | None = None,
    ) -> Report:
        """The report of a submission that could not be graded (status ``error``).

        ``checks`` is the catalogue of the run's checks
        (:func:`grader.checks.catalogue`); each is listed as an ``error``
        worth 0 points whose message is ``check_message`` (default: the first
        line of ``reason``).
        """
        first_line = (reason.splitlines() or [""])[0]
        message = check_message or f"not graded: {first_line}"
        failed = [replace(check, status="error", score=0.0, message=message, hint=None,
                          internal_error=None, seconds=0.0) for check in checks]
        tasks = tuple(TaskResult(task, title, tuple(c for c in failed if c.id.split("/", 1)[0] == task))
                      for task, title in task_titles.items())
        return cls(submission=submission, status="error", tasks=tasks, environment=environment, duration_s=0.0,
                   error=reason, content_hash=content_hash, case_fingerprint=case_fingerprint)

    @property
    def score(self) -> float:
        return math.fsum(task.score for task in self.tasks)

    @property
    def max_score(self) -> float:
        return math.fsum(task.max_score for task in self.tasks)

    @property
    def checks(self) -> list[CheckResult]:
        return [check for task in self.tasks for check in task.checks]

    @property
    def internal_errors(self) -> list[dict[str, str]]:
        return [{"check": c.id, "traceback": safe_lines(c.internal_error, MAX_TRACEBACK)}
                for c in self.checks if c.internal_error]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "submission": safe_text(self.submission, MAX_NAME),
            "status": self.status,
            "score": _points(self.score),
            "max_score": _points(self.max_score),
            "warnings": [safe_text(warning, MAX_MESSAGE) for warning in self.warnings],
            "tasks": [task.to_json() for task in self.tasks],
            "environment": self.environment,
            "duration_s": round(self.duration_s, 3),
            "sandbox": self.sandbox,
            "content_hash": self.content_hash,
            "case_fingerprint": self.case_fingerprint,
        }
        if self.error:
            data["error"] = safe_text(self.error, MAX_MESSAGE)
        if self.internal_errors:
            data["internal_errors"] = self.internal_errors
        return data


def _points(value: float) -> float:
    return round(value, 4)


def dumps(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


def write_atomically(path: Path, text: str, *, durable: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Readers never see a half-written file, and an interrupted write leaves
    the previous version in place. ``durable=False`` skips the fsync, for
    files derived from others and rewritten at will (HTML pages).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, REPORT_MODE)  # mkstemp makes 0600; reports are for TAs and tools to read
        # backslashreplace: a lone surrogate that got past safe_text becomes a JSON escape, not a lost report
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_report(report: Report, path: Path) -> None:
    write_atomically(path, dumps(report))
