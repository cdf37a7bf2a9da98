"""Gradebook files an LMS imports: Canvas's gradebook CSV and Moodle's grading worksheet.

- **Canvas** (Grades → Import): the columns of Canvas's own gradebook export,
  ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per
  assignment named ``Assignment name (assignment id)``; the second line,
  ``Points Possible``, gives the assignment's points. Canvas matches students
  by ``ID`` (the Canvas user id that names the downloaded files) or by the
  SIS ids. Pass ``--assignment "HW2 (123456)"`` with the id Canvas shows to
  fill the existing column rather than create a new one.
- **Moodle** (assignment → Grading action → Upload grading worksheet): the
  worksheet's ``Identifier`` is ``Participant <id>``, the id that names the
  downloaded folders; ``Grade`` and ``Maximum Grade`` follow. ``Email
  address`` is there too (and ``Identifier`` left empty when the download
  was not Moodle's), so that the course gradebook's CSV import
  (Grades → Import → CSV, "map from Email address") can use the same file.

Rows are the gradebook's (:mod:`.gradebook`): a ``missing`` student gets an
empty grade, never a zero the TA did not decide on. Text cells that a
spreadsheet would run as a formula are quoted as in the gradebook.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from ..report import write_atomically
from .gradebook import MISSING, GradebookRow, _number, _safe_text

EXPORTS = ("canvas", "moodle")
DEFAULT_ASSIGNMENT = "Two-layer network"
CANVAS_FILE = "canvas_gradebook.csv"
MOODLE_FILE = "moodle_grades.csv"


def canvas_csv(rows: Sequence[GradebookRow], *, assignment: str, points: float) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
    writer.writerow(["Points Possible", "", "", "", "", _number(points)])
    for row in sorted(rows, key=lambda r: (r.full_name or r.name).casefold()):
        writer.writerow([_safe_text(row.full_name or row.name), _safe_text(row.student_id), "",
                         _safe_text(row.login), _safe_text(row.section), _grade(row)])
    return buffer.getvalue()


def moodle_csv(rows: Sequence[GradebookRow], *, points: float, participant_ids: bool = True) -> str:
    """The grading worksheet; ``Identifier`` only when the ids are Moodle's participant ids (its own download)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                     "Feedback comments"])
    for row in sorted(rows, key=lambda r: (r.full_name or r.name).casefold()):
        identifier = f"Participant {row.student_id}" if participant_ids and row.student_id.isdigit() else ""
        writer.writerow([identifier, _safe_text(row.full_name or row.name), _safe_text(row.email), row.status,
                         _grade(row), _number(points), _feedback(row)])
    return buffer.getvalue()


def write_export(kind: str, output: Path, rows: Sequence[GradebookRow], *, assignment: str, points: float,
                 participant_ids: bool = False) -> Path:
    """Write the ``kind`` export into ``output``; returns its path."""
    if kind == "canvas":
        path, text = Path(output) / CANVAS_FILE, canvas_csv(rows, assignment=assignment, points=points)
    elif kind == "moodle":
        path, text = Path(output) / MOODLE_FILE, moodle_csv(rows, points=points, participant_ids=participant_ids)
    else:
        raise ValueError(f"unknown export {kind!r} (choose from {', '.join(EXPORTS)})")
    write_atomically(path, text)
    return path


def _grade(row: GradebookRow) -> str:
    return "" if row.status == MISSING or row.score is None else _number(row.score)


def _feedback(row: GradebookRow) -> str:
    if row.status == MISSING:
        return "no submission"
    return f"autograder: {_number(row.score)} / {_number(row.max_score)} ({row.status})"
