"""The command line: exit codes, one-line errors, JSON on stdout, the self-check."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REFERENCE, ROOT
from grader.cli import main


def test_missing_path_is_a_one_line_usage_error(capsys):
    assert main(["grade", "no/such/submission"]) == 2
    err = capsys.readouterr().err
    assert err == "grader: error: no/such/submission: no such file or folder\n"


def test_bad_rubric_is_a_one_line_usage_error(capsys, tmp_path):
    rubric = tmp_path / "r.toml"
    rubric.write_text("total = = 1")
    assert main(["grade", str(REFERENCE), "--rubric", str(rubric)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid TOML" in err


def test_grade_writes_the_report_and_prints_json(capsys, tmp_path):
    out = tmp_path / "reports" / "ref.json"
    assert main(["grade", str(REFERENCE), "-o", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["score"] == 100
    assert json.loads(out.read_text())["tasks"] == printed["tasks"]


def test_check_shows_visible_checks_only(capsys):
    assert main(["check", str(ROOT / "examples" / "sample_submission")]) == 0
    out = capsys.readouterr().out
    assert "task2/grad_w1_torch/x1" in out and "transpose" in out
    assert "/h1 " not in out and ", hidden)" not in out  # no hidden check ran
    assert "visible checks only (60.9834 of 100 points)" in out


def test_console_script_and_module_agree():
    result = subprocess.run([sys.executable, "-m", "grader", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("grader ")


def test_gradescope_results_and_markdown_summary(tmp_path, capsys):
    results, summary = tmp_path / "results.json", tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    sample = ROOT / "examples" / "sample_submission"
    assert main(["grade", str(sample), "--gradescope", str(results), "--markdown", str(summary)]) == 0
    data = json.loads(results.read_text())
    assert data["score"] == pytest.approx(sum(test["score"] for test in data["tests"]), abs=1e-9)
    assert data["score"] == 53.0834
    assert {test["status"] for test in data["tests"]} == {"passed", "failed"}
    assert {test["visibility"] for test in data["tests"]} == {"visible", "after_published"}
    assert all(len(test["number"].split(".")) == 2 for test in data["tests"])
    text = summary.read_text()
    assert text.startswith("earlier step\n## sample_submission: 53.0834 / 100")
    assert "| `task2/grad_w1_torch/x1` | fail |" in text


def test_selfcheck_from_python(capsys):
    from grader.selfcheck import check

    report = check(ROOT / "examples" / "sample_submission")
    assert {c.visibility for c in report.checks} == {"visible"}
    assert "task2/loss_np/x1" in capsys.readouterr().out
