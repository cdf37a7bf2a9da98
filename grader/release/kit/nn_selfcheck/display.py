"""What ``check()`` returns: the report, shown as a short table (terminal text or notebook HTML)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from ._grader.report import Report
from ._grader.summary import print_summary

STATUS = {"pass": ("PASS", "#1a7f37"), "fail": ("FAIL", "#cf222e"), "error": ("ERROR", "#9a6700")}


@dataclass(frozen=True)
class SelfCheck:
    """The visible checks' results. ``report`` is the grader's own report type."""

    report: Report
    total: float  # points of the whole assignment, hidden checks included

    @property
    def score(self) -> float:
        return self.report.score

    @property
    def max_score(self) -> float:
        return self.report.max_score

    @property
    def passed(self) -> bool:
        """Every visible check passed."""
        return all(check.status == "pass" for check in self.report.checks)

    def closing_line(self) -> str:
        return (f"These are the visible checks only ({self.max_score:g} of {self.total:g} points); "
                "hidden checks with other sizes, seeds and masks run when your submission is graded.")

    def print(self) -> None:
        """The grader's terminal summary (every check, with its message and hint), then the closing line."""
        print_summary(self.report, show_passing=True)
        print(self.closing_line())

    def __repr__(self) -> str:
        lines = [f"{self.report.submission}: {self.score:g} / {self.max_score:g} (visible checks)"]
        for task in self.report.tasks:
            passed = sum(check.status == "pass" for check in task.checks)
            lines.append(f"  {task.id}  {task.title}: {task.score:g} / {task.max_score:g}, "
                         f"{passed} / {len(task.checks)} passed")
        failing = [check for check in self.report.checks if check.status != "pass"]
        for check in failing:
            lines.append(f"  {check.status.upper():5} {check.id}: {check.message}")
            if check.hint:
                lines.append(f"        hint: {check.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        title = f"{self.report.submission}: {self.score:g} / {self.max_score:g} (visible checks)"
        if self.report.status == "error":
            title += f" (could not be checked: {self.report.error})"
        rows = []
        for check in self.report.checks:
            label, colour = STATUS.get(check.status, (check.status.upper(), "#57606a"))
            hint = f"<br><i>hint: {html.escape(check.hint)}</i>" if check.hint else ""
            rows.append(
                f"<tr><td style='color:{colour};font-weight:bold'>{label}</td>"
                f"<td><code>{html.escape(check.id)}</code></td>"
                f"<td style='text-align:right'>{check.score:g}/{check.max_score:g}</td>"
                f"<td style='text-align:left'>{html.escape(check.message)}{hint}</td></tr>")
        return (f"<p><b>{html.escape(title)}</b></p><table><thead><tr><th>status</th><th>check</th>"
                f"<th>points</th><th>message</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
                f"<p style='font-size:smaller'>{html.escape(self.closing_line())}</p>")
