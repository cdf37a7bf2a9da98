"""The rubric: totals verified on load, and a TA's override changes points without code."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import REFERENCE, short_timeout_options
from grader.rubric import RubricError, load_rubric

DEFAULT = load_rubric()


def test_default_rubric_totals_100():
    assert DEFAULT.total == 100
    assert sum(g.points for g in DEFAULT.groups.values()) == pytest.approx(100)


def _write(tmp_path, text: str):
    path = tmp_path / "rubric.toml"
    path.write_text(text)
    return path


BASE = """
total = {total}
[tasks.task1]
title = "Forward pass"
[groups."task1/relu"]
points = 10
"""


def test_points_that_do_not_add_up_are_refused(tmp_path):
    with pytest.raises(RubricError, match="add up to 10, but total is 12"):
        load_rubric(_write(tmp_path, BASE.format(total=12)))


def test_malformed_rubrics_get_one_line_errors(tmp_path):
    with pytest.raises(RubricError, match="not valid TOML"):
        load_rubric(_write(tmp_path, "total = = 3"))
    with pytest.raises(RubricError, match="malformed rubric"):
        load_rubric(_write(tmp_path, "total = 3"))
    with pytest.raises(RubricError, match="cannot read"):
        load_rubric(tmp_path / "missing.toml")
    with pytest.raises(RubricError, match="unknown \\[limits\\] keys: wall_clock"):
        load_rubric(_write(tmp_path, BASE.format(total=10) + "[limits]\nwall_clock = 3\n"))


def test_a_rubric_missing_groups_cannot_grade(grade_sample, tmp_path):
    from grader.checks import ChecksError

    options = short_timeout_options(rubric=load_rubric(_write(tmp_path, BASE.format(total=10))))
    with pytest.raises(ChecksError, match="checks without points in the rubric"):
        grade_sample(REFERENCE, assemble_it=False, grading_options=options)


def test_ta_override_moves_points_and_tolerances(grade_sample, tmp_path):
    text = (REFERENCE.parent / "grader" / "assignment" / "rubric.toml").read_text()
    text = text.replace('[groups."task1/relu"]\npoints = 3', '[groups."task1/relu"]\npoints = 13')
    text = text.replace("total = 100", "total = 110")
    options = short_timeout_options(rubric=load_rubric(_write(tmp_path, text)))
    report = grade_sample(REFERENCE, assemble_it=False, grading_options=options)
    assert (report.score, report.max_score) == (110, 110)
    relu = [c for c in report.checks if c.function == "relu"]
    assert sum(c.max_score for c in relu) == pytest.approx(13)


def test_a_groups_points_are_shared_in_ten_thousandths_that_add_up():
    rubric = load_rubric()
    for group_id, group in rubric.groups.items():
        for count in (1, 3, 7):
            shares = rubric.shares(group_id, count)
            assert len(shares) == count and round(sum(shares), 4) == group.points
            assert all(round(share, 4) == share for share in shares)
            assert max(shares) - min(shares) <= 0.0001 + 1e-12
    five = dataclasses.replace(rubric, groups={"g": dataclasses.replace(next(iter(rubric.groups.values())), points=5)})
    assert five.shares("g", 3) == [1.6667, 1.6667, 1.6666]
