"""Everything a batch writes besides the reports, from the reports alone.

:func:`write_class_outputs` writes the gradebook (``grades.csv``), the LMS
exports asked for, the class page (``summary.html``) and a page per student
(``pages/``). It runs no student code and reads only the output folder, so
``grader batch`` and ``grader rescore`` share it. What it needs besides the
reports lives in ``OUT/.batch/``: the batch's settings (title, exports,
assignment name), a copy of the roster, and the copy-detection findings.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..report import write_atomically
from . import class_summary, exports, gradebook
from .copies import CopyFindings, read_findings, write_findings
from .exports import DEFAULT_ASSIGNMENT
from .report_page import write_report_pages
from .roster import RosterMatch, RosterStudent, match_roster, read_roster

BATCH_DIR = ".batch"
SETTINGS_FILE = "settings.json"
COPIES_FILE = "copies.json"
ROSTER_FILE = "roster.csv"


@dataclass(frozen=True)
class OutputSettings:
    """How a batch's outputs are made; kept in ``OUT/.batch/settings.json`` for ``grader rescore``."""

    title: str = "Class summary"
    exports: tuple[str, ...] = ()
    assignment: str = DEFAULT_ASSIGNMENT
    layout: str = "plain"


@dataclass
class ClassOutputs:
    """What :func:`write_class_outputs` wrote and found."""

    roster: RosterMatch | None = None
    exports: list[Path] = field(default_factory=list)
    copies: CopyFindings | None = None
    summary: class_summary.ClassSummary | None = None


def batch_dir(output: Path) -> Path:
    return Path(output) / BATCH_DIR


def save_settings(output: Path, settings: OutputSettings) -> None:
    data = asdict(settings)
    data["exports"] = list(settings.exports)
    write_atomically(batch_dir(output) / SETTINGS_FILE, json.dumps(data, indent=2) + "\n")


def load_settings(output: Path) -> OutputSettings:
    """The settings a batch saved (defaults when none)."""
    try:
        data = json.loads((batch_dir(output) / SETTINGS_FILE).read_text("utf-8"))
        return OutputSettings(title=str(data.get("title", "Class summary")),
                              exports=tuple(str(e) for e in data.get("exports", []) if e in exports.EXPORTS),
                              assignment=str(data.get("assignment", exports.DEFAULT_ASSIGNMENT)),
                              layout=str(data.get("layout", "plain")))
    except (OSError, ValueError, AttributeError):
        return OutputSettings()


def save_roster(output: Path, roster: Path) -> None:
    """Keep a copy of the roster beside the reports (rescoring uses it); the roster is read first."""
    read_roster(roster)  # refuse a bad roster before anything is graded
    batch_dir(output).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(roster, batch_dir(output) / ROSTER_FILE)


def save_copies(output: Path, findings: CopyFindings) -> None:
    write_findings(batch_dir(output) / COPIES_FILE, findings)


def write_class_outputs(output: Path, reports: Mapping[str, Mapping[str, Any] | None], *,
                        settings: OutputSettings, gradebook_path: Path, summary_path: Path,
                        pages_current: Collection[str] = ()) -> ClassOutputs:
    """The gradebook, the exports, the class page and the students' pages, atomically each.

    ``pages_current``: entries whose page was written from their present report already.
    """
    done = ClassOutputs()
    roster_path = batch_dir(output) / ROSTER_FILE
    roster: list[RosterStudent] | None = read_roster(roster_path) if roster_path.is_file() else None
    if roster is not None:
        done.roster = match_roster(roster, {name: (r or {}).get("student") for name, r in reports.items()})
    rows = gradebook_rows(reports, done.roster)
    gradebook.write_gradebook(gradebook_path, rows)
    points = max((float(r.get("max_score", 0.0)) for r in reports.values() if r and r.get("tasks")), default=0.0)
    for kind in settings.exports:
        done.exports.append(exports.write_export(kind, output, rows, assignment=settings.assignment, points=points,
                                                 participant_ids=settings.layout == "moodle"))
    done.copies = read_findings(batch_dir(output) / COPIES_FILE)
    summary = done.summary = class_summary.summarise(reports)
    class_summary.write_html(summary_path, summary, title=settings.title, copies=done.copies, roster=done.roster)
    write_report_pages(output, reports, current=pages_current)
    return done


def gradebook_rows(reports: Mapping[str, Mapping[str, Any] | None],
                   roster: RosterMatch | None) -> list[gradebook.GradebookRow]:
    """A row per entry (with what the roster knows of its student), and a ``missing`` row per absent student."""
    rows = []
    for name, report in reports.items():
        row = gradebook.row_from_report(name, report)
        student = roster.students.get(name) if roster is not None else None
        if student is not None:
            row = replace(row, student_id=row.student_id or student.id, email=row.email or student.email,
                          full_name=row.full_name or student.name, section=student.section,
                          login=student.login)
        rows.append(row)
    taken = {row.name for row in rows}
    for student in roster.missing if roster is not None else ():
        name = student.name if student.name not in taken else f"{student.name} ({student.id or student.email})"
        taken.add(name)
        rows.append(gradebook.GradebookRow(name=name, status=gradebook.MISSING, student_id=student.id,
                                           email=student.email, full_name=student.name, section=student.section,
                                           login=student.login))
    return rows
