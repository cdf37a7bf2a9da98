"""Gradescope: the autograder zip as Gradescope runs it, and results.json against Gradescope's published format.

The slow half builds the grader wheel, writes ``autograder.zip``, unpacks it
into a fake ``/autograder`` (``AUTOGRADER_ROOT``), runs its ``setup.sh`` and
then its ``run_autograder`` on real submission folders. One step differs
from Gradescope: torch and the other dependencies come from this project's
own venv (linked into the autograder's venv before ``setup.sh`` runs, so its
``pip install -c constraints.txt nn_autograder-*.whl`` finds them installed)
instead of being downloaded from the CPU index, which is not reachable here.
Submissions are graded without bubblewrap (``AUTOGRADER_NO_BUBBLEWRAP=1``),
as in Gradescope's containers, where it usually cannot create namespaces
(and because the linked dependencies live outside what bubblewrap shows):
the per-child user id and the file permissions that ``setup.sh`` sets are
the layers under test.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import jsonschema
import pytest

from conftest import REFERENCE, ROOT, SUBMISSIONS, assemble
from grader import gradescope
from grader.gradescope import LayoutError, locate_submission, results_json, run_autograder
from grader.release.gradescope_zip import TEMPLATES as GRADESCOPE_TEMPLATES
from grader.release.gradescope_zip import write_gradescope

SCHEMA = json.loads((ROOT / "integrations" / "gradescope" / "results.schema.json").read_text())
NUMPY_FUNCTIONS = {"relu", "softmax", "forward_np", "loss_np", "grad_w1_np", "grad_w2_np", "train_np"}
TORCH_FUNCTIONS = {"Net", "forward_torch", "grad_w1_torch", "train_torch"}


def valid(results: dict) -> dict:
    jsonschema.validate(results, SCHEMA)
    return results


def reference_folder(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for module in ("numpy_net.py", "torch_net.py"):
        shutil.copy(REFERENCE / module, destination / module)
    return destination


# ---------------------------------------------------------------- the submission's layout (fast)


def test_files_uploaded_as_they_are_are_the_submission(tmp_path):
    reference_folder(tmp_path / "submission")
    assert locate_submission(tmp_path / "submission") == tmp_path / "submission"


def test_a_submission_zipped_as_one_folder_is_found_inside_it(tmp_path):
    reference_folder(tmp_path / "submission" / "hw2")
    (tmp_path / "submission" / "__MACOSX").mkdir()
    assert locate_submission(tmp_path / "submission") == tmp_path / "submission" / "hw2"


def test_a_single_notebook_is_the_submission(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "hw2.ipynb").write_text("{}")
    assert locate_submission(tmp_path / "submission") == tmp_path / "submission" / "hw2.ipynb"


@pytest.mark.parametrize("layout, says", [
    ({}, "The submission is empty. Expected numpy_net.py and torch_net.py"),
    ({"a/b/numpy_net.py": "", "a/b/torch_net.py": ""}, "Found a/b/numpy_net.py, a/b/torch_net.py: nested too deep"),
    ({"notes.txt": "hello"}, "Found only notes.txt. Expected numpy_net.py and torch_net.py"),
])
def test_a_submission_laid_out_wrong_says_what_was_expected(tmp_path, layout, says):
    folder = tmp_path / "submission"
    folder.mkdir()
    for name, text in layout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    with pytest.raises(LayoutError, match="^" + says.replace(".", r"\.")):
        locate_submission(folder)


def test_a_bad_layout_gets_results_json_that_says_what_was_expected(tmp_path):
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "notes.txt").write_text("hello")
    results = valid(run_autograder(tmp_path, started=time.time()))
    assert json.loads((tmp_path / "results" / "results.json").read_text()) == results
    assert results["score"] == 0
    [test] = results["tests"]
    assert test["name"] == "Submission layout" and test["max_score"] == 100
    assert "Found only notes.txt. Expected numpy_net.py and torch_net.py" in test["output"]


def test_an_internal_failure_still_writes_results_that_say_the_submission_was_not_judged(tmp_path, monkeypatch):
    reference_folder(tmp_path / "submission")

    def broken(*args, **kwargs):
        raise RuntimeError("the grader broke")

    monkeypatch.setattr("grader.grading.GradingOptions.open_sandbox", broken)
    results = valid(run_autograder(tmp_path, started=time.time() - 3.2, bubblewrap=False))
    assert results["score"] == 0 and results["execution_time"] == 3
    [test] = results["tests"]
    assert test["name"] == "The autograder failed"
    assert "NOT judged" in test["output"] and "the grader broke" not in test["output"]


# ---------------------------------------------------------------- results.json from a report (fast)


def test_the_visible_output_counts_only_visible_points(sample_report):
    results = valid(results_json(sample_report, execution_time=6.5))
    assert results["execution_time"] == 6  # round(6.5) is 6: Python rounds halves to even
    visible = [c for c in sample_report.checks if c.visibility == "visible"]
    first_line = results["output"].splitlines()[0]
    assert first_line == (f"sample_submission: visible checks {sum(c.score for c in visible):g} / "
                          f"{sum(c.max_score for c in visible):g} points.")
    assert sample_report.score == 2 and "2 /" not in results["output"]  # the total counts a hidden check
    assert results["output"].splitlines()[1].startswith("2 hidden checks (2 points")
    hidden = [t for t in results["tests"] if t["visibility"] != "visible"]
    assert hidden and all(t["visibility"] == "after_published" for t in hidden)


@pytest.fixture(scope="module")
def sample_report():
    from grader.report import CheckResult, Report, TaskResult

    checks = (
        CheckResult("task1/relu/visible", "relu", "pass", 1.0, 1.0, "visible", "matches"),
        CheckResult("task1/relu/hidden_2d", "relu", "pass", 1.0, 1.0, "hidden", "matches"),
        CheckResult("task1/relu/hidden_3d", "relu", "fail", 0.0, 1.0, "hidden", "max abs error 1", hint="transposed"),
        CheckResult("task1/softmax/visible", "softmax", "error", 0.0, 2.0, "visible", "raised ValueError"),
    )
    return Report("sample_submission", "graded", (TaskResult("task1", "Forward pass", checks),), {}, 0.5)


# ---------------------------------------------------------------- keeping answers from student code (fast)


def fake_site_packages(root: Path) -> Path:
    site = root / "site-packages"
    for name in ("grader/__init__.py", "grader/assignment/cases.py", "grader/inside/harness.py",
                 "grader/inside/__pycache__/harness.cpython-311.pyc", "reference/numpy_net.py", "numpy/core.py"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("x = 1\n")
    for path in site.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return site


def test_locking_leaves_only_the_childs_own_code_readable_to_others(tmp_path):
    site = fake_site_packages(tmp_path)
    assert not gradescope.answers_locked(site)
    gradescope.lock_answers(site)
    assert gradescope.answers_locked(site)

    def mode(name: str) -> int:
        return stat.S_IMODE((site / name).stat().st_mode)

    assert mode("grader") == 0o711  # traversable, not listable
    assert mode("grader/__init__.py") == 0o600 and mode("grader/assignment") == 0o700
    assert mode("reference") == 0o700 and mode("reference/numpy_net.py") == 0o600
    assert mode("grader/inside") == 0o755 and mode("grader/inside/harness.py") == 0o644
    assert mode("numpy/core.py") == 0o644  # other packages are untouched


def test_one_readable_answer_file_means_not_locked(tmp_path):
    site = fake_site_packages(tmp_path)
    gradescope.lock_answers(site)
    (site / "grader" / "assignment").chmod(0o711)
    (site / "grader" / "assignment" / "cases.py").chmod(0o644)
    assert not gradescope.answers_locked(site)


# ---------------------------------------------------------------- the zip (fast)


def test_the_zip_has_the_scripts_at_its_root_and_the_wheel_inside(tmp_path):
    wheel = tmp_path / "nn_autograder-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    zip_path = write_gradescope(tmp_path / "out", wheel=wheel, constraints=ROOT / "constraints.txt", secret="s3cret")
    assert zip_path == tmp_path / "out" / "gradescope" / "autograder.zip"
    with zipfile.ZipFile(zip_path) as archive:
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}
        assert archive.read("secret") == b"s3cret"
    assert modes == {"setup.sh": 0o755, "run_autograder": 0o755, wheel.name: 0o644, "constraints.txt": 0o644,
                     "secret": 0o600}
    assert stat.S_IMODE(zip_path.stat().st_mode) == 0o600  # it holds the secret


def test_without_a_secret_the_zip_holds_none(tmp_path):
    wheel = tmp_path / "nn_autograder-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    zip_path = write_gradescope(tmp_path, wheel=wheel, constraints=ROOT / "constraints.txt", secret=None)
    assert "secret" not in zipfile.ZipFile(zip_path).namelist()


# ---------------------------------------------------------------- the autograder as Gradescope runs it (slow)


def build_wheel(destination: Path) -> Path:
    """The grader's wheel, built from a clean copy of the sources (no stale build/ folder).

    Without build isolation (offline): the setuptools it needs (>= 77) is already here, as torch requires it.
    """
    source = destination / "src"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source / name)
    for package in ("grader", "reference", "student_template"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(destination / "dist"), str(source)], check=True, capture_output=True)
    [wheel] = (destination / "dist").glob("nn_autograder-*.whl")
    return wheel


def link_dependencies(venv: Path, work: Path) -> None:
    """Make this project's installed dependencies (not the grader itself) visible to ``venv``."""
    import torch

    installed = Path(torch.__file__).resolve().parents[1]
    deps = work / "deps"
    deps.mkdir()
    for entry in installed.iterdir():
        if entry.name.startswith(("grader", "reference", "student_template", "nn_autograder", "__editable__")):
            continue
        (deps / entry.name).symlink_to(entry)
    [site] = (venv / "lib").glob("python3.*/site-packages")
    (site / "project-dependencies.pth").write_text(f"{deps}\n")


@pytest.fixture(scope="module")
def autograder():
    """A fake /autograder after Gradescope's image build: the zip unpacked into source/, setup.sh run."""
    work = Path(tempfile.mkdtemp(prefix="fake-gradescope-"))
    work.chmod(0o755)  # like /autograder: the child's user id may walk it
    try:
        root = work / "autograder"
        root.mkdir()
        wheel = build_wheel(work / "build")
        zip_path = write_gradescope(work / "out", wheel=wheel, constraints=ROOT / "constraints.txt", secret=None)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(root / "source")
        for script in ("setup.sh", "run_autograder"):
            (root / "source" / script).chmod(0o755)  # zipfile does not restore modes; Gradescope's unzip does
        shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
        python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        subprocess.run([str(python), "-m", "venv", str(root / "venv")], check=True)
        link_dependencies(root / "venv", work)
        environment = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_TORCH_INDEX": "",
                       "AUTOGRADER_SKIP_APT": "1", "AUTOGRADER_PYTHON": str(python)}
        setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=environment, cwd=root / "source",
                               capture_output=True, text=True)
        assert setup.returncode == 0, setup.stderr
        yield root
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(root: Path, submission: Path | None) -> dict:
    """Put ``submission`` (a folder's contents) in root/submission and run run_autograder as Gradescope does."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    if submission is None:
        (root / "submission").mkdir()
    else:
        shutil.copytree(submission, root / "submission")
    environment = {"PATH": os.environ["PATH"], "AUTOGRADER_ROOT": str(root),
                   "AUTOGRADER_NO_BUBBLEWRAP": "1"}
    started = time.monotonic()
    finished = subprocess.run([str(root / "run_autograder")], env=environment, cwd=root, capture_output=True,
                              text=True, timeout=600)
    elapsed = time.monotonic() - started
    print(finished.stdout, finished.stderr)  # Gradescope's staff-only stdout, shown when a test fails
    assert finished.returncode == 0, finished.stderr
    results = valid(json.loads((root / "results" / "results.json").read_text()))
    assert results["execution_time"] <= elapsed + 0.5  # measured inside the run (rounded to whole seconds)
    return results


def points(results: dict, functions: set[str]) -> tuple[float, float]:
    tests = [t for t in results["tests"] if t["tags"][1] in functions]
    return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def test_setup_sh_locks_the_answers_and_the_source_away_from_other_users(autograder):
    [site] = (autograder / "venv" / "lib").glob("python3.*/site-packages")
    assert gradescope.answers_locked(site)
    assert stat.S_IMODE((autograder / "source").stat().st_mode) == 0o700  # the wheel holds the reference
    nobody = ["setpriv", "--reuid=2000000999", "--regid=2000000999", "--clear-groups", "cat"]
    denied = subprocess.run([*nobody, str(site / "reference" / "numpy_net.py")], capture_output=True, text=True)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    allowed = subprocess.run([*nobody, str(site / "grader" / "inside" / "harness.py")], capture_output=True)
    assert allowed.returncode == 0


def test_a_correct_submission_gets_full_marks(autograder, tmp_path):
    results = run(autograder, reference_folder(tmp_path / "correct"))
    assert results["score"] == 100, results
    assert results["extra_data"]["sandbox"]["answers_file_permissions"] is True
    report = json.loads((autograder / "results" / "report.json").read_text())
    assert report["score"] == 100
    assert results["execution_time"] >= round(report["duration_s"])  # the whole run, not just the checks


def test_a_submission_zipped_as_one_folder_gets_full_marks(autograder, tmp_path):
    folder = tmp_path / "zipped"
    reference_folder(folder / "hw2")
    assert run(autograder, folder)["score"] == 100


def test_a_buggy_submission_loses_the_points_of_its_bug(autograder):
    expected = json.loads((ROOT / "grader" / "schema" / "sample_report.json").read_text())
    results = run(autograder, ROOT / "examples" / "sample_submission")
    assert results["score"] == expected["score"]
    hints = {t["name"].split(" ")[0]: t["output"] for t in results["tests"] if "Hint:" in t["output"]}
    assert "task2/loss_np/x1" in hints


def test_a_broken_submission_is_judged_and_says_why(autograder, tmp_path):
    results = run(autograder, assemble(SUBMISSIONS / "broken" / "syntax_error", tmp_path / "broken"))
    torch_score, torch_max = points(results, TORCH_FUNCTIONS)
    assert torch_score == 0 and torch_max > 0
    assert "SyntaxError" in results["output"]  # said once, above the checks (their outputs say "see above")
    assert points(results, NUMPY_FUNCTIONS)[0] == points(results, NUMPY_FUNCTIONS)[1]


def test_an_empty_submission_gets_results_that_say_what_was_expected(autograder):
    results = run(autograder, None)
    assert results["score"] == 0 and "The submission is empty" in results["tests"][0]["output"]


def test_without_bubblewrap_file_permissions_keep_the_installed_reference_from_student_code(autograder, tmp_path):
    results = run(autograder, assemble(SUBMISSIONS / "gradescope" / "read_installed_reference", tmp_path / "thief"))
    layers = results["extra_data"]["sandbox"]
    assert layers["bubblewrap"] is False and layers["per_child_user"] is True
    assert layers["answers_file_permissions"] is True
    numpy_score, numpy_max = points(results, NUMPY_FUNCTIONS)
    assert numpy_max > 0 and numpy_score == 0  # nothing stolen: its zeros fail
    assert not any("error" in t["name"] for t in results["tests"] if t["tags"][1] in NUMPY_FUNCTIONS)
    torch_score, torch_max = points(results, TORCH_FUNCTIONS)
    assert torch_score == torch_max  # the honest part keeps its points


@pytest.mark.parametrize("python", [None, "#!/bin/sh\nsleep 60\n"], ids=["no python", "a grader that hangs"])
def test_when_the_grader_cannot_finish_run_autograder_still_writes_results(python, tmp_path):
    root = tmp_path / "autograder"
    (root / "venv" / "bin").mkdir(parents=True)
    if python is not None:
        (root / "venv" / "bin" / "python").write_text(python)
        (root / "venv" / "bin" / "python").chmod(0o755)
    shutil.copy(GRADESCOPE_TEMPLATES / "run_autograder", root / "run_autograder")
    reference_folder(root / "submission")
    finished = subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, timeout=60,
                              env={"PATH": os.environ["PATH"], "AUTOGRADER_ROOT": str(root), "AUTOGRADER_TIMEOUT_S": "1"})
    assert finished.returncode == 0
    results = valid(json.loads((root / "results" / "results.json").read_text()))
    assert results["score"] == 0 and results["tests"][0]["name"] == "The autograder failed"


def test_the_uploaded_wheel_holds_the_grader_and_what_grader_release_writes(autograder):
    [wheel] = (autograder / "source").glob("nn_autograder-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"grader/gradescope.py", "grader/inside/harness.py", "reference/numpy_net.py",
            "grader/release/templates/gradescope/setup.sh", "grader/release/templates/gradescope/run_autograder",
            "grader/release/templates/classroom/student-classroom.yml"} <= names


def test_with_bubblewrap_and_an_unlocked_install_the_results_say_which_layers_were_in_force(tmp_path):
    reference_folder(tmp_path / "submission")
    results = valid(run_autograder(tmp_path, started=time.time()))
    assert results["score"] == 100
    layers = results["extra_data"]["sandbox"]
    from grader.sandbox.bubblewrap import probe

    assert layers["bubblewrap"] is (probe(as_root=os.geteuid() == 0) is None)
    assert layers["answers_file_permissions"] is False  # this checkout is readable by all: the layer is not claimed
    assert json.loads((tmp_path / "results" / "report.json").read_text())["sandbox"] == layers
