"""The self-check from Python, e.g. the last cell of a student's notebook.

    from grader.selfcheck import check
    check("hw2.ipynb")

Same as ``grader check hw2.ipynb``: the visible checks only, run in the
sandbox, with a summary printed (rich renders it in Jupyter too).
"""

from __future__ import annotations

from pathlib import Path

from .grading import GradingOptions, grade
from .report import Report
from .summary import print_summary


def check(submission: str | Path = ".") -> Report:
    """Run the visible checks on ``submission`` and print what passed; returns the report."""
    path = Path(submission).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{submission}: no such file or folder")
    report = grade(path, GradingOptions(visible_only=True))
    print_summary(report, show_passing=True)
    return report
