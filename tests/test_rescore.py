"""Rescoring: new points from the reports alone, equal to a full regrade; other changes said, never silent.

A small class (correct, two single bugs, the template) is graded once with
the packaged points; a second rubric moves points between groups. The
rescored folder must equal a fresh ``--force`` grading with the second
rubric, report by report and in the gradebook.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import REFERENCE, ROOT, SUBMISSIONS, TEMPLATE, assemble
from grader.batch import gradebook
from grader.batch.rescore import StaleReport, rescore_report
from grader.cli import main
from grader.rubric import load_rubric

RUBRIC = (ROOT / "grader" / "assignment" / "rubric.toml").read_text().replace("call_timeout_s = 10.0",
                                                                              "call_timeout_s = 2.0")
OTHER_POINTS = (RUBRIC.replace('[groups."task2/loss_np"]\npoints = 6', '[groups."task2/loss_np"]\npoints = 11')
                .replace('[groups."task2/grad_w1_np"]\npoints = 14', '[groups."task2/grad_w1_np"]\npoints = 9'))
OTHER_TOLERANCE = RUBRIC.replace("[tolerance]               # every group not given its own\nrtol = 1e-5",
                                 "[tolerance]               # every group not given its own\nrtol = 1e-4")


def _scores(output: Path) -> dict[str, dict]:
    """Each report's scores, the parts a rescore must reproduce exactly."""
    found = {}
    for path in sorted(output.glob("*.json")):
        report = json.loads(path.read_text())
        found[path.stem] = {"score": report["score"], "max_score": report["max_score"],
                            "tasks": [(t["id"], t["score"], t["max_score"],
                                       [(c["id"], c["status"], c["score"], c["max_score"]) for c in t["checks"]])
                                      for t in report["tasks"]]}
    return found


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(class folder, reports with the packaged points, reports regraded with the other points, rubric files)."""
    root = tmp_path_factory.mktemp("rescore")
    folder = root / "class"
    folder.mkdir()
    shutil.copytree(REFERENCE, folder / "alice")
    shutil.copytree(TEMPLATE, folder / "bob")
    assemble(SUBMISSIONS / "one_bug" / "loss_np", folder / "carol")
    assemble(SUBMISSIONS / "one_bug" / "grad_w1_np", folder / "grace")
    rubrics = {}
    for name, text in (("packaged", RUBRIC), ("other_points", OTHER_POINTS), ("other_tolerance", OTHER_TOLERANCE)):
        rubrics[name] = root / f"{name}.toml"
        rubrics[name].write_text(text)
    first, regraded = root / "first", root / "regraded"
    assert main(["batch", str(folder), "-o", str(first), "-j", "2", "--rubric", str(rubrics["packaged"])]) == 0
    assert main(["batch", str(folder), "-o", str(regraded), "-j", "2", "--rubric", str(rubrics["other_points"])]) == 0
    return folder, first, regraded, rubrics


def test_rescoring_with_other_points_equals_a_full_regrade(graded, tmp_path, capsys):
    _, first, regraded, rubrics = graded
    copy = shutil.copytree(first, tmp_path / "reports")
    assert _scores(copy) != _scores(regraded)  # the points do change the scores

    code, out, _ = _run(["rescore", str(copy), "--rubric", str(rubrics["other_points"])], capsys)
    assert code == 0 and "rescored 4 report(s)" in out and "without running any code" in out
    assert _scores(copy) == _scores(regraded)
    assert gradebook.read_gradebook(copy / "grades.csv") == gradebook.read_gradebook(regraded / "grades.csv")
    assert (copy / "rubric.toml").read_text() == OTHER_POINTS  # the rubric in force is recorded


def test_a_batch_with_new_points_rescores_instead_of_running_code(graded, tmp_path, capsys):
    folder, first, regraded, rubrics = graded
    copy = shutil.copytree(first, tmp_path / "reports")
    code, out, err = _run(["batch", str(folder), "-o", str(copy), "--rubric", str(rubrics["other_points"])], capsys)
    assert code == 0 and "rescored without running code (only points changed): 4 report(s)" in out
    assert "points of task2/grad_w1_np, task2/loss_np" in err and "with 2 worker(s)" not in out
    assert _scores(copy) == _scores(regraded)


def test_a_batch_without_the_recorded_rubric_says_so_instead_of_regrading(graded, capsys):
    folder, _, regraded, _ = graded
    before = _scores(regraded)
    code, _, err = _run(["batch", str(folder), "-o", str(regraded)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "graded with the rubric in" in err and "--rubric" in err
    assert _scores(regraded) == before


def test_other_tolerances_make_reports_stale_rescore_refuses_and_batch_regrades(graded, tmp_path, capsys):
    folder, first, _, rubrics = graded
    copy = shutil.copytree(first, tmp_path / "reports")
    before = {path.name: path.read_text() for path in copy.glob("*.json")}
    code, out, _ = _run(["rescore", str(copy), "--rubric", str(rubrics["other_tolerance"])], capsys)
    assert code == 1 and "4 report(s) cannot be rescored" in out and "grader batch" in out
    assert {path.name: path.read_text() for path in copy.glob("*.json")} == before  # nothing changed

    one = tmp_path / "one"  # regrading costs a sandbox per submission: one is enough to show it
    one.mkdir()
    shutil.copytree(folder / "alice", one / "alice")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(copy / "alice.json", alone / "alice.json")
    shutil.copy(copy / "rubric.toml", alone / "rubric.toml")
    code, out, _ = _run(["batch", str(one), "-o", str(alone), "--rubric", str(rubrics["other_tolerance"])], capsys)
    assert code == 0 and "stale (tolerances, limits, cases or grader code changed), regraded: alice" in out
    assert json.loads((alone / "alice.json").read_text())["score"] == 100


def test_a_report_whose_checks_do_not_match_the_rubric_is_stale():
    report = {"status": "graded", "score": 3.0, "max_score": 3.0,
              "tasks": [{"id": "task1", "title": "t", "score": 3.0, "max_score": 3.0,
                         "checks": [{"id": "task1/relu/visible", "status": "pass", "score": 3.0, "max_score": 3.0}]}]}
    with pytest.raises(StaleReport, match="rubric groups without any check"):
        rescore_report(report, load_rubric())
