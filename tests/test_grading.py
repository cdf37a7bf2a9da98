"""Grading sample submissions end to end, each with an exact expectation."""

from __future__ import annotations

import pytest

from conftest import REFERENCE, SUBMISSIONS, TEMPLATE, groups_losing_points, statuses
from grader.runner import NUMPY_FUNCTIONS, TORCH_FUNCTIONS


def test_reference_scores_full_marks(grade_sample):
    report = grade_sample(REFERENCE, assemble_it=False)
    assert report.status == "graded"
    assert (report.score, report.max_score) == (100.0, 100.0)
    assert set(statuses(report).values()) == {"pass"}
    assert len(report.checks) >= 40


def test_template_scores_zero_with_every_check_not_implemented(grade_sample):
    report = grade_sample(TEMPLATE, assemble_it=False)
    assert report.score == 0 and report.max_score == 100
    for check in report.checks:
        assert check.status == "error", check
        assert "not implemented" in check.message, check.message


# Each sample redefines one function with a typical bug. It must lose points
# on exactly that function's checks (and the NumPy/torch agreement check when
# it is one of the two training functions).
ONE_BUG = {
    "relu": {"task1/relu"},
    "softmax": {"task1/softmax"},
    "forward_np": {"task1/forward_np"},
    "loss_np": {"task2/loss_np"},
    "grad_w1_np": {"task2/grad_w1_np"},
    "grad_w2_np": {"task3/grad_w2_np"},
    "train_np": {"task3/train_np", "task3/agreement"},
    "Net": {"task1/Net"},
    "forward_torch": {"task1/forward_torch"},
    "grad_w1_torch": {"task2/grad_w1_torch"},
    "train_torch": {"task3/train_torch", "task3/agreement"},
}


def test_every_contract_function_has_a_one_bug_sample():
    assert set(ONE_BUG) == set(NUMPY_FUNCTIONS) | set(TORCH_FUNCTIONS)
    assert {p.name for p in (SUBMISSIONS / "one_bug").iterdir()} == set(ONE_BUG)


@pytest.mark.parametrize("function", sorted(ONE_BUG))
def test_one_bug_loses_points_on_exactly_its_function(grade_sample, function):
    report = grade_sample(f"one_bug/{function}")
    assert groups_losing_points(report) == ONE_BUG[function]
    assert all(check.status == "fail" for check in report.checks if check.score < check.max_score)


def test_messages_and_hints_name_the_mistake(grade_sample):
    checks = {c.id: c for c in grade_sample("one_bug/relu").checks}
    assert "modified its argument h in place" in checks["task1/relu/visible"].message
    checks = {c.id: c for c in grade_sample("one_bug/grad_w1_torch").checks}
    assert checks["task2/grad_w1_torch/x1"].message == "grad_w1_torch(x1, y1): shape (4, 3), expected (3, 4)"
    assert "transpose" in checks["task2/grad_w1_torch/x1"].hint
    checks = {c.id: c for c in grade_sample("one_bug/loss_np").checks}
    assert "softmax twice" in checks["task2/loss_np/x1"].hint
    checks = {c.id: c for c in grade_sample("one_bug/forward_np").checks}
    assert "1/(1-p)" in checks["task1/forward_np/h2"].hint
    checks = {c.id: c for c in grade_sample("one_bug/grad_w2_np").checks}
    assert "rounded to 4 decimals" in checks["task3/grad_w2_np/x1"].hint


def test_hard_coded_visible_answers_pass_visible_and_fail_hidden_checks(grade_sample):
    report = grade_sample(SUBMISSIONS / "hardcoded.py", assemble_it=False)
    for check in report.checks:
        expected = "pass" if check.visibility == "visible" else "fail"
        assert check.status == expected, check


def test_exit_at_import_costs_only_that_modules_checks(grade_sample):
    report = grade_sample("broken/exit_at_import")
    assert report.status == "graded"
    assert len(report.warnings) == 1 and "numpy_net.py could not be imported: SystemExit" in report.warnings[0]
    for check in report.checks:
        if check.function in NUMPY_FUNCTIONS or check.function == "agreement":
            assert check.status == "error", check
            assert check.message == "not run: numpy_net.py could not be imported (see above)"
        else:
            assert check.status == "pass", check


def test_hang_in_train_np_times_out_and_the_rest_is_graded(grade_sample):
    report = grade_sample("broken/hang_in_train")
    errors = {c.id for c in report.checks if c.status == "error"}
    assert errors == {c.id for c in report.checks if c.id.startswith(("task3/train_np/", "task3/agreement/"))}
    messages = {c.message for c in report.checks if c.status == "error"}
    assert "train_np: timed out after 2 s" in messages
    assert all(c.status == "pass" for c in report.checks if c.id not in errors)


def test_syntax_error_in_one_module_leaves_the_other_graded(grade_sample):
    report = grade_sample("broken/syntax_error")
    assert len(report.warnings) == 1, report.warnings  # once at the top, not on every check
    assert report.warnings[0].startswith("torch_net.py could not be imported: SyntaxError")
    assert "(torch_net.py, line 5)" in report.warnings[0]
    for check in report.checks:
        if check.function in TORCH_FUNCTIONS:
            assert check.status == "error", check
            assert check.message == "not run: torch_net.py could not be imported (see above)"
        elif check.function != "agreement":
            assert check.status == "pass", check


def test_exception_reports_type_and_student_line(grade_sample):
    checks = [c for c in grade_sample("broken/raises").checks if c.function == "forward_np"]
    assert checks and all(c.status == "error" for c in checks)
    assert "forward_np raised ValueError" in checks[0].message
    assert "(numpy_net.py, line 7, in forward_np)" in checks[0].message


def test_original_notebook_bugs_are_caught(grade_sample):
    report = grade_sample(SUBMISSIONS / "original_notebook.py", assemble_it=False)
    checks = {c.id: c for c in report.checks}
    task_scores = {task.id: task.score for task in report.tasks}
    assert task_scores["task3"] == 0  # its own masks, rounded gradients, nn.Dropout
    assert checks["task1/forward_np/x1"].status == "pass"  # Task 1 table reproduced
    assert checks["task2/grad_w1_torch/x1"].status == "pass"  # Task 2 table reproduced (torch)
    assert "NaN" in checks["task1/softmax/hidden_large"].message  # unshifted exp overflows
    assert checks["task1/softmax/hidden_2d"].status == "fail"  # built-in sum over the wrong axis
    assert "rounded to 4 decimals" in checks["task2/grad_w1_np/x1"].hint
    assert checks["task1/forward_np/h2"].status == "fail"  # draws its own dropout mask
    assert checks["task3/agreement/x1"].status == "fail"  # NumPy and torch saw different masks


def test_grading_many_in_one_session_equals_grading_each(sandbox, options, tmp_path):
    from conftest import assemble
    from grader.grading import grade, grade_many

    paths = [REFERENCE, assemble(SUBMISSIONS / "broken" / "exit_at_import", tmp_path / "exit"), TEMPLATE,
             tmp_path / "missing-files", SUBMISSIONS / "hardcoded.py"]
    (tmp_path / "missing-files").mkdir()
    started: list[int] = []
    streamed: dict[int, object] = {}
    together = grade_many(paths, options, sandbox=sandbox, on_start=started.append,
                          on_report=lambda i, report: streamed.setdefault(i, report.to_json()))
    assert started == list(range(len(paths)))
    assert [streamed[i] for i in range(len(paths))] == [report.to_json() for report in together]
    for path, report in zip(paths, together):
        alone = grade(path, options, sandbox=sandbox)
        assert report.submission == alone.submission
        assert report.status == alone.status and report.error == alone.error
        assert [(c.id, c.status, c.score, c.message) for c in report.checks] == \
            [(c.id, c.status, c.score, c.message) for c in alone.checks]


def test_output_and_warnings_cost_nothing(grade_sample):
    report = grade_sample("broken/noisy")
    assert report.score == 100, [c for c in report.checks if c.status != "pass"]


def test_a_py_file_that_cannot_be_imported_is_reported_once_with_the_missing_package(grade_sample, tmp_path):
    path = tmp_path / "hw.py"
    path.write_text("import numpy as np\n\nimport not_a_real_package_xyz\n")
    report = grade_sample(path, assemble_it=False)
    assert report.warnings == ("hw.py could not be imported: not_a_real_package_xyz is not installed in the grading "
                               "environment (hw.py, line 3, in <module>)",)
    assert {check.message for check in report.checks} == {"not run: hw.py could not be imported (see above)"}
    assert report.score == 0
