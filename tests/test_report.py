"""The JSON report: its schema, the sample kept beside it, and safe writing."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from conftest import REFERENCE, ROOT
from grader.report import dumps, write_atomically

SCHEMA = json.loads((ROOT / "grader" / "schema" / "report.schema.json").read_text())
SAMPLE = json.loads((ROOT / "grader" / "schema" / "sample_report.json").read_text())


def test_the_schema_is_valid():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_sample_report_validates():
    jsonschema.validate(SAMPLE, SCHEMA)
    assert SAMPLE["submission"] == "sample_submission" and 0 < SAMPLE["score"] < 100


@pytest.mark.parametrize("submission", ["reference", "template", "unloadable"])
def test_fresh_reports_validate_and_add_up(grade_sample, tmp_path, submission):
    path = {"reference": REFERENCE, "template": ROOT / "student_template", "unloadable": tmp_path}[submission]
    data = json.loads(dumps(grade_sample(path, assemble_it=False)))
    jsonschema.validate(data, SCHEMA)
    for task in data["tasks"]:
        assert task["score"] == pytest.approx(sum(c["score"] for c in task["checks"]))
        assert task["max_score"] == pytest.approx(sum(c["max_score"] for c in task["checks"]))
    assert data["max_score"] == pytest.approx(100)
    ids = [c["id"] for t in data["tasks"] for c in t["checks"]]
    assert len(ids) == len(set(ids))


def test_sample_report_lists_the_same_checks_as_a_fresh_run(grade_sample):
    fresh = json.loads(dumps(grade_sample(REFERENCE, assemble_it=False)))
    ids = lambda report: [c["id"] for t in report["tasks"] for c in t["checks"]]  # noqa: E731
    assert ids(fresh) == ids(SAMPLE), "regenerate grader/schema/sample_report.json (see README)"


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path):
    target = tmp_path / "out" / "report.json"
    write_atomically(target, "first")
    write_atomically(target, "second")
    assert target.read_text() == "second"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"]
    assert target.stat().st_mode & 0o777 == 0o644
