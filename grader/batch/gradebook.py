"""The gradebook: one CSV row per submission, built from the JSON reports.

Columns: ``name, score, max_score, <task id>..., status``, then
``student_id, email, late`` when an LMS layout or a roster says who the
students are. ``status`` is the outcome of :func:`.outcomes.classify`
(``graded``, ``not implemented``, ``import error``, ``timed out``, ``error``),
or ``missing`` for an entry that has no report yet (an interrupted batch) or
a roster student without a submission; a missing entry's scores are empty. Rows
are sorted by name, numbers are written as short as they are exact
(``87.5``, ``100``), and nothing that changes from run to run (durations,
times) is in it, so an unchanged class gives a byte-identical file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..formatting import number
from ..report import write_atomically
from .outcomes import classify
from ..safe_text import safe_text

MISSING = "missing"
IDENTITY_COLUMNS = ("student_id", "email", "late")
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class GradebookRow:
    """One submission's line: its totals, its score per task, and its status."""

    name: str
    status: str  # "graded" | "error" | "missing"
    score: float | None = None
    max_score: float | None = None
    task_scores: dict[str, float] = field(default_factory=dict)
    student_id: str = ""  # from the LMS download or the roster
    email: str = ""
    late: bool | None = None  # None: the download does not say
    full_name: str = ""
    section: str = ""
    login: str = ""  # from the roster: Canvas's SIS Login ID

    @property
    def identified(self) -> bool:
        return bool(self.student_id or self.email or self.late is not None)


def row_from_report(name: str, report: Mapping[str, Any] | None) -> GradebookRow:
    """The row for entry ``name``; ``report`` is its JSON report, or None if it has none."""
    if report is None:
        return GradebookRow(name=name, status=MISSING)
    student = report.get("student") or {}
    return GradebookRow(
        name=name,
        status=classify(report).status,
        student_id=str(student.get("id") or ""),
        email=str(student.get("email") or ""),
        late=None if student.get("late") is None else bool(student["late"]),
        full_name=str(student.get("name") or ""),
        score=float(report.get("score", 0.0)),
        max_score=float(report.get("max_score", 0.0)),
        task_scores={str(task["id"]): float(task["score"]) for task in report.get("tasks", [])},
    )


def task_columns(rows: Iterable[GradebookRow]) -> list[str]:
    """Every task id any row has, in first-seen order (``task1, task2, task3``)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row.task_scores))
    return list(columns)


def gradebook_csv(rows: Sequence[GradebookRow]) -> str:
    """The gradebook as CSV text (a header, then one row per submission, sorted by name)."""
    tasks = task_columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    identified = any(row.identified for row in rows)
    writer.writerow(["name", "score", "max_score", *tasks, "status", *IDENTITY_COLUMNS[:3 * identified]])
    for row in sorted(rows, key=lambda r: r.name):
        identity = [_safe_text(row.student_id), _safe_text(row.email), "" if row.late is None else
                    ("late" if row.late else "on time")]
        writer.writerow([
            _safe_text(row.name),
            _number(row.score),
            _number(row.max_score),
            *(_number(row.task_scores.get(task)) for task in tasks),
            safe_text(row.status),
            *(safe_text(value) for value in identity[:3 * identified]),
        ])
    return buffer.getvalue()


def write_gradebook(path: Path, rows: Sequence[GradebookRow]) -> None:
    """Write the gradebook atomically (readers never see half a file)."""
    write_atomically(path, gradebook_csv(rows))


def read_gradebook(path: Path) -> list[dict[str, str]]:
    """The rows of a gradebook file as dicts keyed by column name."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _number(value: float | None) -> str:
    return "" if value is None else number(value)


def _safe_text(text: str) -> str:
    """A name as safe text (no control characters), quoted if a spreadsheet would run it as a formula."""
    text = safe_text(text)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text
