"""The check engine (grader/checks): collection once per process, one result per check, and its error paths.

These run the engine on made-up checks and runners in this process (no
sandbox), so they take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from grader.checks import INTERNAL_ERROR, ChecksError, catalogue, collect, run_checks
from grader.compare import CheckFailed, CodeError
from grader.rubric import Group, Rubric, Tolerance


@dataclass(frozen=True)
class Case:
    id: str
    visible: bool = True
    repeats: int = 0


class Runner:
    """Answers every call with the function's name; counts calls and closes."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.closed = 0

    def call(self, function: str, *args: tuple[str, Any], fresh: bool = False) -> Any:
        self.calls.append(function)
        return function

    def close(self) -> None:
        self.closed += 1


def passes(case, run, passed):
    passed(f"{run.call('relu')} ok on {case.id}")


def fails(case, run):
    raise CheckFailed("relu(x1): wrong", hint="look at the sign")


def student_error(case, run):
    raise CodeError("relu raised ValueError")


def grader_bug(case):
    return 1 / 0


def check(function, group="task1/relu", case=Case("x1")) -> collect.Check:
    arguments = tuple(name for name in ("case", "run", "tolerance", "passed")
                      if name in function.__code__.co_varnames[:function.__code__.co_argcount])
    return collect.Check(name=function.__name__, function=function, arguments=arguments, case=case, group=group,
                         subject="relu")


def rubric(*groups: str, points: float = 4.0) -> Rubric:
    return Rubric(total=points * len(groups), task_titles={"task1": "Forward"},
                  groups={g: Group(id=g, points=points, tolerance=Tolerance(rtol=1e-5, atol=1e-8)) for g in groups})


@pytest.fixture
def suite(monkeypatch):
    """Replace the collected suite with made-up checks."""

    def use(*checks: collect.Check) -> None:
        monkeypatch.setattr(collect, "_COLLECTED", tuple(checks))

    return use


def test_each_ending_becomes_its_status_and_points_are_shared_in_the_group(suite):
    suite(check(passes), check(fails, case=Case("x2")), check(student_error, case=Case("h1", visible=False)),
          check(grader_bug, case=Case("h2", visible=False)))
    runners = [Runner(), Runner()]
    started: list[int] = []
    finished: list[int] = []
    results = run_checks(runners, rubric("task1/relu"), on_start=started.append,
                         on_results=lambda i, r: finished.append(i))
    assert started == finished == [0, 1]
    assert all(runner.closed >= 1 for runner in runners)
    passed, failed, error, bug = results[0]
    assert (passed.id, passed.status, passed.score, passed.max_score, passed.message) == \
        ("task1/relu/x1", "pass", 1.0, 1.0, "relu ok on x1")
    assert (failed.status, failed.score, failed.message, failed.hint) == ("fail", 0.0, "relu(x1): wrong",
                                                                          "look at the sign")
    assert (error.status, error.visibility, error.message) == ("error", "hidden", "relu raised ValueError")
    assert bug.status == "error" and bug.message == INTERNAL_ERROR
    assert "ZeroDivisionError" in bug.internal_error and "grader_bug" in bug.internal_error
    assert results[1][0].status == "pass" and runners[1].calls == ["relu"]


def test_visible_only_and_substituted_cases(suite):
    suite(check(passes), check(passes, case=Case("h1", visible=False)))
    [results] = run_checks([Runner()], rubric("task1/relu"), visible_only=True)
    assert [r.id for r in results] == ["task1/relu/x1"] and results[0].max_score == 2.0  # priced over both
    secret = {"h1": Case("s1", visible=False)}
    [results] = run_checks([Runner()], rubric("task1/relu"), substitute=lambda case: secret.get(case.id, case))
    assert [r.id for r in results] == ["task1/relu/x1", "task1/relu/s1"]


def calls_its_case(case, run):
    run.call(case.id, ("x", case))


def test_state_checks_run_last_and_are_reported_in_suite_order(suite):
    suite(check(calls_its_case, case=Case("x1")), check(calls_its_case, case=Case("x1_again", repeats=2)),
          check(calls_its_case, group="task1/softmax", case=Case("z1")))
    runner = Runner()
    [results] = run_checks([runner], rubric("task1/relu", "task1/softmax"))
    assert runner.calls == ["x1", "z1", "x1_again"]
    assert [r.id for r in results] == ["task1/relu/x1", "task1/relu/x1_again", "task1/softmax/z1"]


class ExpectingRunner(Runner):
    """Also records what the engine says it will call."""

    def __init__(self) -> None:
        super().__init__()
        self.expected: list[Any] = []

    def expect(self, calls) -> None:
        self.expected.append(calls)


def test_the_runner_is_told_the_calls_in_the_order_they_will_run(suite):
    cases = [Case("x1"), Case("x1_again", repeats=2), Case("z1")]

    def raises_first(case, run):
        raise ValueError("before any call")

    suite(check(calls_its_case, case=cases[0]), check(calls_its_case, case=cases[1]),
          check(raises_first, case=Case("h1")), check(calls_its_case, group="task1/softmax", case=cases[2]))
    runners = [ExpectingRunner(), ExpectingRunner()]
    results = run_checks(runners, rubric("task1/relu", "task1/softmax"))
    plan = runners[0].expected[0]
    assert [(call.function, call.fresh) for call in plan] == \
        [("x1", False), ("z1", False), ("x1_again", False), ("x1_again", True), ("x1_again", True)]
    assert all(call.args == (("x", case),) for call, case in zip(plan, [cases[0], cases[2], cases[1]]))
    assert plan[3].args[0][1] is cases[1]  # the very objects the check passes: a runner may match by identity
    assert runners[1].expected == [plan]  # rehearsed once for all the runners
    assert runners[0].calls == ["x1", "z1", "x1_again"]  # the rehearsal called nothing
    assert [r.status for r in results[0]] == ["pass", "pass", "error", "pass"]


def test_catalogue_lists_without_running(suite):
    suite(check(passes), check(fails, case=Case("h1", visible=False)))
    listed = catalogue(rubric("task1/relu"))
    assert [(c.id, c.status, c.visibility, c.max_score) for c in listed] == [
        ("task1/relu/x1", "error", "visible", 2.0), ("task1/relu/h1", "error", "hidden", 2.0)]


def test_a_rubric_that_does_not_fit_the_suite_is_a_checks_error(suite):
    suite(check(passes))
    with pytest.raises(ChecksError, match="checks without points in the rubric: task1/relu"):
        run_checks([Runner()], rubric("task1/softmax"))


def test_the_real_suite_is_collected_once_with_known_arguments():
    checks = collect.collected()
    assert checks is collect.collected()
    assert len(checks) >= 40 and {c.group.split("/")[0] for c in checks} == {"task1", "task2", "task3"}
    assert all(set(c.arguments) <= collect.ARGUMENTS and "case" in c.arguments for c in checks)


def test_a_check_asking_for_an_unknown_argument_is_refused(tmp_path, monkeypatch):
    (tmp_path / "check_extra.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.group('task1/relu')\n"
        "@pytest.mark.parametrize('case', [1])\n"
        "def test_extra(case, tmp_path):\n    pass\n")
    monkeypatch.setattr(collect, "CHECKS_DIR", tmp_path)
    monkeypatch.setattr(collect, "PYTEST_ARGS", [*collect.PYTEST_ARGS[:-1], str(tmp_path)])
    with pytest.raises(collect.CollectionError, match=r"check test_extra\[1\] asks for tmp_path; a check may ask only for case, passed, run, tolerance"):
        collect._collect()
