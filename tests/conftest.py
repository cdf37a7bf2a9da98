"""Shared fixtures: one warm sandbox for the session, and sample submissions built from files."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from grader.grading import GradingOptions, grade
from grader.report import Report
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"
REFERENCE = ROOT / "reference"
TEMPLATE = ROOT / "student_template"
CONTRACT_MODULES = ("numpy_net", "torch_net")


def short_timeout_options(rubric=None, **changes) -> GradingOptions:
    """A rubric (the default one) with a short call timeout, so that hanging samples cost 2 s."""
    rubric = rubric or load_rubric()
    rubric = dataclasses.replace(rubric, limits=dataclasses.replace(rubric.limits, call_timeout_s=2.0))
    return GradingOptions(rubric=rubric, **changes)


@pytest.fixture(scope="session")
def options() -> GradingOptions:
    return short_timeout_options()


@pytest.fixture(scope="session")
def sandbox(options):
    box = options.open_sandbox()
    yield box
    box.close()


def assemble(sample: Path, destination: Path) -> Path:
    """A submission folder: the sample's files, plus the reference for what it does not change.

    A sample holds only the module(s) it changes; they start with
    ``from _correct_numpy_net import *`` and redefine one function, so the
    others keep the reference's behaviour (each calls the reference's own
    helpers, not the redefined one).
    """
    destination.mkdir(parents=True)
    for module in CONTRACT_MODULES:
        shutil.copy(REFERENCE / f"{module}.py", destination / f"_correct_{module}.py")
    for file in sample.iterdir():
        if file.is_file():  # not a __pycache__ that running the sample left behind
            shutil.copy(file, destination / file.name)
    for module in CONTRACT_MODULES:
        target = destination / f"{module}.py"
        if not target.exists():
            target.write_text(f"from _correct_{module} import *  # noqa: F403\n")
    return destination


@pytest.fixture
def grade_sample(tmp_path, sandbox, options):
    """Grade a sample folder under tests/submissions (assembled) or any path as it is."""

    def run(sample: str | Path, *, assemble_it: bool = True, grading_options: GradingOptions | None = None) -> Report:
        path = Path(sample)
        if not path.is_absolute():
            path = SUBMISSIONS / path
        if assemble_it and path.is_dir():
            path = assemble(path, tmp_path / path.name)
        return grade(path, grading_options or options, sandbox=sandbox)

    return run


def statuses(report: Report) -> dict[str, str]:
    return {check.id: check.status for check in report.checks}


def groups_losing_points(report: Report) -> set[str]:
    return {check.id.rsplit("/", 1)[0] for check in report.checks if check.score < check.max_score}
