"""JUnit XML (``--junit``) read back with a JUnit parser, and the ``--fail-under`` gate."""

from __future__ import annotations

import json

from junitparser import Error, Failure, JUnitXml

from conftest import ROOT
from grader.cli import main
from grader.junit import function_definitions, junit_xml
from grader.report import CheckResult, Report, TaskResult

SAMPLE = ROOT / "examples" / "sample_submission"


def parse(text: str, tmp_path) -> dict:
    path = tmp_path / "report.xml"
    path.write_text(text)
    return {case.name: case for suite in JUnitXml.fromfile(str(path)) for case in suite}


def small_report() -> Report:
    checks = (
        CheckResult("task1/relu/visible", "relu", "pass", 1.0, 1.0, "visible", "matches"),
        CheckResult("task1/softmax/visible", "softmax", "fail", 0.0, 2.0, "visible",
                    "softmax(z = [1, 2, 3]): max abs error 0.5 <here> \x1b[31m", hint="softmax twice"),
        CheckResult("task1/softmax/hidden_2d", "softmax", "error", 0.0, 2.0, "hidden",
                    "raised ValueError: bad\x00 shape"),
    )
    return Report("alice", "graded", (TaskResult("task1", "Forward pass", checks),), {}, 0.5)


def test_one_testcase_per_check_with_failures_and_errors_carrying_message_and_hint(tmp_path):
    cases = parse(junit_xml(small_report(), definitions={"softmax": ("numpy_net.py", 36)}), tmp_path)
    assert set(cases) == {"task1/relu/visible", "task1/softmax/visible", "task1/softmax/hidden_2d"}
    assert cases["task1/relu/visible"].is_passed
    [failure] = cases["task1/softmax/visible"].result
    assert isinstance(failure, Failure)
    assert failure.message == "softmax(z = [1, 2, 3]): max abs error 0.5 <here> [31m Hint: softmax twice"
    assert failure.text.endswith("\nHint: softmax twice")
    [error] = cases["task1/softmax/hidden_2d"].result
    assert isinstance(error, Error) and error.message == "raised ValueError: bad shape"
    assert cases["task1/softmax/visible"].classname == "task1.softmax"
    element = cases["task1/softmax/visible"]._elem
    assert (element.get("file"), element.get("line")) == ("numpy_net.py", "36")
    assert cases["task1/relu/visible"]._elem.get("file") is None  # no definition found: no location
    properties = {p.get("name"): p.get("value") for p in element.iter("property")}
    assert properties == {"score": "0", "max_score": "2", "visibility": "visible", "function": "softmax"}


def test_definitions_are_found_by_parsing_never_by_running(tmp_path):
    (tmp_path / "numpy_net.py").write_text("import os\nos._exit(3)\n\n\ndef relu(h):\n    return h\n")
    (tmp_path / "torch_net.py").write_text("def broken(:\n")
    assert function_definitions(tmp_path) == {"relu": ("numpy_net.py", 5)}
    assert function_definitions(tmp_path / "numpy_net.py") == {"relu": ("numpy_net.py", 5)}


def test_grade_writes_junit_and_fails_under_a_threshold(tmp_path, capsys):
    xml = tmp_path / "out" / "report.xml"
    assert main(["grade", str(SAMPLE), "--junit", str(xml), "--fail-under", "60"]) == 1
    expected = json.loads((ROOT / "grader" / "schema" / "sample_report.json").read_text())
    err = capsys.readouterr().err.splitlines()  # the sandbox's mode line, then the verdict
    assert err[0].startswith("sandbox: ") and err[1:] == [f"grader: score {expected['score']:g} is below --fail-under 60"]
    cases = parse(xml.read_text(), tmp_path)
    assert set(cases) == {check["id"] for task in expected["tasks"] for check in task["checks"]}
    hidden = [name for name in cases if "/h" in name]
    assert hidden and all(name.count("/") == 2 for name in hidden)  # hidden checks: their id, nothing more
    [failure] = cases["task2/grad_w1_torch/x1"].result
    assert "shape (4, 3), expected (3, 4)" in failure.message and "transpose" in failure.message
    element = cases["task2/grad_w1_torch/x1"]._elem
    line = int(element.get("line"))
    assert element.get("file") == "torch_net.py"
    assert (SAMPLE / "torch_net.py").read_text().splitlines()[line - 1].startswith("def grad_w1_torch(")


def test_check_passes_at_or_above_the_threshold_and_writes_visible_checks_only(tmp_path, capsys):
    xml = tmp_path / "check.xml"
    assert main(["check", str(SAMPLE), "--junit", str(xml), "--fail-under", "0"]) == 0
    cases = parse(xml.read_text(), tmp_path)
    assert cases and all("/h" not in name for name in cases)
