"""The hidden cases are well-conditioned: float32 passes them, 4-decimal rounding fails them."""

from __future__ import annotations

import numpy as np
import pytest

from grader.assignment import cases, expected
from grader.compare import CheckFailed, check_array
from grader.rubric import load_rubric
from grader.inside.wire import ArrayValue
import torch

from reference import torch_net as ref_torch

RUBRIC = load_rubric()


def _t(a):
    return None if a is None else torch.tensor(a, dtype=torch.float32)


def _torch_pass(case) -> dict[str, np.ndarray]:
    """The torch reference, in float32: output y and gradients dw1, dw2 (with the case's mask)."""
    net = ref_torch.Net(_t(case.w1), _t(case.w2), case.p)
    y = net(_t(case.x), _t(case.mask))
    torch.nn.CrossEntropyLoss()(y, _t(case.target)).backward()
    return {"y": y.detach().numpy(), "dw1": net.linear1.weight.grad.T.numpy(), "dw2": net.linear2.weight.grad.T.numpy()}


def _as_float32_answer(value) -> ArrayValue:
    value = np.asarray(value)
    assert value.dtype == np.float32
    return ArrayValue("ndarray", "float32", value.astype(np.float64))


def _rounded(value: np.ndarray) -> ArrayValue:
    return ArrayValue("ndarray", "float64", np.round(value, 4))


# (group, cases, a correct answer computed in float32 arithmetic, the expected answer)
ARRAY_GROUPS = [
    ("task1/softmax", cases.SOFTMAX, lambda c: torch.softmax(_t(c.value), -1).numpy(), expected.softmax),
    ("task1/forward_np", cases.FORWARD, lambda c: _torch_pass(c)["y"], expected.forward),
    ("task2/grad_w1_np", cases.GRAD_W1, lambda c: _torch_pass(c)["dw1"], expected.grad_w1),
    ("task3/grad_w2_np", cases.GRAD_W2, lambda c: _torch_pass(c)["dw2"], expected.grad_w2),
    ("task3/train_np", cases.TRAIN,
     lambda c: ref_torch.train_torch(_t(c.x), _t(c.target), _t(c.w1), _t(c.w2), _t(c.masks), c.lr, c.p)[0].numpy(),
     lambda c: expected.train(c)[0]),
]
PARAMS = [
    pytest.param(group, case, compute, want, id=f"{group}/{case.id}")
    for group, group_cases, compute, want in ARRAY_GROUPS
    for case in group_cases
]


@pytest.mark.parametrize(("group", "case", "float32_answer", "want"), PARAMS)
def test_float32_arithmetic_passes(group, case, float32_answer, want):
    check_array(_as_float32_answer(float32_answer(case)), want(case), RUBRIC.group(group).tolerance, what=group, reveal=True)


@pytest.mark.parametrize(("group", "case", "float32_answer", "want"),
                         [p for p in PARAMS if not p.values[1].visible or p.values[0] != "task1/softmax"])
def test_answers_rounded_to_4_places_fail(group, case, float32_answer, want):
    with pytest.raises(CheckFailed):
        check_array(_rounded(want(case)), want(case), RUBRIC.group(group).tolerance, what=group, reveal=True)


@pytest.mark.parametrize("case", cases.FORWARD + cases.NET + cases.GRAD_W1 + cases.GRAD_W2 + cases.LOSS,
                         ids=lambda c: c.id)
def test_hidden_network_cases_gate_some_units_and_keep_logits_moderate(case):
    if case.visible:
        pytest.skip("the original's inputs are what they are")
    hidden = case.x @ case.w1
    assert (hidden <= 0).any() and (hidden > 0).sum() >= 2
    assert np.abs(expected.grad_w1(case)).max() > 1e-3, "a vanishing gradient"
    assert np.all(case.x == case.x.astype(np.float32))  # exact in float32


def test_case_ids_are_unique_within_each_group():
    for group in (cases.RELU, cases.SOFTMAX, cases.FORWARD, cases.NET, cases.FORWARD_TORCH, cases.LOSS,
                  cases.GRAD_W1, cases.GRAD_W1_TORCH, cases.GRAD_W2, cases.TRAIN, cases.AGREEMENT):
        ids = [case.id for case in group]
        assert len(ids) == len(set(ids))
