"""The pytest plugin that connects the check suite to one submission.

It gives the checks their fixtures (``run``: the sandboxed submission;
``tolerance``: the rubric's tolerance for the check's group; ``passed``: records
the pass message), names each check (``task1/forward_np/x1``) and prices it
from the rubric at collection, and after each check records how it ended:
:class:`~grader.compare.CheckFailed` is a ``fail``,
:class:`~grader.compare.CodeError` an ``error``, anything else a grader bug.
Everything is stored in the items' ``user_properties``, which
pytest-json-report carries into each check's JSON entry; when a
submission's last check ends, the plugin takes that submission's entries out
of pytest-json-report and hands them over (``on_done``), so results leave
before the session ends and a long batch does not accumulate them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import pytest

from pytest_jsonreport.plugin import JSONReport

from grader.compare import CheckFailed, CodeError
from grader.rubric import Rubric, RubricError, Tolerance


def group_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("group")
    if marker is None or not marker.args:
        raise RubricError(f"check {item.name} has no @pytest.mark.group")
    return str(marker.args[0])


class Runner(Protocol):
    """What checks call student code through (:class:`~grader.runner.SubmissionRunner`)."""

    def call(self, function: str, *args: tuple[str, Any], fresh: bool = False) -> Any: ...

    def close(self) -> None: ...


class GradingPlugin:
    """Grades ``runners`` in one session: every check runs once per runner, one submission after the other."""

    def __init__(
        self,
        runners: Sequence[Runner],
        rubric: Rubric,
        json_report: JSONReport,
        *,
        visible_only: bool = False,
        on_start: Callable[[int], None] | None = None,
        on_done: Callable[[int, list[dict[str, Any]]], None] | None = None,
        substitute: Callable[[Any], Any] | None = None,
    ) -> None:
        self.runners = list(runners)
        self.substitute = substitute  # case -> the case to grade instead (a course secret's hidden cases)
        self.rubric = rubric
        self.visible_only = visible_only
        self.on_start = on_start
        self.on_done = on_done
        self.collection_error: Exception | None = None
        self.collected: list[list[tuple[str, Any]]] = []  # the first submission's checks, as collected
        self._json_report = json_report
        self._current: int | None = None  # the submission whose checks are running
        self._nodeids: list[str] = []  # the current submission's checks that have run

    def close_runners(self) -> None:
        for runner in self.runners:
            runner.close()

    # ------------------------------------------------------------ collection

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "group(id): the rubric group (task/function) a check belongs to")

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Every check once per submission: ``run`` is parametrised by the submission's index."""
        if "run" in metafunc.fixturenames:
            metafunc.parametrize("run", range(len(self.runners)), indirect=True,
                                 ids=[f"submission{i}" for i in range(len(self.runners))])

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        try:
            counts = Counter(group_of(item) for item in items if item.callspec.params["run"] == 0)
            self.rubric.verify_groups(dict(counts))
        except RubricError as exc:
            self.collection_error = exc
            items[:] = []
            return
        items.sort(key=lambda item: item.callspec.params["run"])  # stable: one submission at a time
        for item in items:
            if self.substitute is not None:  # the check's ``case`` argument is read from here at setup
                item.callspec.params["case"] = self.substitute(item.callspec.params["case"])
            group = group_of(item)
            case = item.callspec.params["case"]
            marker = item.get_closest_marker("group")
            item.user_properties.extend([
                ("submission", item.callspec.params["run"]),
                ("check", f"{group}/{case.id}"),
                ("group", group),
                ("function", marker.kwargs.get("function", group.split("/", 1)[1])),
                ("visibility", "visible" if case.visible else "hidden"),
                ("max_score", self.rubric.group(group).points / counts[group]),
            ])
        if self.visible_only:
            hidden = [item for item in items if not item.callspec.params["case"].visible]
            items[:] = [item for item in items if item.callspec.params["case"].visible]
            config.hook.pytest_deselected(items=hidden)
        self.collected = [list(item.user_properties) for item in items if item.callspec.params["run"] == 0]

    # ------------------------------------------------------------ fixtures

    @pytest.fixture
    def run(self, request: pytest.FixtureRequest) -> Runner:
        return self.runners[request.param]

    @pytest.fixture
    def tolerance(self, request: pytest.FixtureRequest) -> Tolerance:
        return self.rubric.group(group_of(request.node)).tolerance

    @pytest.fixture
    def passed(self, request: pytest.FixtureRequest) -> Callable[[str], None]:
        def record(message: str) -> None:
            request.node.user_properties.append(("message", message))

        return record

    # ------------------------------------------------------------ outcomes

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Moving on to the next submission: finish the previous one (its process, its results) first."""
        index = item.callspec.params["run"]
        if index != self._current:
            self._finish_current()
            self._current = index
            if self.on_start is not None:
                self.on_start(index)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "setup":
            self._nodeids.append(report.nodeid)

    def pytest_sessionfinish(self) -> None:
        self._finish_current()

    def _finish_current(self) -> None:
        if self._current is None:
            return
        self.runners[self._current].close()
        # pytest-json-report 1.5 keeps its entries in ``_json_tests`` (nodeid -> entry) until the session ends.
        tests: dict[str, dict[str, Any]] = self._json_report._json_tests
        entries = [tests.pop(nodeid) for nodeid in self._nodeids if nodeid in tests]
        self._nodeids = []
        if self.on_done is not None:
            self.on_done(self._current, entries)
        self._current = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
        report = yield
        if call.when == "call" or (call.when == "setup" and report.failed):
            item.user_properties.extend(_outcome(call, report))
        return report


def _outcome(call: pytest.CallInfo[Any], report: pytest.TestReport) -> list[tuple[str, Any]]:
    if call.excinfo is None:
        return [("status", "pass")]
    error = call.excinfo.value
    if isinstance(error, CheckFailed):
        return [("status", "fail"), ("message", error.message), ("hint", error.hint)]
    if isinstance(error, CodeError):
        return [("status", "error"), ("message", error.message)]
    return [
        ("status", "error"),
        ("message", "internal grader error: this check could not be graded (course staff have the details)"),
        ("internal", report.longreprtext[-20000:]),
    ]
