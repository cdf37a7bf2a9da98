"""Every buggy sample is told its mistake, and nothing else; correct samples get no hint at all.

``tests/submissions/buggy/<name>/`` holds the module with the mistake: the
definitions it changes, which replace the reference's own (the reference is
added by :func:`conftest.assemble`, as is the other module); ``manifest.toml``
names the hints that name it (``grader.assignment.hints.HINTS``).
``tests/submissions/correct/`` holds correct submissions written differently
(float32 NumPy answers, a 0-d array for the loss, tensors that require grad).
All are graded in one session (``bench/bench_diagnosis.py`` prints the rates).
"""

from __future__ import annotations

import tomllib

import pytest

from conftest import REFERENCE, SUBMISSIONS, assemble
from grader.assignment import hints
from grader.grading import grade_many
from grader.runner import STATE_HINT

BUGGY = SUBMISSIONS / "buggy"
MANIFEST = tomllib.loads((BUGGY / "manifest.toml").read_text())
CORRECT = [REFERENCE, *sorted(p for p in (SUBMISSIONS / "correct").iterdir() if p.is_dir())]


@pytest.fixture(scope="module")
def reports(sandbox, options, tmp_path_factory):
    names = sorted(MANIFEST)
    folder = tmp_path_factory.mktemp("buggy")
    graded = grade_many([assemble(BUGGY / name, folder / name) for name in names] + CORRECT, options,
                        sandbox=sandbox)
    return dict(zip(names + [f"correct/{path.name}" for path in CORRECT], graded))


def test_there_are_at_least_25_buggy_samples_each_changing_the_reference():
    assert len(MANIFEST) >= 25
    folders = {path.name for path in BUGGY.iterdir() if path.is_dir()}
    assert folders == set(MANIFEST)
    for name in folders:
        files = {p.name for p in (BUGGY / name).iterdir()}
        assert files and files <= {"numpy_net.py", "torch_net.py"}, name
        assert all((BUGGY / name / file).read_text() != (REFERENCE / file).read_text() for file in files), name
    for name, entry in MANIFEST.items():
        assert entry["mistake"] and (entry["hints"] or entry.get("held_out")), name
        assert set(entry["hints"]) <= set(hints.HINTS), name


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_a_buggy_sample_is_told_its_mistake_and_no_other(reports, name):
    """Held-out samples (written after the hints) must get no wrong hint; the others, exactly theirs."""
    report = reports[name]
    assert report.status == "graded" and report.score < 100
    named = {check.id: hints.identify(check.hint) for check in report.checks if check.hint}
    assert all(check.status != "pass" for check in report.checks if check.hint), "a passing check got a hint"
    assert set(named.values()) <= set(MANIFEST[name]["hints"]), named
    if not MANIFEST[name].get("held_out"):
        assert set(named.values()) & set(MANIFEST[name]["hints"]), named


@pytest.mark.parametrize("path", CORRECT, ids=lambda p: p.name)
def test_a_correct_submission_gets_full_marks_and_no_hint(reports, path):
    report = reports[f"correct/{path.name}"]
    assert report.score == 100
    assert [check.id for check in report.checks if check.hint or check.status != "pass"] == []


def test_a_model_kept_in_a_global_fails_the_state_check_with_its_cause(reports):
    checks = {check.id: check for check in reports["global_model_torch"].checks}
    failed = {check_id for check_id, check in checks.items() if check.status != "pass"}
    assert failed == {"task3/train_torch/v1_again"}
    again = checks["task3/train_torch/v1_again"]
    assert again.message == (f"train_torch({again_label('v1')}): answered differently when called again with the "
                             "same arguments, twice in a row")  # a model kept for the same sizes
    assert again.hint == STATE_HINT and "global variable" in again.hint


def test_state_another_function_changed_fails_the_state_checks_that_run_after_it(reports):
    """train_torch sets torch's default dtype: the torch functions' state checks, run last, see it."""
    checks = {check.id: check for check in reports["default_dtype_torch"].checks}
    failed = {check_id for check_id, check in checks.items() if check.status != "pass"}
    assert "task1/Net/x1_mask_again" in failed
    assert failed <= {f"{group}_again" for group in ("task1/Net/x1_mask", "task1/forward_torch/x1",
                                                     "task2/grad_w1_torch/x1", "task3/train_torch/v1")}
    for check_id in failed:
        message = checks[check_id].message
        assert "answered differently when called again with the same arguments, after every other check had run; " \
               "this time: " in message and "RuntimeError" in message and "dtype" in message
        assert checks[check_id].hint == STATE_HINT


def again_label(case_id: str) -> str:
    from grader.assignment import cases

    [case] = [case for case in cases.TRAIN if case.id == f"{case_id}_again"]
    return case.label


def test_the_backward_pass_without_scaling_is_not_told_it_ignores_the_mask(reports):
    checks = {check.id: check for check in reports["no_scaling_backward"].checks}
    assert checks["task2/grad_w1_np/x1_mask"].hint == hints.NO_SCALING_BACKWARD  # a visible check names it
    assert all(check.hint != hints.NO_MASK_IN_BACKWARD for check in checks.values())


def test_training_without_a_named_mistake_is_localised(reports):
    momentum = {check.id: check for check in reports["momentum_torch"].checks}
    assert momentum["task3/train_torch/x1"].hint == hints.LOCAL_LATER_STEP.format(good=1, bad=2)
    no_lr = {check.id: check for check in reports["no_lr"].checks}
    assert no_lr["task3/train_np/x1"].hint == hints.LOCAL_UPDATE
    bias = {check.id: check for check in reports["bias_torch"].checks}
    assert bias["task1/Net/x1_mask"].hint == hints.BIAS and bias["task1/forward_torch/x1"].hint == hints.BIAS


def test_an_unstable_softmax_fails_a_visible_check_with_its_hint(reports):
    checks = {check.id: check for check in reports["softmax_unstable"].checks}
    visible = checks["task1/softmax/visible_2d_large"]
    assert visible.visibility == "visible" and "contains NaN" in visible.message
    assert visible.hint == hints.UNSTABLE_SOFTMAX
