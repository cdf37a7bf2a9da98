"""``OUT_DIR/classroom/``: GitHub Classroom workflows, one for each side.

- ``student/``: copy into the assignment's template repository.
  ``.github/workflows/classroom.yml`` runs the visible checks of the student
  kit (no answers) on every push and pull request, and
  ``.github/grader/report.py`` turns their JUnit XML into annotations, the
  job summary and GitHub Classroom's points.
- ``course/``: copy into the private course repository (the one holding the
  grader). ``.github/workflows/grade.yml`` clones the students' repositories
  and grades them with the hidden checks, inside the sandbox.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates" / "classroom"
FILES = {  # template -> where it goes under OUT_DIR/classroom
    "student-classroom.yml": "student/.github/workflows/classroom.yml",
    "report.py": "student/.github/grader/report.py",
    "course-grade.yml": "course/.github/workflows/grade.yml",
    "students.txt": "course/students.txt",
}


def write_classroom(out_dir: Path) -> list[Path]:
    """Write the workflows (and what they need) under ``out_dir/classroom``; return the files written."""
    written = []
    for template, relative in FILES.items():
        target = Path(out_dir) / "classroom" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(TEMPLATES / template, target)
        written.append(target)
    return written
