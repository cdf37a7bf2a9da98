"""The hint matcher and the known-mistake tables, as pure functions (milliseconds, no sandbox)."""

from __future__ import annotations

import numpy as np
import pytest

from grader.assignment import cases, expected, hints
from grader.assignment import variants as v
from grader.compare import CheckFailed, check_array, check_number
from grader.inside.wire import ArrayValue, Other
from grader.rubric import Tolerance, load_rubric
from grader.runner import same_answer
from reference import numpy_net as ref

TOLERANCE = Tolerance(rtol=1e-5, atol=1e-7)
RUBRIC = load_rubric()


def answer(values) -> ArrayValue:
    return ArrayValue("ndarray", "float64", np.asarray(values, dtype=np.float64))


def hint_for(got, want, alternatives=None) -> str | None:
    with pytest.raises(CheckFailed) as failed:
        check_array(answer(got), np.asarray(want, dtype=np.float64), TOLERANCE, what="f", reveal=False,
                    alternatives=alternatives)
    return failed.value.hint


# ---------------------------------------------------------------- the matcher

def test_the_closest_known_mistake_wins():
    want = np.array([1.0, 2.0, 3.0])
    alternatives = {"far": want + 0.0101, "near": want + 0.01}  # both within 10 * tolerance of the answer
    assert hint_for(want + 0.01, want, alternatives) == "near"


def test_two_mistakes_this_case_cannot_tell_apart_give_no_hint():
    want = np.array([1.0, 2.0, 3.0])
    alternatives = {"one": want + 1.0, "other": want + 1.0 + 1e-9}
    assert hint_for(want + 1.0, want, alternatives) is None


def test_the_same_hint_twice_is_not_ambiguous():
    want = np.array([1.0, 2.0])
    assert hint_for(want * 2, want, {"twice": want * 2}) == "twice"


def test_an_answer_far_from_every_mistake_gets_no_hint():
    want = np.array([1.0, 2.0, 3.0])
    assert hint_for(want + 0.5, want, {"a": want + 1.0, "b": want - 1.0}) is None


def test_a_nan_answer_matches_a_mistake_that_gives_the_same_nan():
    case = next(c for c in cases.SOFTMAX if c.id == "visible_2d_large")
    unstable = v.softmax_unstable(case.value)
    assert np.isnan(unstable[1]).all() and np.isfinite(unstable[0]).all()
    with pytest.raises(CheckFailed) as failed:
        check_array(answer(unstable), expected.softmax(case), TOLERANCE, what="softmax", reveal=True,
                    alternatives=hints.softmax(case))
    assert "contains NaN" in failed.value.message
    assert failed.value.hint == hints.UNSTABLE_SOFTMAX


def test_a_passing_answer_never_computes_the_tables():
    computed = []
    table = hints.Alternatives(lambda: computed.append(1) or {})
    check_array(answer([1.0, 2.0]), np.array([1.0, 2.0]), TOLERANCE, what="f", reveal=False, alternatives=table)
    assert computed == []


def test_the_texts_compare_gives_are_named():
    want = np.array([[0.123456789, 0.2], [0.3, 0.4], [0.5, 0.6]])
    assert hints.identify(hint_for(np.round(want, 4), want)) == "ROUNDED"
    assert hints.identify(hint_for(np.zeros_like(want), want)) == "ALL_ZERO"
    with pytest.raises(CheckFailed) as failed:
        check_array(answer(want.T), want, TOLERANCE, what="f", reveal=False)
    assert hints.identify(failed.value.hint) == "TRANSPOSED_SHAPE"


def test_identify_names_a_wrapped_hint_by_what_it_wraps():
    assert hints.identify(hints.TRAIN_STEP.format(hints.NO_RELU_GATE)) == "NO_RELU_GATE"
    assert hints.identify(hints.LOCAL_LATER_STEP.format(good=3, bad=4)) == "LOCAL_LATER_STEP"
    assert hints.identify("something else") is None


def test_a_loss_averaged_over_classes_is_named():
    case = cases.LOSS[0]
    with pytest.raises(CheckFailed) as failed:
        check_number(expected.loss(case) / 2, expected.loss(case), TOLERANCE, what="loss", reveal=True,
                     alternatives=hints.loss(case))
    assert failed.value.hint == hints.MEAN_LOSS


# ---------------------------------------------------------------- the model of the network

NET_CASES = cases.FORWARD + cases.GRAD_W1 + cases.GRAD_W2 + cases.LOSS + cases.NET


@pytest.mark.parametrize("case", NET_CASES, ids=lambda c: c.id)
def test_the_model_without_mistakes_is_the_reference(case):
    right = v.network(case.x, case.target, case.w1, case.w2, case.mask, case.p)
    np.testing.assert_allclose(right.y, expected.forward(case), rtol=1e-12)
    np.testing.assert_allclose(right.dw1, expected.grad_w1(case), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(right.dw2, expected.grad_w2(case), rtol=1e-10, atol=1e-15)
    assert right.loss == pytest.approx(ref.loss_np(expected.forward(case), case.target), rel=1e-12)


@pytest.mark.parametrize("case", cases.TRAIN, ids=lambda c: c.id)
def test_the_training_model_without_mistakes_is_the_reference(case):
    w1, w2 = v.train(case.x, case.target, case.w1, case.w2, case.masks, case.lr, case.p)
    np.testing.assert_allclose(w1, expected.train(case)[0], rtol=1e-10)
    np.testing.assert_allclose(w2, expected.train(case)[1], rtol=1e-10)


MASKED = [c for c in cases.GRAD_W1 if c.mask is not None]


@pytest.mark.parametrize("case", MASKED, ids=lambda c: c.id)
def test_a_backward_pass_with_the_mask_but_without_the_scaling_is_told_exactly_that(case):
    """The mistake once told "the backward pass ignores the dropout mask"."""
    forward = ref._forward(case.x, case.w1, case.w2, case.mask, case.p)
    got = ref._backward(forward._replace(keep=case.mask.astype(np.float64)), case.target, case.w2)[0]
    tolerance = RUBRIC.group("task2/grad_w1_np").tolerance
    with pytest.raises(CheckFailed) as failed:
        check_array(answer(got), expected.grad_w1(case), tolerance, what="g", reveal=False,
                    alternatives=hints.grad(case, "dw1"))
    assert failed.value.hint == hints.NO_SCALING_BACKWARD


@pytest.mark.parametrize("case", [c for c in NET_CASES if c.mask is not None], ids=lambda c: c.id)
def test_every_masked_case_drops_a_unit_the_relu_lets_through(case):
    assert ((case.x @ case.w1 > 0) & (case.mask == 0)).any()


@pytest.mark.parametrize(("group", "group_cases", "table"), [
    ("task2/grad_w1_np", cases.GRAD_W1, lambda c: hints.grad(c, "dw1")),
    ("task3/grad_w2_np", cases.GRAD_W2, lambda c: hints.grad(c, "dw2")),
    ("task1/forward_np", cases.FORWARD, hints.forward),
    ("task3/train_np", cases.TRAIN, lambda c: hints.train_layer(c, 1)),
])
def test_an_answer_just_outside_the_tolerance_gets_no_hint(group, group_cases, table):
    """Mistakes that give the right answer on a case (the ReLU's derivative where every unit is on) name nothing."""
    tolerance = RUBRIC.group(group).tolerance
    want_of = {"task2/grad_w1_np": expected.grad_w1, "task3/grad_w2_np": expected.grad_w2,
               "task1/forward_np": expected.forward, "task3/train_np": lambda c: expected.train(c)[0]}[group]
    for case in group_cases:
        want = want_of(case)
        got = want + 2 * tolerance.bound(float(np.abs(want).max()))
        with pytest.raises(CheckFailed) as failed:
            check_array(answer(got), want, tolerance, what="f", reveal=False, alternatives=table(case))
        assert failed.value.hint is None, (case.id, failed.value.hint)


# ---------------------------------------------------------------- repeated calls

def test_same_answer_compares_values_not_identity():
    a, b = answer([1.0, np.nan]), answer([1.0, np.nan])
    assert same_answer(a, b)
    assert same_answer((a, 1.5), (b, 1.5))
    assert not same_answer(a, answer([1.0, 2.0]))
    assert not same_answer((a, a), (a,))
    assert same_answer(Other("generator"), Other("generator"))
    assert same_answer(float("nan"), float("nan"))
    assert not same_answer(1.0, 1.1)


def test_every_group_s_table_is_plain_data():
    assert set(hints.for_check("task2/grad_w1_np", cases.GRAD_W1[2])) >= {hints.NO_SCALING_BACKWARD, hints.DROP_MASK}
    pair = hints.for_check("task3/train_torch", cases.TRAIN[0])[hints.ASCENT]
    assert pair[0].shape == cases.TRAIN[0].w1.shape and pair[1].shape == cases.TRAIN[0].w2.shape
    assert hints.for_check("task3/agreement", cases.AGREEMENT[0]) == {}
