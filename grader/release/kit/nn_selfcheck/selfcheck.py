"""Run the visible checks on a submission, as ``grader check`` does, on the student's own machine.

The checks, the comparisons and their messages are the grader's own code
(``_grader/``, copied at release); only the answers come from data. So a
check passes here exactly when it passes in ``grader check``, with the same
message and hint.
"""

from __future__ import annotations

import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from ._grader.checks import run_checks
from ._grader.compare import CodeError
from ._grader.report import CheckResult, Report, TaskResult
from ._grader.rubric import Rubric, load_rubric
from ._grader.runner import SubmissionRunner
from ._grader.sandbox import Sandbox
from ._grader.submission import Submission, SubmissionError, load_submission, submission_name
from .display import SelfCheck

KERNEL = "your notebook"


def in_notebook() -> bool:
    """Whether this runs in a Jupyter (or Colab) kernel."""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    return get_ipython is not None and getattr(get_ipython(), "kernel", None) is not None


def check(submission: str | Path | None = None, *, show: bool | None = None, kernel: bool | None = None) -> SelfCheck:
    """Run the visible checks and return the result (a short table in a notebook).

    ``submission``: your folder, ``.py`` file or ``.ipynb`` notebook. In a
    notebook, leave it out to check the functions defined in the running
    kernel (in Colab the notebook file is not on disk). Elsewhere it defaults
    to the current folder. ``show``: print the grader's summary (default: in
    a terminal yes, in a notebook no, since the returned table shows there).
    ``kernel``: check the functions of this process's ``__main__`` (default:
    in a notebook when no submission is given).
    """
    rubric = load_rubric()
    notebook = in_notebook()
    started = time.perf_counter()
    if kernel if kernel is not None else (submission is None and notebook):
        name, sandbox = "notebook", Sandbox(kernel=True)
        loaded: Submission | None = Submission(name, "kernel", {}, {"numpy": "__main__", "torch": "__main__"},
                                               {"__main__.py": KERNEL})
        error = None
    else:
        path = Path(submission if submission is not None else ".")
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(f"{path}: no such file or folder")
        name, sandbox = submission_name(path.resolve()), Sandbox()
        try:
            loaded, error = load_submission(path), None
        except SubmissionError as exc:
            loaded, error = None, str(exc)
    runner: Any = (_Unrunnable(error) if loaded is None else
                   SubmissionRunner(sandbox, loaded, timeout_s=rubric.call_timeout_s))
    [checks] = run_checks([runner], rubric, visible_only=True)
    report = _report(name, checks, rubric, error=error, duration_s=time.perf_counter() - started)
    result = SelfCheck(report, total=rubric.total)
    if show if show is not None else not notebook:
        result.print()
    return result


class _Unrunnable:
    """Stands in for a runner when the submission could not be loaded: every call is an error."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def call(self, function: str, *args: Any, fresh: bool = False) -> Any:
        raise CodeError(f"not run: {self.reason}")

    def close(self) -> None:
        pass


def _report(name: str, checks: list[CheckResult], rubric: Rubric, *, error: str | None, duration_s: float) -> Report:
    tasks = tuple(TaskResult(task, title, tuple(c for c in checks if c.id.split("/", 1)[0] == task))
                  for task, title in rubric.task_titles.items())
    return Report(submission=name, status="error" if error else "graded", tasks=tasks, environment=_environment(),
                  duration_s=duration_s, error=error)


def _environment() -> dict[str, str]:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    from . import __version__

    return {"python": platform.python_version(), "numpy": version("numpy"), "torch": version("torch"),
            "nn-selfcheck": __version__}
