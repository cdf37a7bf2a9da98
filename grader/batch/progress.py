"""What a batch shows while it runs: a rich progress bar on a terminal, plain lines elsewhere.

Both displays implement :class:`BatchProgress`; :func:`progress_for` picks
one for a console. Plain lines (one per submission) suit CI logs and files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, \
    TimeRemainingColumn
from rich.text import Text

from ..formatting import number
from ..safe_text import safe_text


class BatchProgress(Protocol):
    """Receives a batch's events in order: ``start``, ``finished`` per graded entry, ``stop``."""

    def start(self, *, total: int, up_to_date: int, to_grade: int, workers: int) -> None: ...

    def finished(self, name: str, report: Mapping[str, Any], *, grader_failure: bool) -> None: ...

    def stop(self) -> None: ...


def describe(report: Mapping[str, Any]) -> str:
    """``"87.5 / 100"`` or ``"error: <why>"``, on one line."""
    if report.get("status") == "graded":
        return f"{number(report.get('score', 0))} / {number(report.get('max_score', 0))}"
    reason = (str(report.get("error") or "could not be graded").splitlines() or [""])[0]
    return f"error: {safe_text(reason)}"


class PlainProgress:
    """One line per event, for logs (``[  3/10] alice: 87.5 / 100``)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._done = 0
        self._to_grade = 0

    def start(self, *, total: int, up_to_date: int, to_grade: int, workers: int) -> None:
        self._to_grade = to_grade
        line = f"{total} submission(s): {up_to_date} up to date, {to_grade} to grade"
        if to_grade:
            line += f" with {workers} worker(s)"
        self.console.print(Text(line))

    def finished(self, name: str, report: Mapping[str, Any], *, grader_failure: bool) -> None:
        self._done += 1
        width = len(str(self._to_grade))
        line = f"[{self._done:>{width}}/{self._to_grade}] {safe_text(name)}: {describe(report)}"
        if grader_failure:
            line += " (grader failure; retried on the next run)"
        self.console.print(Text(line))

    def stop(self) -> None:
        pass


class BarProgress:
    """A rich progress bar; submissions that could not be graded are printed above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), console=console, transient=False,
        )
        self._task: TaskID | None = None

    def start(self, *, total: int, up_to_date: int, to_grade: int, workers: int) -> None:
        self.console.print(Text(f"{total} submission(s): {up_to_date} up to date, {to_grade} to grade"))
        if to_grade:
            self._progress.start()
            starting = f"starting {workers} worker(s)" if workers else "grading"
            self._task = self._progress.add_task(starting, total=to_grade)

    def finished(self, name: str, report: Mapping[str, Any], *, grader_failure: bool) -> None:
        if report.get("status") != "graded" or grader_failure:
            style = "red" if grader_failure else "yellow"
            self._progress.console.print(Text(f"{safe_text(name)}: {describe(report)}", style=style))
        if self._task is not None:
            self._progress.update(self._task, advance=1, description=f"grading ({escape(safe_text(name))})")

    def stop(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, description="graded")
        self._progress.stop()


def progress_for(console: Console) -> BatchProgress:
    """A progress bar on a terminal, plain lines otherwise."""
    return BarProgress(console) if console.is_terminal else PlainProgress(console)

