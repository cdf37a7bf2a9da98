"""``grader release OUT_DIR``: write what a course hands out, from the same source as the grader.

Each artefact is written by one writer, a function ``write(out_dir, context)
-> list[Path]`` in a module of its own: :mod:`.student_kit` (``OUT_DIR/student/``
and ``OUT_DIR/student.zip``), :mod:`.gradescope_zip`
(``OUT_DIR/gradescope/autograder.zip``: the grader wheel, its constraints and
the course secret, for Gradescope) and :mod:`.classroom`
(``OUT_DIR/classroom/``: GitHub Classroom's student and course workflows).
:func:`_writers` lists them; add a writer there to release one more artefact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..assignment.case_sets import CaseSet, default_case_set
from ..rubric import Rubric, load_rubric


class ReleaseError(Exception):
    """The release cannot be written (a one-line message): e.g. OUT_DIR is not empty."""


@dataclass(frozen=True)
class ReleaseContext:
    """What every writer may use: the rubric, and the course secret with the case set drawn from it.

    The secret and the hidden cases are for artefacts that grade (an
    autograder bundle); nothing a student receives may contain either.
    """

    rubric: Rubric = field(default_factory=load_rubric)
    cases: CaseSet = field(default_factory=default_case_set)
    secret: bytes | None = field(default=None, repr=False)
    wheel: Path | None = None  # the grader's wheel for the autograder (default: built from this checkout)


Writer = Callable[[Path, ReleaseContext], list[Path]]


def _writers() -> list[Writer]:
    """Every artefact's writer, in order: a module per artefact with a ``write(out_dir, context)``, listed here."""
    from . import autograder, student_kit

    return [student_kit.write, autograder.write_gradescope_bundle, autograder.write_classroom_workflows]


def release(out_dir: Path, *, force: bool = False, context: ReleaseContext | None = None,
            writers: Sequence[Writer] | None = None) -> list[Path]:
    """Write every artefact into ``out_dir`` (created; must be empty unless ``force``); return the paths written."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReleaseError(f"{out_dir}: not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise ReleaseError(f"{out_dir}: not empty (use --force to write into it anyway)")
    out_dir.mkdir(parents=True, exist_ok=True)
    context = context or ReleaseContext()
    written: list[Path] = []
    for write in writers if writers is not None else _writers():
        written += write(out_dir, context)
    return written
