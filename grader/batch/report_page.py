"""One student's report as a page a TA (or the student) can read: ``OUT/pages/<name>.html``.

The JSON report stays the record; this page shows it: the score, the
outcome and why, who and whether late, then every task's checks with what
went wrong and the hint, the failing ones first within each task. Like the
class page it is self-contained (inline CSS, no script, nothing fetched)
and escapes every string, all of which may come from student code.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..formatting import number
from ..report import write_atomically
from ..safe_text import safe_html
from .outcomes import classify

PAGES_DIR = "pages"

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; }
table { border-collapse: collapse; width: 100%; } td, th { padding: 0.25rem 0.5rem; text-align: left;
  vertical-align: top; border-bottom: 1px solid #e4e4e4; } th { border-bottom: 1px solid #999; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pass { color: #1a7f37; } .fail { color: #b42318; } .error { color: #9a6700; }
.hint { color: #444; font-style: italic; } .dim { color: #777; } code { font-size: 0.9em; }
.badge { display: inline-block; padding: 0.1rem 0.5rem; border-radius: 0.6rem; background: #eef; }
"""
_ORDER = {"error": 0, "fail": 1, "pass": 2}


def page_name(name: str) -> str:
    """The page's file name for entry ``name`` (the name itself, as one path segment)."""
    return f"{name.replace('/', '_')}.html"


def page_link(name: str) -> str:
    """The page's address relative to the report folder, safe in an ``href``."""
    return f"{PAGES_DIR}/{quote(page_name(name))}"


def render_report_page(name: str, report: Mapping[str, Any], *, back: str = "../summary.html") -> str:
    outcome = classify(report)
    student = report.get("student") or {}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(name)}: {_number(report.get('score', 0))} / {_number(report.get('max_score', 0))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<p><a href="{_e(back)}">← class summary</a></p>',
        f"<h1>{_e(name)}</h1>",
        f"<p><b>{_number(report.get('score', 0))} / {_number(report.get('max_score', 0))}</b> points "
        f'<span class="badge">{_e(outcome.status)}</span>'
        + (f" {_e(outcome.why)}" if outcome.why else "") + "</p>",
    ]
    facts = []
    if student.get("name"):
        facts.append(f"student {_e(student['name'])}")
    if student.get("id"):
        facts.append(f"id {_e(student['id'])}")
    if student.get("email"):
        facts.append(_e(student["email"]))
    if student.get("late") is not None:
        facts.append("<b>late</b>" if student.get("late") else "on time")
    if student.get("files"):
        facts.append("files: " + ", ".join(f"<code>{_e(f)}</code>" for f in student["files"][:20]))
    if facts:
        parts.append(f'<p class="dim">{" · ".join(facts)}</p>')
    for task in report.get("tasks", []):
        parts.append(f"<h2>{_e(task.get('id', ''))} {_e(task.get('title', ''))} "
                     f'<span class="dim">{_number(task.get("score", 0))} / {_number(task.get("max_score", 0))}</span></h2>')
        parts.append("<table><tr><th>check</th><th>result</th><th class=num>points</th><th>what the grader saw</th>"
                     "</tr>")
        checks = sorted(task.get("checks", []), key=lambda c: _ORDER.get(str(c.get("status")), 0))
        for check in checks:
            status = str(check.get("status", ""))
            hint = check.get("hint")
            message = _e(check.get("message", ""))
            if hint:
                message += f'<br><span class="hint">hint: {_e(hint)}</span>'
            parts.append(f"<tr><td><code>{_e(check.get('id', ''))}</code>"
                         f'{" <span class=dim>(hidden)</span>" if check.get("visibility") == "hidden" else ""}</td>'
                         f'<td class="{_e(status)}">{_e(status)}</td>'
                         f"<td class=num>{_number(check.get('score', 0))} / {_number(check.get('max_score', 0))}</td>"
                         f"<td>{message}</td></tr>")
        parts.append("</table>")
    if report.get("error"):
        parts.append(f"<h2>Not graded</h2><p>{_e(report['error'])}</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report_page(output: Path, name: str, report: Mapping[str, Any]) -> None:
    """The page of one report, in ``output/pages/`` (a batch writes each as soon as its report is in)."""
    folder = Path(output) / PAGES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(folder / page_name(name), render_report_page(name, report), durable=False)


def write_report_pages(output: Path, reports: Mapping[str, Mapping[str, Any] | None], *,
                       current: Collection[str] = ()) -> None:
    """A page for every report, in ``output/pages/``; pages of entries without a report are removed.

    The pages of the entries in ``current`` were written from their present
    report already (:func:`write_report_page`) and are left as they are.
    """
    folder = Path(output) / PAGES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for name, report in reports.items():
        if report is None:
            continue
        wanted.add(page_name(name))
        if name not in current:
            write_report_page(output, name, report)
    for stale in folder.glob("*.html"):
        if stale.name not in wanted:
            stale.unlink(missing_ok=True)


_e = safe_html  # what the page shows comes from reports, and their text from students


def _number(value: Any) -> str:
    """A score as :func:`grader.formatting.number` writes it; anything else (a hand-edited report) escaped."""
    try:
        return number(value)
    except (TypeError, ValueError):
        return _e(value)
