"""A class at a glance: every student, what to re-teach, per-check pass rates and the score distribution.

:func:`summarise` folds the JSON reports of a batch into a
:class:`ClassSummary`; :func:`print_class_summary` shows it in a terminal and
:func:`render_html` as one self-contained HTML page (inline CSS and an SVG
histogram, no scripts, nothing fetched): a table of every student (score,
per task, outcome and why, the hints they got, a link to their report page),
the hints most often given across the class, pass rates, the histogram, and,
when given, possible copies (:mod:`.copies`) and the roster's missing and
unknown students (:mod:`.roster`). Pass rates and the distribution are
taken over the submissions that were graded; the ones that could not be
graded (status ``error``, or no report yet) are listed with the reason.
Every name and message is made safe (:mod:`grader.safe_text`: no control
characters or ESC sequences) and, on the page, HTML-escaped: they come from
students.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..formatting import number
from ..report import write_atomically
from ..safe_text import safe_html, safe_text
from .copies import CopyFindings
from .outcomes import MISSING, classify
from .report_page import page_link
from .roster import RosterMatch

HISTOGRAM_BINS = 10


@dataclass(frozen=True)
class CheckRate:
    """How the graded submissions fared on one check."""

    id: str  # "task2/grad_w1_np/h3"
    passed: int
    failed: int
    errored: int

    @property
    def group(self) -> str:
        return self.id.rsplit("/", 1)[0]

    @property
    def case(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errored

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class TaskMean:
    id: str
    title: str
    mean: float
    max_score: float


@dataclass(frozen=True)
class Bin:
    """Scores in ``[low, high)`` (the last bin also holds ``high``)."""

    low: float
    high: float
    count: int


@dataclass(frozen=True)
class StudentLine:
    """One row of the class table."""

    name: str
    status: str  # an outcome of :func:`.outcomes.classify`
    why: str = ""
    score: float | None = None
    max_score: float | None = None
    tasks: tuple[tuple[str, float], ...] = ()  # (task id, score)
    hints: tuple[str, ...] = ()  # distinct hints, in report order
    student_id: str = ""
    late: bool | None = None
    has_page: bool = False


@dataclass(frozen=True)
class HintCount:
    """A hint and how many students got it (on how many checks in all)."""

    hint: str
    students: int
    checks: int
    functions: tuple[str, ...]


@dataclass(frozen=True)
class ClassSummary:
    """Everything the terminal summary and the HTML page show."""

    submissions: int
    scores: tuple[float, ...]  # of the graded submissions
    max_score: float
    not_graded: tuple[tuple[str, str], ...]  # (name, why)
    checks: tuple[CheckRate, ...]
    tasks: tuple[TaskMean, ...]
    students: tuple[StudentLine, ...] = ()
    hints: tuple[HintCount, ...] = ()  # most frequent first

    @property
    def graded(self) -> int:
        return len(self.scores)

    def statistics(self) -> dict[str, float]:
        """mean, median, standard deviation, min and max of the scores (empty when none)."""
        if not self.scores:
            return {}
        return {
            "mean": statistics.fmean(self.scores),
            "median": statistics.median(self.scores),
            "sd": statistics.pstdev(self.scores),
            "min": min(self.scores),
            "max": max(self.scores),
        }

    def histogram(self, bins: int = HISTOGRAM_BINS) -> list[Bin]:
        """Counts of scores in ``bins`` equal slices of ``[0, max_score]``."""
        top = self.max_score if self.max_score > 0 else max(self.scores, default=1.0) or 1.0
        width = top / bins
        counts = [0] * bins
        for score in self.scores:
            counts[min(max(int(score / width), 0), bins - 1)] += 1
        return [Bin(low=i * width, high=(i + 1) * width, count=count) for i, count in enumerate(counts)]

    def groups(self) -> dict[str, list[CheckRate]]:
        """Checks by group (``task1/relu``), in report order."""
        grouped: dict[str, list[CheckRate]] = {}
        for check in self.checks:
            grouped.setdefault(check.group, []).append(check)
        return grouped


def summarise(reports: Mapping[str, Mapping[str, Any] | None]) -> ClassSummary:
    """Fold reports (entry name → JSON report, None when it has none) into a summary."""
    scores: list[float] = []
    not_graded: list[tuple[str, str]] = []
    counts: dict[str, list[int]] = {}  # check id -> [passed, failed, errored]
    task_totals: dict[str, list[Any]] = {}  # task id -> [title, sum, max]
    max_score = 0.0
    students: list[StudentLine] = []
    hint_students: dict[str, set[str]] = {}
    hint_checks: dict[str, int] = {}
    hint_functions: dict[str, dict[str, None]] = {}
    for name in sorted(reports):
        report = reports[name]
        students.append(_student_line(name, report))
        for hint, function in _hints(report):
            hint_students.setdefault(hint, set()).add(name)
            hint_checks[hint] = hint_checks.get(hint, 0) + 1
            hint_functions.setdefault(hint, {})[function] = None
        if report is None:
            not_graded.append((name, "no report (the batch was interrupted)"))
            continue
        if report.get("status") != "graded":
            not_graded.append((name, str(report.get("error") or "could not be graded")))
            continue
        scores.append(float(report["score"]))
        max_score = max(max_score, float(report["max_score"]))
        for task in report["tasks"]:
            entry = task_totals.setdefault(task["id"], [task["title"], 0.0, 0.0])
            entry[1] += float(task["score"])
            entry[2] = max(entry[2], float(task["max_score"]))
            for check in task["checks"]:
                tally = counts.setdefault(check["id"], [0, 0, 0])
                tally[{"pass": 0, "fail": 1}.get(check["status"], 2)] += 1
    graded = len(scores)
    return ClassSummary(
        submissions=len(reports),
        scores=tuple(scores),
        max_score=max_score,
        not_graded=tuple(not_graded),
        checks=tuple(CheckRate(id, *tally) for id, tally in counts.items()),
        tasks=tuple(TaskMean(id, title, total / graded, top) for id, (title, total, top) in task_totals.items()),
        students=tuple(students),
        hints=tuple(sorted((HintCount(hint, len(names), hint_checks[hint], tuple(hint_functions[hint]))
                            for hint, names in hint_students.items()), key=lambda h: (-h.students, -h.checks, h.hint))),
    )


def _hints(report: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(hint, function) of every check of ``report`` that carries one."""
    if report is None:
        return []
    return [(str(check["hint"]), str(check.get("function", ""))) for task in report.get("tasks", [])
            for check in task.get("checks", []) if check.get("hint")]


def _student_line(name: str, report: Mapping[str, Any] | None) -> StudentLine:
    outcome = classify(report)
    if report is None:
        return StudentLine(name=name, status=outcome.status, why=outcome.why)
    student = report.get("student") or {}
    return StudentLine(
        name=name, status=outcome.status, why=outcome.why,
        score=float(report.get("score", 0.0)), max_score=float(report.get("max_score", 0.0)),
        tasks=tuple((str(task["id"]), float(task["score"])) for task in report.get("tasks", [])),
        hints=tuple(dict.fromkeys(hint for hint, _ in _hints(report))),
        student_id=str(student.get("id") or ""), late=student.get("late"),
        has_page=True,
    )


# ---------------------------------------------------------------- terminal


def print_class_summary(summary: ClassSummary, *, console: Console | None = None) -> None:
    """Counts, score statistics, a text histogram, then pass rates per check, grouped by function."""
    console = console or Console(highlight=False, soft_wrap=True)
    console.print(Text(f"Class summary: {summary.submissions} submission(s), {summary.graded} graded, "
                       f"{len(summary.not_graded)} not graded", style="bold"))
    for name, why in summary.not_graded:
        console.print(Text(f"  not graded: {safe_text(name)}: {safe_text(why)}", style="yellow"))
    for line in summary.students:
        if line.status not in ("graded", "error", MISSING):
            console.print(Text(f"  {line.status}: {safe_text(line.name)}: {safe_text(line.why)}", style="yellow"))
    for hint in summary.hints[:3]:
        console.print(Text(f"  hint given to {hint.students} student(s): {safe_text(hint.hint)}"))
    if not summary.scores:
        return
    stats = summary.statistics()
    console.print(f"Scores out of {number(summary.max_score)}: mean {number(stats['mean'], 1)}, median "
                  f"{number(stats['median'], 1)}, sd {number(stats['sd'], 1)}, min {number(stats['min'])}, max {number(stats['max'])}")
    bins = summary.histogram()
    widest = max(b.count for b in bins) or 1
    for b in bins:
        bar = "█" * round(30 * b.count / widest)
        console.print(Text(f"  {number(b.low):>5}–{number(b.high):<5} {bar} {b.count}"))
    tasks = "  ".join(f"{t.id} {number(t.mean, 1)}/{number(t.max_score)}" for t in summary.tasks)
    console.print(f"Mean per task: {tasks}")
    table = Table(title=f"Pass rate per check ({summary.graded} graded)", title_justify="left")
    table.add_column("check group")
    table.add_column("passed", justify="right")
    table.add_column("per check")
    for group, checks in summary.groups().items():
        passed, total = sum(c.passed for c in checks), sum(c.total for c in checks)
        rate = passed / total if total else 0.0
        per_check = Text()
        for check in checks:
            per_check.append(f"{check.case} ", style="dim")
            per_check.append(f"{check.rate:.0%}  ", style=_rate_style(check.rate))
        table.add_row(group, Text(f"{rate:.0%}", style=_rate_style(rate)), per_check)
    console.print(table)


def _rate_style(rate: float) -> str:
    return "green" if rate >= 0.9 else ("yellow" if rate >= 0.5 else "red")


# ---------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; } td, th { padding: 0.2rem 0.6rem; text-align: left; vertical-align: middle; }
tr:nth-child(even) td { background: #f4f4f4; } th { border-bottom: 1px solid #999; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { display: inline-block; height: 0.8rem; background: #4c78a8; vertical-align: middle; }
.bar.low { background: #e45756; } .bar.mid { background: #f2a93b; }
.stats span { margin-right: 1.5rem; } .dim { color: #777; } code { font-size: 0.9em; }
h3 { font-size: 1rem; } #students td { border-bottom: 1px solid #e4e4e4; vertical-align: top; }
"""


def render_html(summary: ClassSummary, *, title: str = "Class summary", copies: CopyFindings | None = None,
                roster: RosterMatch | None = None) -> str:
    """A self-contained HTML page: students, hints, statistics, an SVG histogram, task means, pass rates,
    possible copies and the roster's gaps."""
    stats = summary.statistics()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{summary.submissions} submission(s): {summary.graded} graded, "
        f"{len(summary.not_graded)} not graded.</p>",
    ]
    statuses = _status_counts(summary, roster)
    if statuses:
        parts.append('<p class="stats">' + "".join(f"<span>{_e(status)} <b>{count}</b></span>"
                                                    for status, count in statuses.items()) + "</p>")
    parts += _students_table(summary, roster)
    if summary.hints:
        parts += ["<h2>Most frequent hints <span class=dim>(what to re-teach)</span></h2>",
                  "<table><tr><th class=num>students</th><th class=num>checks</th><th>hint</th><th>in</th></tr>"]
        for hint in summary.hints[:15]:
            parts.append(f"<tr><td class=num>{hint.students}</td><td class=num>{hint.checks}</td>"
                         f"<td>{_e(hint.hint)}</td><td>{_e(', '.join(hint.functions))}</td></tr>")
        parts.append("</table>")
    if stats:
        parts.append('<p class="stats">' + "".join(
            f"<span>{label} <b>{number(stats[key], 1)}</b></span>"
            for key, label in (("mean", "mean"), ("median", "median"), ("sd", "sd"), ("min", "min"), ("max", "max"))
        ) + f'<span class="dim">out of {number(summary.max_score)}</span></p>')
        parts += ["<h2>Score distribution</h2>", histogram_svg(summary.histogram())]
        parts += ["<h2>Mean score per task</h2>", "<table><tr><th>task</th><th class=num>mean</th><th></th></tr>"]
        for task in summary.tasks:
            share = task.mean / task.max_score if task.max_score else 0.0
            parts.append(f"<tr><td>{_e(task.id)} {_e(task.title)}</td>"
                         f"<td class=num>{number(task.mean, 1)} / {number(task.max_score)}</td><td>{_bar(share)}</td></tr>")
        parts.append("</table>")
        parts += [f"<h2>Pass rate per check <span class=dim>(over {summary.graded} graded)</span></h2>",
                  "<table><tr><th>check</th><th class=num>passed</th><th class=num>failed</th>"
                  "<th class=num>error</th><th class=num>rate</th><th></th></tr>"]
        for check in summary.checks:
            parts.append(f"<tr><td><code>{_e(check.id)}</code></td><td class=num>{check.passed}</td>"
                         f"<td class=num>{check.failed}</td><td class=num>{check.errored}</td>"
                         f"<td class=num>{check.rate:.0%}</td><td>{_bar(check.rate)}</td></tr>")
        parts.append("</table>")
    if copies is not None:
        parts += _copies_section(copies)
    if roster is not None and roster.unknown:
        parts += ["<h2>Submissions not on the roster</h2>",
                  "<p>" + ", ".join(_e(name) for name in roster.unknown) + "</p>"]
    if summary.not_graded:
        parts += ["<h2>Not graded</h2>", "<table><tr><th>submission</th><th>why</th></tr>"]
        parts += [f"<tr><td>{_e(name)}</td><td>{_e(why)}</td></tr>" for name, why in summary.not_graded]
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _status_counts(summary: ClassSummary, roster: RosterMatch | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in summary.students:
        counts[line.status] = counts.get(line.status, 0) + 1
    if roster is not None and roster.missing:
        counts[MISSING] = counts.get(MISSING, 0) + len(roster.missing)
    return counts


def _students_table(summary: ClassSummary, roster: RosterMatch | None) -> list[str]:
    task_ids = [task.id for task in summary.tasks] or list(dict.fromkeys(
        task for line in summary.students for task, _ in line.tasks))
    header = "".join(f"<th class=num>{_e(task)}</th>" for task in task_ids)
    matched = roster.students if roster is not None else {}
    with_ids = roster is not None or any(line.student_id for line in summary.students)
    parts = [f"<h2>Students <span class=dim>({len(summary.students)})</span></h2>",
             f'<table id="students"><tr><th>student</th>{"<th>id</th>" * with_ids}<th class=num>score</th>{header}'
             "<th>status</th><th>hints they got</th></tr>"]
    for line in summary.students:
        name = _e(line.name)
        if line.has_page:
            name = f'<a href="{_e(page_link(line.name))}">{name}</a>'
        if line.name in matched and _key(matched[line.name].name) != _key(line.name):
            name += f' <span class=dim>({_e(matched[line.name].name)})</span>'
        ident = line.student_id or (matched[line.name].id if line.name in matched else "")
        scores = dict(line.tasks)
        status = _e(line.status) + (" <b>late</b>" if line.late else "")
        if line.why:
            status += f'<br><span class=dim>{_e(line.why)}</span>'
        hints = "<br>".join(_e(hint) for hint in line.hints[:6])
        if len(line.hints) > 6:
            hints += f"<br><span class=dim>and {len(line.hints) - 6} more</span>"
        score = "" if line.score is None else f"{number(line.score)} / {number(line.max_score or 0)}"
        parts.append(f"<tr><td>{name}</td>{f'<td>{_e(ident)}</td>' * with_ids}<td class=num>{score}</td>"
                     + "".join(f"<td class=num>{number(scores[t]) if t in scores else ''}</td>" for t in task_ids)
                     + f"<td>{status}</td><td>{hints}</td></tr>")
    for student in roster.missing if roster is not None else ():
        parts.append(f"<tr><td>{_e(student.name)}</td><td>{_e(student.id)}</td><td class=num></td>"
                     + "<td class=num></td>" * len(task_ids)
                     + f"<td>{MISSING}<br><span class=dim>on the roster, no submission</span></td><td></td></tr>")
    parts.append("</table>")
    return parts


def _copies_section(copies: CopyFindings) -> list[str]:
    parts = ["<h2>Possible copies</h2>",
             f'<p class="dim">A lead for a human, never a verdict: short solutions to the same exercise look alike. '
             f"{copies.compared} submissions compared; code from the starter template does not count.</p>"]
    if not copies.identical and not copies.similar:
        parts.append("<p>No pair stands out.</p>")
    if copies.identical:
        parts.append("<h3>Identical once comments and layout are set aside</h3><ul>")
        parts += [f"<li>{_e(', '.join(group))}</li>" for group in copies.identical]
        parts.append("</ul>")
    if copies.similar:
        parts += [f"<h3>Similar (copydetect, at least {copies.threshold:.0%} of one side's code shared)</h3>",
                  "<table><tr><th>first</th><th>second</th><th class=num>of first</th><th class=num>of second</th>"
                  "</tr>"]
        parts += [f"<tr><td>{_e(p.first)}</td><td>{_e(p.second)}</td><td class=num>{p.first_share:.0%}</td>"
                  f"<td class=num>{p.second_share:.0%}</td></tr>" for p in copies.similar[:100]]
        parts.append("</table>")
    return parts


def _key(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def histogram_svg(bins: list[Bin], *, width: int = 640, height: int = 260) -> str:
    """An inline SVG bar chart of ``bins``: a bar per bin, its count above, its range below."""
    left, right, top, bottom = 40, 10, 20, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max((b.count for b in bins), default=0) or 1
    slot = plot_w / max(len(bins), 1)
    shapes = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="histogram of scores" font-size="11">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
    ]
    for tick in sorted({0, highest // 2, highest}):
        y = top + plot_h - plot_h * tick / highest
        shapes.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    for index, b in enumerate(bins):
        bar_h = plot_h * b.count / highest
        x = left + index * slot + 2
        y = top + plot_h - bar_h
        shapes.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" height="{bar_h:.1f}" fill="#4c78a8">'
                      f"<title>{number(b.low)}–{number(b.high)}: {b.count}</title></rect>")
        if b.count:
            shapes.append(f'<text x="{x + (slot - 4) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{b.count}</text>')
        shapes.append(f'<text x="{x + (slot - 4) / 2:.1f}" y="{top + plot_h + 15}" text-anchor="middle">'
                      f"{number(b.low)}–{number(b.high)}</text>")
    shapes.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">score</text>')
    shapes.append("</svg>")
    return "\n".join(shapes)


def write_html(path: Path, summary: ClassSummary, *, title: str = "Class summary",
               copies: CopyFindings | None = None, roster: RosterMatch | None = None) -> None:
    """Write the page atomically."""
    write_atomically(path, render_html(summary, title=title, copies=copies, roster=roster))


def _bar(share: float) -> str:
    kind = "" if share >= 0.9 else (" mid" if share >= 0.5 else " low")
    return f'<span class="bar{kind}" style="width: {max(share, 0.0) * 12:.2f}rem"></span>'


_e = safe_html

