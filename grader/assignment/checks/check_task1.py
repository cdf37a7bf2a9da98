"""Task 1: the forward pass, in NumPy (relu, softmax, forward_np) and torch (Net, forward_torch)."""

from __future__ import annotations

import pytest

from grader.assignment import cases, expected, hints
from grader.compare import CheckFailed, check_array, shape_text
from grader.inside.wire import ArrayValue


@pytest.mark.group("task1/relu")
@pytest.mark.parametrize("case", cases.RELU, ids=lambda c: c.id)
def test_relu(case, run, tolerance, passed):
    got = run.call("relu", ("h", case.value))
    passed(check_array(got, expected.relu(case), tolerance, what=f"relu({case.label})", reveal=case.visible))


@pytest.mark.group("task1/softmax")
@pytest.mark.parametrize("case", cases.SOFTMAX, ids=lambda c: c.id)
def test_softmax(case, run, tolerance, passed):
    got = run.call("softmax", ("z", case.value))
    passed(check_array(got, expected.softmax(case), tolerance, what=f"softmax({case.label})", reveal=case.visible))


@pytest.mark.group("task1/forward_np")
@pytest.mark.parametrize("case", cases.FORWARD, ids=lambda c: c.id)
def test_forward_np(case, run, tolerance, passed):
    got = run.call("forward_np", ("x", case.x), ("w1", case.w1), ("w2", case.w2), ("mask", case.mask), ("p", case.p))
    passed(check_array(got, expected.forward(case), tolerance, what=f"forward_np({case.label})",
                       reveal=case.visible, alternatives=hints.forward(case)))


@pytest.mark.group("task1/Net")
@pytest.mark.parametrize("case", cases.NET, ids=lambda c: c.id)
def test_net(case, run, tolerance, passed):
    what = f"Net(w1, w2, p={case.p})({case.label})"
    got = run.call("Net", ("w1", case.w1), ("w2", case.w2), ("p", case.p), ("x", case.x), ("mask", case.mask))
    if not (isinstance(got, tuple) and len(got) == 3):
        raise CheckFailed(f"{what}: the grader could not run the network and read its weights")
    y, weight1, weight2 = got
    for name, weight, want in (("linear1.weight", weight1, case.w1.T), ("linear2.weight", weight2, case.w2.T)):
        if not isinstance(weight, ArrayValue) or weight.array.shape != want.shape:
            shape = shape_text(weight.array.shape) if isinstance(weight, ArrayValue) else "missing"
            raise CheckFailed(f"{what}: {name} has shape {shape}, expected {shape_text(want.shape)}",
                              hint="nn.Linear(D, H) stores its weight as (H, D): it must hold w1.T")
        check_array(weight, want, tolerance, what=f"{what}: {name}", reveal=case.visible)
    passed(check_array(y, expected.forward(case), tolerance, what=what, reveal=case.visible,
                       alternatives=hints.forward(case)))


@pytest.mark.group("task1/forward_torch")
@pytest.mark.parametrize("case", cases.FORWARD_TORCH, ids=lambda c: c.id)
def test_forward_torch(case, run, tolerance, passed):
    got = run.call("forward_torch", ("x", case.x), ("w1", case.w1), ("w2", case.w2))
    passed(check_array(got, expected.forward(case), tolerance, what=f"forward_torch({case.label})",
                       reveal=case.visible))


