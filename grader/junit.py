"""JUnit XML from a score report, for CI systems that show test results (``--junit report.xml``).

One ``<testsuite>`` per task, one ``<testcase>`` per check: ``name`` is the
check's id (hidden checks are named by id only, never by their inputs),
``classname`` ``task.function``. A wrong answer is a ``<failure>``, code
that did not run an ``<error>``; both carry the message and the hint. Each
testcase has ``file`` and ``line`` (where the student defined the function,
when it can be found) and its points as properties.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

from .report import Report, write_atomically
from .submission import MAX_BYTES

MODULE_FILES = ("numpy_net.py", "torch_net.py")
# Characters XML 1.0 cannot hold (student messages may carry them): dropped.
NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
Definitions = Mapping[str, tuple[str, int]]  # function or class name -> (file, line of its definition)


def function_definitions(submission: Path) -> dict[str, tuple[str, int]]:
    """Where each top-level function or class of a submission is defined: ``{name: (file, line)}``.

    ``file`` is relative to the submission folder (a single ``.py`` file: its
    name). Files are parsed, never run; notebooks and files that do not parse
    give nothing.
    """
    submission = Path(submission)
    if submission.is_dir():
        files = [submission / name for name in MODULE_FILES]
    else:
        files = [submission] if submission.suffix == ".py" else []
    found: dict[str, tuple[str, int]] = {}
    for path in files:
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_BYTES:
                continue
            tree = ast.parse(path.read_bytes(), filename=path.name)
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.setdefault(node.name, (path.name, node.lineno))
    return found


def junit_xml(report: Report, *, definitions: Definitions | None = None) -> str:
    """The report as JUnit XML (a ``<testsuites>`` document)."""
    definitions = definitions or {}
    suites = ET.Element("testsuites", name=f"grader: {report.submission}")
    _counts(suites, report.checks)
    for task in report.tasks:
        suite = ET.SubElement(suites, "testsuite", name=f"{task.id} {task.title}")
        _counts(suite, task.checks)
        suite.set("time", f"{sum(check.seconds for check in task.checks):.3f}")
        for check in task.checks:
            case = ET.SubElement(suite, "testcase", classname=f"{task.id}.{check.function}", name=check.id,
                                 time=f"{check.seconds:.3f}")
            if check.function in definitions:
                file, line = definitions[check.function]
                case.set("file", file)
                case.set("line", str(line))
            properties = ET.SubElement(case, "properties")
            for name, value in (("score", f"{check.score:g}"), ("max_score", f"{check.max_score:g}"),
                                ("visibility", check.visibility), ("function", check.function)):
                ET.SubElement(properties, "property", name=name, value=value)
            if check.status in ("fail", "error"):
                text = NOT_XML.sub("", check.message + (f"\nHint: {check.hint}" if check.hint else ""))
                outcome = ET.SubElement(case, "failure" if check.status == "fail" else "error",
                                        message=_one_line(text), type=check.status)
                outcome.text = text
    if report.error:
        ET.SubElement(suites[0] if len(suites) else suites, "system-err").text = NOT_XML.sub("", report.error)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(report: Report, path: Path, *, submission: Path | None = None) -> None:
    """Write the report's JUnit XML to ``path`` (atomically), with definition lines from ``submission``."""
    definitions = function_definitions(submission) if submission is not None else {}
    write_atomically(Path(path), junit_xml(report, definitions=definitions))


def _counts(element: ET.Element, checks) -> None:  # checks: Sequence[CheckResult]
    checks = list(checks)
    element.set("tests", str(len(checks)))
    element.set("failures", str(sum(check.status == "fail" for check in checks)))
    element.set("errors", str(sum(check.status == "error" for check in checks)))
    element.set("skipped", "0")


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 500 else line[:497] + "..."
