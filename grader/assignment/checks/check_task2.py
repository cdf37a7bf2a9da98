"""Task 2: the loss and the gradient of w1, by hand in NumPy and by autograd in torch."""

from __future__ import annotations

import pytest

from grader.assignment import cases, diagnose, expected, hints, state
from grader.compare import CheckFailed, check_array, check_number


@pytest.mark.group("task2/loss_np")
@pytest.mark.parametrize("case", cases.LOSS, ids=lambda c: c.id)
def test_loss_np(case, run, tolerance, passed):
    y = expected.forward(case)
    got = state.call(run, case, "loss_np", ("y", y), ("target", case.target))
    passed(check_number(got, expected.loss(case), tolerance, what=f"loss_np(forward({case.label}), target)",
                        reveal=case.visible, alternatives=hints.loss(case)))


@pytest.mark.group("task2/grad_w1_np")
@pytest.mark.parametrize("case", cases.GRAD_W1, ids=lambda c: c.id)
def test_grad_w1_np(case, run, tolerance, passed):
    got = state.call(run, case, "grad_w1_np", ("x", case.x), ("target", case.target), ("w1", case.w1),
                     ("w2", case.w2), ("mask", case.mask), ("p", case.p))
    try:
        passed(check_array(got, expected.grad_w1(case), tolerance, what=f"grad_w1_np({case.label})",
                           reveal=case.visible, alternatives=hints.grad(case, "dw1")))
    except CheckFailed as failure:
        diagnose.add_hint(failure, lambda: diagnose.masked_pass(run, "grad_w1_np", case, tolerance))
        raise


@pytest.mark.group("task2/grad_w1_torch")
@pytest.mark.parametrize("case", cases.GRAD_W1_TORCH, ids=lambda c: c.id)
def test_grad_w1_torch(case, run, tolerance, passed):
    got = state.call(run, case, "grad_w1_torch", ("x", case.x), ("target", case.target), ("w1", case.w1),
                     ("w2", case.w2))
    try:
        passed(check_array(got, expected.grad_w1(case), tolerance, what=f"grad_w1_torch({case.label})",
                           reveal=case.visible, alternatives=hints.grad(case, "dw1")))
    except CheckFailed as failure:
        diagnose.add_hint(failure, lambda: diagnose.bias(run, case))
        raise
