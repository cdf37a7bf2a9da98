"""A report as a person reads it in a terminal (rich: colour on a terminal, plain text elsewhere), or in Markdown.

Names, messages, hints and errors may quote student data: they are printed
as :class:`rich.text.Text` (never parsed as markup) after
:func:`grader.safe_text.safe_text` (no control characters or ESC sequences),
and escaped for Markdown (no HTML, links or table breaks).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .formatting import WEAK_SANDBOX_NOTE
from .report import MAX_MESSAGE, Report
from .safe_text import MAX_NAME, safe_text

STATUS_STYLE = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "error": ("ERROR", "yellow")}


def print_summary(report: Report, *, show_passing: bool, console: Console | None = None) -> None:
    """Score per task, then each failing check (and passing ones when asked) with its message and hint."""
    console = console or Console(highlight=False, soft_wrap=True)
    title = f"{safe_text(report.submission, MAX_NAME)}: {report.score:g} / {report.max_score:g}"
    if report.status == "error":
        title += f"  (could not be graded: {safe_text(report.error, MAX_MESSAGE)})"
    table = Table(title=Text(title, style="italic"), title_justify="left")
    table.add_column("task")
    table.add_column("score", justify="right")
    table.add_column("checks", justify="right")
    for task in report.tasks:
        passed = sum(check.status == "pass" for check in task.checks)
        table.add_row(f"{task.id}  {task.title}", f"{task.score:g} / {task.max_score:g}",
                      f"{passed} / {len(task.checks)} passed")
    console.print(table)
    print_warnings(report, console)
    for check in report.checks:
        if check.status == "pass" and not show_passing:
            continue
        label, style = STATUS_STYLE.get(check.status, (check.status.upper(), "white"))
        line = Text()
        line.append(f"{label:5} ", style=f"bold {style}")
        line.append(f"{check.id} ", style="bold")
        line.append(f"({check.score:g}/{check.max_score:g}, {check.visibility}) ")
        line.append(safe_text(check.message, MAX_MESSAGE))
        console.print(line)
        if check.hint:
            console.print(Text(f"      hint: {safe_text(check.hint, MAX_MESSAGE)}", style="cyan"))
    if report.internal_errors:
        console.print(Text(f"{len(report.internal_errors)} check(s) hit an internal grader error; "
                           "the JSON report holds the tracebacks for course staff.", style="bold red"))
    layers = report.sandbox
    if layers and not layers.get("strong"):
        console.print(Text(WEAK_SANDBOX_NOTE, style="dim"))


def print_warnings(report: Report, console: Console) -> None:
    """Each warning once (a failed import, a failed notebook cell), before the checks it explains."""
    if report.warnings:
        console.print(Text("warnings (the checks below that say \"see above\" refer to these):", style="bold yellow"))
    for warning in report.warnings:
        console.print(Text(f"  - {warning}", style="yellow"))


def markdown_summary(report: Report) -> str:
    """The summary as Markdown, e.g. for a GitHub Actions job summary (``$GITHUB_STEP_SUMMARY``)."""
    lines = [f"## {_markdown(safe_text(report.submission, MAX_NAME))}: {report.score:g} / {report.max_score:g}", ""]
    if report.status == "error":
        lines += [f"**Could not be graded:** {_markdown(safe_text(report.error, MAX_MESSAGE))}", ""]
    lines += ["| task | score | checks passed |", "|---|---:|---:|"]
    for task in report.tasks:
        passed = sum(check.status == "pass" for check in task.checks)
        lines.append(f"| {task.id} {task.title} | {task.score:g} / {task.max_score:g} | {passed} / {len(task.checks)} |")
    if report.warnings:
        lines += ["", "**Warnings:**", ""] + [f"- {_cell(warning)}" for warning in report.warnings]
    failing = [check for check in report.checks if check.status != "pass"]
    if failing:
        lines += ["", "| check | status | message |", "|---|---|---|"]
        for check in failing:
            message = _markdown(safe_text(check.message, MAX_MESSAGE))
            if check.hint:
                message += f" *(hint: {_markdown(safe_text(check.hint, MAX_MESSAGE))})*"
            lines.append(f"| `{check.id}` | {check.status} | {message} |")
    return "\n".join(lines) + "\n"


_MARKDOWN_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*[]|"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"})


def _markdown(text: str) -> str:
    """Safe text as literal Markdown: no HTML, links, code spans, emphasis or table breaks."""
    return text.translate(_MARKDOWN_SPECIAL)
