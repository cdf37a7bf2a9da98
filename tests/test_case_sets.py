"""A course secret draws the hidden cases: different secrets differ, each set is well-conditioned, visible cases stay."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from grader.assignment import case_sets, cases, expected
from grader.compare import CheckFailed, check_array
from grader.inside.wire import ArrayValue
from grader.rubric import load_rubric
from reference import torch_net as ref_torch

from conftest import REFERENCE

RUBRIC = load_rubric()
SECRETS = (b"course secret, autumn", b"course secret, spring")


@pytest.fixture(scope="module")
def drawn() -> dict[bytes, case_sets.CaseSet]:
    return {secret: case_sets.draw_case_set(secret, RUBRIC) for secret in SECRETS}


def _hidden(case_set: case_sets.CaseSet) -> list[tuple[str, object]]:
    return [(name, case) for name, items in case_set.lists().items() for case in items if not case.visible]


def _inputs(case) -> np.ndarray:
    parts = [getattr(case, name, None) for name in ("value", "x", "w1", "w2", "target", "mask", "masks")]
    return np.concatenate([np.ravel(part) for part in parts if part is not None])


def test_two_secrets_give_different_hidden_inputs_and_the_same_visible_ones(drawn):
    first, second = (drawn[secret] for secret in SECRETS)
    assert first.fingerprint != second.fingerprint != case_sets.default_case_set().fingerprint
    for (name, a), (_, b), original in zip(_hidden(first), _hidden(second), _hidden(case_sets.default_case_set())):
        assert a.id == b.id == original[1].id
        assert not np.array_equal(_inputs(a), _inputs(b)), f"{name}/{a.id}"
        assert not np.array_equal(_inputs(a), _inputs(original[1])), f"{name}/{a.id}"
    for name, items in cases.case_lists().items():
        for case in items:
            if case.visible:
                assert first.substitute(case) is case and second.substitute(case) is case


def test_the_same_secret_gives_the_same_cases(drawn):
    again = case_sets.draw_case_set(SECRETS[0], RUBRIC)
    assert again.fingerprint == drawn[SECRETS[0]].fingerprint
    for (_, a), (_, b) in zip(_hidden(again), _hidden(drawn[SECRETS[0]])):
        assert np.array_equal(_inputs(a), _inputs(b))


def test_a_case_shared_by_two_lists_stays_one_case(drawn):
    """The agreement check reuses a training case: the runner then answers it from memory."""
    case_set = drawn[SECRETS[0]]
    assert cases.AGREEMENT[1] is cases.TRAIN[2]
    assert case_set.substitute(cases.AGREEMENT[1]) is case_set.substitute(cases.TRAIN[2])


def _t(array):
    return None if array is None else torch.tensor(array, dtype=torch.float32)


def _torch_float32(case, name: str) -> np.ndarray:
    """The torch reference in float32 (independent of case_sets' own float32 arithmetic)."""
    if name == "SOFTMAX":
        return torch.softmax(_t(case.value), -1).numpy()
    if name in ("TRAIN", "AGREEMENT"):
        return ref_torch.train_torch(_t(case.x), _t(case.target), _t(case.w1), _t(case.w2), _t(case.masks),
                                     case.lr, case.p)[0].detach().numpy()
    net = ref_torch.Net(_t(case.w1), _t(case.w2), case.p)
    y = net(_t(case.x), _t(case.mask))
    torch.nn.CrossEntropyLoss()(y, _t(case.target)).backward()
    return {"GRAD_W1": net.linear1.weight.grad.T.numpy(), "GRAD_W1_TORCH": net.linear1.weight.grad.T.numpy(),
            "GRAD_W2": net.linear2.weight.grad.T.numpy()}.get(name, y.detach().numpy())


WANT = {"SOFTMAX": ("task1/softmax", expected.softmax), "FORWARD": ("task1/forward_np", expected.forward),
        "NET": ("task1/Net", expected.forward), "FORWARD_TORCH": ("task1/forward_torch", expected.forward),
        "GRAD_W1": ("task2/grad_w1_np", expected.grad_w1), "GRAD_W1_TORCH": ("task2/grad_w1_torch", expected.grad_w1),
        "GRAD_W2": ("task3/grad_w2_np", expected.grad_w2),
        "TRAIN": ("task3/train_np", lambda c: expected.train(c)[0]),
        "AGREEMENT": ("task3/agreement", lambda c: expected.train(c)[0])}


@pytest.mark.parametrize("secret", SECRETS, ids=["autumn", "spring"])
def test_every_drawn_case_passes_float32_torch_and_fails_4_decimal_rounding(drawn, secret):
    checked = 0
    for name, case in _hidden(drawn[secret]):
        if name not in WANT:
            continue
        group, want = WANT[name]
        tolerance = RUBRIC.group(group).tolerance
        single = _torch_float32(case, name)
        assert single.dtype == np.float32
        check_array(ArrayValue("ndarray", "float32", single.astype(np.float64)), want(case), tolerance,
                    what=group, reveal=True)
        with pytest.raises(CheckFailed):
            check_array(ArrayValue("ndarray", "float64", np.round(want(case), 4)), want(case), tolerance,
                        what=group, reveal=True)
        checked += 1
    assert checked >= 15  # every hidden case of the lists above (19 today)


def test_every_list_with_hidden_cases_has_a_conditioning_rule():
    hidden_lists = {name for name, items in cases.case_lists().items() if any(not c.visible for c in items)}
    assert hidden_lists <= case_sets.conditioned_lists()


def test_a_badly_conditioned_draw_is_drawn_again(monkeypatch):
    calls: list[int] = []
    real = case_sets.well_conditioned

    def first_draw_fails(case, name, rubric):
        calls.append(id(case))
        return len(calls) > 1 and real(case, name, rubric)

    monkeypatch.setattr(case_sets, "well_conditioned", first_draw_fails)
    case = next(c for c in cases.GRAD_W1 if not c.visible)
    drawn = case_sets._draw(b"s", cases.hidden_key(case), case, ["GRAD_W1"], RUBRIC)
    first = cases.redraw(case, case_sets.derived_seed(b"s", cases.hidden_key(case), 0))
    assert not np.array_equal(drawn.x, first.x)
    assert np.array_equal(drawn.x, cases.redraw(case, case_sets.derived_seed(b"s", cases.hidden_key(case), 1)).x)


def test_a_draw_whose_numbers_overflow_is_rejected_without_a_warning():
    case = next(c for c in cases.GRAD_W1 if not c.visible)
    huge = dataclasses.replace(case, w1=case.w1 * 1e30, w2=case.w2 * 1e30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a TA drawing the case set sees no RuntimeWarning
        assert not case_sets.well_conditioned(huge, "GRAD_W1", RUBRIC)
        assert case_sets.well_conditioned(case, "GRAD_W1", RUBRIC)


def _grade_json(*args: str, env: dict | None = None) -> dict:
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(REFERENCE), "--json", *args],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_report_records_the_case_set_fingerprint_and_the_reference_scores_full_marks(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("course secret, autumn\n")
    report = _grade_json("--secret-file", str(secret))
    assert report["score"] == report["max_score"] == 100
    assert report["case_fingerprint"] == case_sets.draw_case_set(SECRETS[0], RUBRIC).fingerprint
    labels = [check["message"] for task in report["tasks"] for check in task["checks"]]
    assert any("3 values near 1000" in message for message in labels)  # the drawn case was graded
    assert "autumn" not in json.dumps(report)


@pytest.mark.parametrize("make", ["missing", "directory", "empty"])
def test_an_unusable_secret_file_is_a_one_line_usage_error(tmp_path, make):
    path = tmp_path / "secret"
    if make == "directory":
        path.mkdir()
    elif make == "empty":
        path.write_text("\n")
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(REFERENCE), "--secret-file", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"grader: error: {path}: ")
    assert "Traceback" not in done.stderr


def test_the_batch_config_hash_changes_with_the_case_set(drawn):
    from grader.batch.run import config_fingerprint
    from grader.grading import GradingOptions

    hashes = {config_fingerprint(GradingOptions(rubric=RUBRIC, cases=case_set))
              for case_set in (case_sets.default_case_set(), *drawn.values())}
    assert len(hashes) == 3
