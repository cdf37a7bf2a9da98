"""The runner's policy for repeated calls, with a fake sandbox (milliseconds)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from grader.compare import CheckFailed
from grader.inside import wire
from grader.runner import STATE_HINT, SubmissionRunner


class CountingChild:
    """Answers every call with [n], n = how many calls it has run: a function that keeps state."""

    def __init__(self, changing: bool) -> None:
        self.calls = 0
        self.changing = changing

    def request(self, message, timeout):
        if isinstance(message, bytes):
            self.calls += 1
            value = np.array([float(self.calls if self.changing else 1.0)])
            return {"ok": True, "value": wire.encode_value(value), "mutated": []}
        return {"ok": True}  # import

    def close(self) -> None:
        pass


def runner_with(child: CountingChild) -> SubmissionRunner:
    sandbox = SimpleNamespace(spawn=lambda files: child)
    submission = SimpleNamespace(kind="folder", files={}, modules={"numpy": "numpy_net", "torch": "torch_net"}, display={},
                                 describe_location=lambda where: None)
    return SubmissionRunner(sandbox, submission, timeout_s=1.0)


def test_a_repeated_call_is_answered_from_the_first_reply():
    child = CountingChild(changing=True)
    run = runner_with(child)
    first = run.call("relu", ("h", np.ones(2)))
    again = run.call("relu", ("h", np.ones(2)))
    assert child.calls == 1 and np.array_equal(first.array, again.array)


def test_a_fresh_repeat_really_runs_and_a_changed_answer_names_the_cause():
    child = CountingChild(changing=True)
    run = runner_with(child)
    run.call("train_torch", ("x", np.ones(2)))
    run.call("train_torch", ("x", np.zeros(2)))  # other arguments: a first call of its own
    with pytest.raises(CheckFailed) as failed:
        run.call("train_torch", ("x", np.ones(2)), fresh=True)
    assert child.calls == 3
    assert failed.value.message == "train_torch: answered differently when called again with the same arguments"
    assert failed.value.hint == STATE_HINT


def test_a_fresh_repeat_with_the_same_answer_passes():
    child = CountingChild(changing=False)
    run = runner_with(child)
    run.call("relu", ("h", np.ones(2)))
    assert run.call("relu", ("h", np.ones(2)), fresh=True).array.tolist() == [1.0]
    assert child.calls == 2

