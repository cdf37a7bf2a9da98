"""The self-check from Python, e.g. the last cell of a student's notebook.

    from grader.selfcheck import check
    check()               # in Colab or Jupyter: the notebook this cell belongs to
    check("hw2.ipynb")    # a file or folder

Same as ``grader check hw2.ipynb``: the visible checks only, run in the
sandbox. It prints what failed (with hints) and returns a
:class:`SelfCheck`, which a notebook displays as a short table of scores.

Which notebook ``check()`` means: in Colab, the notebook as the browser
holds it, read through Colab's own API (``google.colab._message``; nothing
needs saving); in Jupyter, the file the server says this kernel belongs to
(``JPY_SESSION_NAME``, or VS Code's ``__vsc_ipynb_file__``), as last saved.
Outside a notebook, ``check()`` checks the current folder.
"""

from __future__ import annotations

import html
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .grading import GradingOptions, grade
from .report import Report
from .summary import print_summary

COLAB_TIMEOUT_S = 30


class NotebookNotFound(FileNotFoundError):
    """``check()`` in a notebook whose file cannot be found (a one-line message saying what to do)."""


@dataclass(frozen=True)
class SelfCheck:
    """What :func:`check` returns: the report, shown as a few lines rather than its whole contents.

    ``report`` is the full :class:`~grader.report.Report`; its attributes
    (``score``, ``checks``, ``warnings`` ...) are reachable from here too.
    """

    report: Report

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.report, name)

    def rows(self) -> list[tuple[str, str, str]]:
        """(task, score, checks passed) per task, then the total."""
        rows = []
        for task in self.report.tasks:
            passed = sum(check.status == "pass" for check in task.checks)
            rows.append((f"{task.id} {task.title}", f"{task.score:g} / {task.max_score:g}",
                         f"{passed} / {len(task.checks)}"))
        checks = self.report.checks
        rows.append(("total (visible checks)", f"{self.report.score:g} / {self.report.max_score:g}",
                     f"{sum(c.status == 'pass' for c in checks)} / {len(checks)}"))
        return rows

    def __repr__(self) -> str:
        width = max(len(task) for task, _, _ in self.rows())
        lines = [f"{self.report.submission}: self-check"]
        lines += [f"  {task:<{width}}  {score:>11}  {passed:>7} passed" for task, score, passed in self.rows()]
        if self.report.warnings:
            lines.append(f"  {len(self.report.warnings)} warning(s): see .warnings")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><td style='text-align:left'>{html.escape(task)}</td><td>{score}</td><td>{passed}</td></tr>"
            for task, score, passed in self.rows()
        )
        return (f"<b>{html.escape(self.report.submission)}</b>: self-check"
                f"<table><tr><th style='text-align:left'>task</th><th>score</th><th>checks passed</th></tr>"
                f"{cells}</table>")


def check(submission: str | Path | None = None) -> SelfCheck:
    """Run the visible checks on ``submission`` and print what failed; returns a :class:`SelfCheck`.

    ``submission`` None means the running notebook inside Colab or Jupyter,
    and the current folder elsewhere.
    """
    if submission is None and _in_colab():
        with tempfile.TemporaryDirectory(prefix="selfcheck-") as folder:
            return _check(_colab_notebook(Path(folder)), in_notebook=True)
    if submission is None and _in_jupyter():
        return _check(_jupyter_notebook(), in_notebook=True)
    path = Path("." if submission is None else submission).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{submission}: no such file or folder")
    return _check(path, in_notebook=_in_colab() or _in_jupyter())


def _check(path: Path, *, in_notebook: bool) -> SelfCheck:
    report = grade(path, GradingOptions(visible_only=True))
    print_summary(report, show_passing=not in_notebook)  # a notebook shows the table as check()'s value
    return SelfCheck(report)


def _in_colab() -> bool:
    return "google.colab" in sys.modules


def _in_jupyter() -> bool:
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _colab_notebook(folder: Path) -> Path:
    """The running Colab notebook, as the browser holds it, written to ``folder``."""
    try:
        from google.colab import _message  # type: ignore[import-not-found]

        reply = _message.blocking_request("get_ipynb", request="", timeout_sec=COLAB_TIMEOUT_S)
        notebook = reply["ipynb"]
    except Exception as exc:
        raise NotebookNotFound(f"check() could not read this Colab notebook ({type(exc).__name__}); "
                               "download it (File > Download > .ipynb), upload it next to this notebook, "
                               "and run check('its_name.ipynb')") from None
    name = str(notebook.get("metadata", {}).get("colab", {}).get("name") or "notebook.ipynb")
    path = folder / (Path(name).name if name.endswith(".ipynb") else "notebook.ipynb")
    path.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    return path


def _jupyter_notebook() -> Path:
    """The notebook file this Jupyter kernel runs for, as last saved."""
    candidates = []
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    vscode = getattr(shell, "user_ns", {}).get("__vsc_ipynb_file__")
    if vscode:
        candidates.append(Path(vscode))
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        candidates += [Path(session), Path.cwd() / Path(session).name]
    for candidate in candidates:
        if candidate.suffix == ".ipynb" and candidate.is_file():
            print(f"checking {candidate.name} as last saved (save first: Ctrl+S)")
            return candidate.resolve()
    raise NotebookNotFound("check() could not tell which notebook file this is; save it and "
                           "pass its name, e.g. check('hw2.ipynb')")
