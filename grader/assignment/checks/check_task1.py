"""Task 1: the forward pass, in NumPy (relu, softmax, forward_np) and torch (Net, forward_torch)."""

from __future__ import annotations

import pytest

from grader.assignment import cases, diagnose, expected, hints, state
from grader.compare import CheckFailed, check_array, shape_text
from grader.inside.wire import ArrayValue


@pytest.mark.group("task1/relu")
@pytest.mark.parametrize("case", cases.RELU, ids=lambda c: c.id)
def test_relu(case, run, tolerance, passed):
    got = state.call(run, case, "relu", ("h", case.value))
    passed(check_array(got, expected.relu(case), tolerance, what=f"relu({case.label})", reveal=case.visible,
                       alternatives=hints.relu(case)))


@pytest.mark.group("task1/softmax")
@pytest.mark.parametrize("case", cases.SOFTMAX, ids=lambda c: c.id)
def test_softmax(case, run, tolerance, passed):
    got = state.call(run, case, "softmax", ("z", case.value))
    passed(check_array(got, expected.softmax(case), tolerance, what=f"softmax({case.label})", reveal=case.visible,
                       alternatives=hints.softmax(case)))


@pytest.mark.group("task1/forward_np")
@pytest.mark.parametrize("case", cases.FORWARD, ids=lambda c: c.id)
def test_forward_np(case, run, tolerance, passed):
    got = state.call(run, case, "forward_np", ("x", case.x), ("w1", case.w1), ("w2", case.w2), ("mask", case.mask),
                     ("p", case.p))
    try:
        passed(check_array(got, expected.forward(case), tolerance, what=f"forward_np({case.label})",
                           reveal=case.visible, alternatives=hints.forward(case)))
    except CheckFailed as failure:
        diagnose.add_hint(failure, lambda: diagnose.masked_pass(run, "forward_np", case, tolerance))
        raise


@pytest.mark.group("task1/Net")
@pytest.mark.parametrize("case", cases.NET, ids=lambda c: c.id)
def test_net(case, run, tolerance, passed):
    what = f"Net(w1, w2, p={case.p})({case.label})"
    got = state.call(run, case, "Net", ("w1", case.w1), ("w2", case.w2), ("p", case.p), ("x", case.x),
                     ("mask", case.mask))
    if not (isinstance(got, tuple) and len(got) == 3):
        raise CheckFailed(f"{what}: the grader could not run the network and read its weights")
    y, weight1, weight2 = got
    try:
        for layer, weight, want in ((1, weight1, case.w1.T), (2, weight2, case.w2.T)):
            name = f"linear{layer}.weight"
            if not isinstance(weight, ArrayValue) or weight.array.shape != want.shape:
                shape = shape_text(weight.array.shape) if isinstance(weight, ArrayValue) else "missing"
                raise CheckFailed(f"{what}: {name} has shape {shape}, expected {shape_text(want.shape)}",
                                  hint=f"nn.Linear(D, H) stores its weight as (H, D): it must hold w{layer}.T")
            check_array(weight, want, tolerance, what=f"{what}: {name}", reveal=case.visible,
                        alternatives=hints.weight(case, layer))
        passed(check_array(y, expected.forward(case), tolerance, what=what, reveal=case.visible,
                           alternatives=hints.forward(case)))
    except CheckFailed as failure:
        diagnose.add_hint(failure, lambda: diagnose.net_bias(run, case))
        raise


@pytest.mark.group("task1/forward_torch")
@pytest.mark.parametrize("case", cases.FORWARD_TORCH, ids=lambda c: c.id)
def test_forward_torch(case, run, tolerance, passed):
    got = state.call(run, case, "forward_torch", ("x", case.x), ("w1", case.w1), ("w2", case.w2))
    try:
        passed(check_array(got, expected.forward(case), tolerance, what=f"forward_torch({case.label})",
                           reveal=case.visible, alternatives=hints.forward(case)))
    except CheckFailed as failure:
        diagnose.add_hint(failure, lambda: diagnose.bias(run, case))
        raise
