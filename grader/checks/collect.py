"""Find the checks: pytest collects ``grader/assignment/checks/check_task*.py`` once per process.

The checks are written as a pytest suite (``@pytest.mark.parametrize`` over
the cases, ``@pytest.mark.group`` for the rubric group), so a course reads and
edits them as ordinary tests and pytest expands them. Only collection is
pytest's: each collected item becomes a :class:`Check` (its function, its case
and its group), and :mod:`grader.checks` calls the functions itself. Running
them through pytest's per-test protocol (fixtures, setup and teardown, three
reports and their hooks per check) cost about 2 ms per check, 100 ms per
submission, more than the grader's own comparisons and messages together.

A check whose case repeats its calls (``case.repeats``, the state checks of
:mod:`grader.assignment.state`) runs after every other check, so that other
calls come between a function's first answer and its repeats; reports still
list it in suite order, with its group.
"""

from __future__ import annotations

import contextlib
import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest  # imported when the suite is collected: a batch's main process never needs it (0.1 s)

CHECKS_DIR = Path(__file__).resolve().parents[1] / "assignment" / "checks"
ARGUMENTS = frozenset({"case", "run", "tolerance", "passed"})  # what a check function may ask for
PYTEST_ARGS = [
    "-q",
    "--collect-only",
    "-p", "no:cacheprovider",  # never write .pytest_cache next to the checks
    "-p", "no:randomly",
    "--disable-plugin-autoload",  # no installed plugin is needed; loading them took half of the 0.6 s (pytest 8.4)
    "-o", "python_files=check_*.py",
    "-o", "addopts=",
    "--import-mode=importlib",
    "--rootdir", str(CHECKS_DIR),
]


class CollectionError(RuntimeError):
    """The check suite cannot be collected or asks for something the engine does not give."""


@dataclass(frozen=True)
class Check:
    """One collected check: ``function(case=case, run=..., tolerance=..., passed=...)``."""

    name: str  # pytest's name, e.g. ``test_relu[x1]``
    function: Callable[..., None]
    arguments: tuple[str, ...]  # which of ARGUMENTS it asks for, by name
    case: Any  # the parametrized case (grader.assignment.cases); has ``id`` and ``visible``
    group: str  # the rubric group, ``task1/relu``
    subject: str  # the student's function it checks, ``relu``

    @property
    def runs_last(self) -> bool:
        """A state check (its case repeats its calls): it runs after every other check."""
        return bool(getattr(self.case, "repeats", 0))


def collected() -> tuple[Check, ...]:
    """Every check of the suite, in suite order (collected on the first call, then kept)."""
    global _COLLECTED
    if _COLLECTED is None:
        _COLLECTED = _collect()
    return _COLLECTED


_COLLECTED: tuple[Check, ...] | None = None


class _Collector:
    """The pytest plugin of the collection-only session: keeps the items."""

    def __init__(self) -> None:
        self.items: list[pytest.Item] = []

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "group(id, function=...): the rubric group (task/function) of a check")

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        self.items = list(items)


def _collect() -> tuple[Check, ...]:
    import pytest

    collector = _Collector()
    with contextlib.redirect_stdout(io.StringIO()) as output:
        exit_code = pytest.main([*PYTEST_ARGS, str(CHECKS_DIR)], plugins=[collector])
    if exit_code != pytest.ExitCode.OK:
        raise CollectionError(f"the check suite could not be collected (pytest exit code {int(exit_code)}):\n"
                              f"{output.getvalue()[-4000:]}")
    return tuple(_check(item) for item in collector.items)


def _check(item: pytest.Item) -> Check:
    import pytest

    if not isinstance(item, pytest.Function):
        raise CollectionError(f"{item.nodeid} is not a check function")
    marker = item.get_closest_marker("group")
    if marker is None or not marker.args:
        raise CollectionError(f"check {item.name} has no @pytest.mark.group")
    arguments = tuple(inspect.signature(item.obj).parameters)
    unknown = sorted(set(arguments) - ARGUMENTS)
    if unknown:
        raise CollectionError(f"check {item.name} asks for {', '.join(unknown)}; a check may ask only for "
                              f"{', '.join(sorted(ARGUMENTS))}")
    params = getattr(item, "callspec", None)
    if params is None or "case" not in params.params:
        raise CollectionError(f"check {item.name} is not parametrized by case")
    group = str(marker.args[0])
    case = params.params["case"]
    return Check(name=item.name, function=item.obj, arguments=arguments, case=case, group=group,
                 subject=str(marker.kwargs.get("function", group.split("/", 1)[1])))
