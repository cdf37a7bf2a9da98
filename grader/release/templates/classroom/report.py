"""Turn the grader's JUnit XML into what GitHub and GitHub Classroom show.

Run by the student repository's workflow after ``nn-selfcheck . --junit
report.xml``; standard library only. For each failing check, an
``::error file=...,line=...::`` annotation at the line where the student
defined the function; a Markdown table in the job summary; and, as the step
output ``result``, the points in the format of GitHub Classroom's
autograding reporter (base64 JSON: version, status, max_score, tests).

    python report.py report.xml
"""

from __future__ import annotations

import base64
import json
import os
import sys
import xml.etree.ElementTree as ET

OUTCOMES = ("failure", "error")


def escape_data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property (file, title): also ':' and ','."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def read_checks(path: str) -> list[dict]:
    """One dict per testcase: name, function, status (pass/fail/error), score, max_score, message, file, line."""
    checks = []
    for case in ET.parse(path).getroot().iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        outcome = next((child for child in case if child.tag in OUTCOMES), None)
        status = "pass" if outcome is None else ("fail" if outcome.tag == "failure" else "error")
        checks.append({
            "name": case.get("name", "?"),
            "function": properties.get("function", ""),
            "status": status,
            "score": float(properties.get("score", 0)),
            "max_score": float(properties.get("max_score", 0)),
            "message": "" if outcome is None else (outcome.text or outcome.get("message", "")),
            "file": case.get("file"),
            "line": int(case.get("line")) if case.get("line", "").isdigit() else None,
            "seconds": float(case.get("time", 0) or 0),
        })
    return checks


def annotations(checks: list[dict]) -> list[str]:
    lines = []
    for check in checks:
        if check["status"] == "pass":
            continue
        location = ""
        if check["file"] and check["line"]:
            location = f"file={escape_property(check['file'])},line={check['line']},"
        title = escape_property(f"{check['name']} ({check['status']})")
        lines.append(f"::error {location}title={title}::{escape_data(check['message'])}")
    return lines


def summary(checks: list[dict]) -> str:
    score, total = sum(c["score"] for c in checks), sum(c["max_score"] for c in checks)
    lines = [f"## Visible checks: {score:g} / {total:g} points", "",
             "Hidden checks run when your submission is graded.", "",
             "| check | status | points | message |", "|---|---|---:|---|"]
    for check in checks:
        message = check["message"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{check['name']}` | {check['status']} | {check['score']:g} / {check['max_score']:g} "
                     f"| {message} |")
    return "\n".join(lines) + "\n"


def classroom_result(checks: list[dict]) -> str:
    """The autograding reporter's input: base64 of its runner-result JSON."""
    result = {
        "version": 1,
        "status": "pass" if all(c["status"] == "pass" for c in checks) else "fail",
        "max_score": sum(c["max_score"] for c in checks),
        "tests": [{
            "name": check["name"],
            "status": check["status"],
            "score": check["score"],
            "message": check["message"] or None,
            "filename": check["file"] or "",
            "line_no": check["line"] or 0,
            "execution_time": f"{check['seconds']:.2f}s",
        } for check in checks],
    }
    return base64.b64encode(json.dumps(result).encode("utf-8")).decode("ascii")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python report.py report.xml", file=sys.stderr)
        return 2
    try:
        checks = read_checks(argv[0])
    except (OSError, ET.ParseError) as exc:
        print(f"::error title=grader::the checks did not produce a readable report ({exc})")
        checks = []
    for line in annotations(checks):
        print(line)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(summary(checks))
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
            handle.write(f"result={classroom_result(checks)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
