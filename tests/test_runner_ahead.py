"""Expected calls sent ahead in one request (runner.expect), with a scripted child in this process (milliseconds).

The child reads requests as the sandbox's would and answers each call from a
script: a value, or the child dies or hangs on it. What matters is what the
checks see (each call answered as if asked alone) and how many requests the
child got.
"""

from __future__ import annotations

import json
from collections import deque
from types import SimpleNamespace

import numpy as np
import pytest

from grader.checks.rehearse import Call
from grader.compare import CodeError
from grader.inside import wire
from grader.runner import SubmissionRunner
from grader.sandbox import ChildDied, ChildTimeout

X = np.ones(2)
Y = np.zeros(3)


class ScriptedChild:
    """Answers ``call`` requests in order; ``script[function]`` is a number, or "die" / "hang" on that call."""

    def __init__(self, script: dict[str, object], log: list[list[str]]) -> None:
        self.script = script
        self.log = log  # per request: the functions it asked for ("import:<module>" for an import)
        self.replies: deque[object] = deque()

    def send(self, message, timeout, calls=0):
        request = json.loads(message) if isinstance(message, bytes) else message
        calls = request["calls"] if request["op"] == "calls" else [request]
        self.log.append([c["function"] if c["op"] == "call" else f"{c['op']}:{c.get('module')}" for c in calls])
        for call in calls:
            if call["op"] != "call":
                self.replies.append({"ok": True})
                continue
            outcome = self.script.get(call["function"], 1.0)
            if outcome in ("die", "hang"):
                self.replies.append(outcome)
                return  # nothing after it is ever answered
            self.replies.append({"ok": True, "value": wire.encode_value(np.array([outcome])), "mutated": []})

    def receive(self, timeout):
        reply = self.replies.popleft()
        if reply == "die":
            raise ChildDied("exited with code 3")
        if reply == "hang":
            raise ChildTimeout("timed out")
        return reply

    def request(self, message, timeout):
        self.send(message, timeout)
        return self.receive(timeout)

    def close(self) -> None:
        pass


class HoldingChild(ScriptedChild):
    """Holds its replies to calls sent ahead until the last is done, as a child with a progress page does.

    A call that dies or hangs loses the replies held before it; the error
    says which call it was (``running``), as the grader's sandbox reads it
    from the progress page.
    """

    def send(self, message, timeout, calls=0):
        super().send(message, timeout, calls)
        if calls and self.replies and self.replies[-1] in ("die", "hang"):
            self.replies = deque([(self.replies[-1], len(self.replies))])

    def receive(self, timeout):
        if self.replies and isinstance(self.replies[0], tuple):
            outcome, running = self.replies.popleft()
            if outcome == "die":
                raise ChildDied("exited with code 3", running=running)
            raise ChildTimeout("timed out", running=running)
        return super().receive(timeout)


def runner(script: dict[str, object], child: type[ScriptedChild] = ScriptedChild,
           ) -> tuple[SubmissionRunner, list[list[str]], list[ScriptedChild]]:
    log: list[list[str]] = []
    children: list[ScriptedChild] = []

    def spawn(files):
        children.append(child(dict(script), log))
        return children[-1]

    sandbox = SimpleNamespace(spawn=spawn)
    submission = SimpleNamespace(kind="folder", files={}, modules={"numpy": "numpy_net", "torch": "torch_net"},
                                 display={}, describe_location=lambda where: None)
    return SubmissionRunner(sandbox, submission, timeout_s=1.0), log, children


PLAN = (Call("relu", (("h", X),)), Call("Net", (("x", X),)), Call("relu", (("h", Y),)), Call("relu", (("h", X),)),
        Call("relu", (("h", X),), fresh=True), Call("relu", (("h", X),), fresh=True))


def test_expected_calls_go_in_one_request_and_each_check_reads_its_own_answer():
    run, log, _ = runner({"Net": 2.0})
    run.expect(PLAN)
    assert run.call("relu", ("h", X)).array.tolist() == [1.0]
    assert run.call("Net", ("x", X)).array.tolist() == [2.0]
    run.call("relu", ("h", Y))
    run.call("relu", ("h", X))  # the state check's first call: the memory of the first answer
    run.call("relu", ("h", X), fresh=True)
    run.call("relu", ("h", X), fresh=True)
    assert log == [["import:numpy_net"], ["import:torch_net"], ["relu", "Net", "relu", "relu", "relu"]]


def test_an_unexpected_call_goes_after_them_and_answers_read_on_the_way_are_kept():
    run, log, _ = runner({})
    run.expect(PLAN)
    run.call("relu", ("h", X))
    run.call("softmax", ("z", X))  # a diagnosis: not in the plan
    run.call("Net", ("x", X))
    run.call("relu", ("h", Y))
    run.call("relu", ("h", X), fresh=True)
    run.call("relu", ("h", X), fresh=True)
    assert log[2:] == [["relu", "Net", "relu", "relu", "relu"], ["softmax"]]  # nothing asked twice


def test_a_call_that_kills_the_child_costs_its_check_and_the_rest_runs_in_a_fresh_child():
    run, log, children = runner({"Net": "die"})
    run.expect(PLAN)
    run.call("relu", ("h", X))
    with pytest.raises(CodeError, match="Net: the process exited with code 3"):
        run.call("Net", ("x", X))
    children[-1].script.pop("Net")
    assert run.call("relu", ("h", Y)).array.tolist() == [1.0]
    run.call("relu", ("h", X), fresh=True)
    assert len(children) == 2
    assert log[2] == ["relu", "Net", "relu", "relu", "relu"]
    assert log[3:] == [["import:numpy_net"], ["relu"], ["relu"]]  # one at a time after the loss


def test_a_hang_read_by_a_later_check_is_blamed_on_its_own_function():
    run, log, children = runner({"Net": "hang"})
    run.expect(PLAN)
    assert run.call("relu", ("h", Y)).array.tolist() == [1.0]  # Net's check did not call: its reply is in the way
    with pytest.raises(CodeError, match="^Net: timed out after 1 s$"):  # its own check says so, first hand
        run.call("Net", ("x", X))
    with pytest.raises(CodeError, match="Net: not run again, it timed out after 1 s on an earlier check"):
        run.call("Net", ("x", X))
    assert len(children) == 2 and log[-2:] == [["import:numpy_net"], ["relu"]]


@pytest.mark.parametrize("outcome", ["hang", "die"])
def test_a_call_behind_held_replies_that_hangs_or_dies_is_blamed_and_the_calls_before_it_run_again(outcome):
    run, log, children = runner({"Net": outcome}, HoldingChild)
    run.expect(PLAN)
    assert run.call("relu", ("h", X)).array.tolist() == [1.0]  # its reply was held and lost: asked again
    expected = "Net: timed out after 1 s"  # first hand: that call hung, while relu's check waited
    children[-1].script.pop("Net")  # a death is tried again (it may have been a fluke), a hang is not
    if outcome == "hang":
        with pytest.raises(CodeError, match=expected):
            run.call("Net", ("x", X))
    else:
        assert run.call("Net", ("x", X)).array.tolist() == [1.0]
    assert len(children) == 2 and log[2] == ["relu", "Net", "relu", "relu", "relu"]
    assert log[3:5] == [["import:numpy_net"], ["relu"]]


def test_fresh_answers_read_early_are_kept_for_their_check():
    run, log, _ = runner({})
    run.expect((Call("relu", (("h", X),)), Call("relu", (("h", X),), fresh=True), Call("Net", (("x", X),))))
    run.call("Net", ("x", X))  # reads relu's two answers on the way
    run.call("relu", ("h", X))
    run.call("relu", ("h", X), fresh=True)
    assert log[2:] == [["relu", "relu", "Net"]]


def test_a_module_that_cannot_be_imported_leaves_its_calls_out():
    run, log, _ = runner({})
    original = ScriptedChild.send

    def send(self, message, timeout, calls=0):
        request = json.loads(message) if isinstance(message, bytes) else message
        if request.get("module") == "torch_net" and request["op"] == "import":
            self.log.append(["import:torch_net"])
            self.replies.append({"ok": False, "error": {"kind": "import", "message": "SyntaxError: bad"}})
            return
        original(self, message, timeout)

    ScriptedChild.send = send
    try:
        run.expect(PLAN)
        run.call("relu", ("h", X))
        with pytest.raises(CodeError, match="could not be imported"):
            run.call("Net", ("x", X))
    finally:
        ScriptedChild.send = original
    assert log[2] == ["relu", "relu", "relu", "relu"]
