"""The rubric: points, tolerances and limits, read from one TOML file.

Points are declared once per check group (``"task1/forward_np"``) and split
evenly across the group's cases, in whole ten-thousandths of a point
(:meth:`Rubric.shares`), so that the checks of a report add up exactly to its
groups, tasks and total as written. :func:`load_rubric` verifies the totals, and
:func:`Rubric.verify_groups` that every collected check has a group and every
group at least one check, so a rubric can never silently drop points.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .sandbox.limits import Limits

DEFAULT_RUBRIC = "rubric.toml"
POINT_UNITS = 10_000  # points are counted in ten-thousandths (reports write 4 places)


class RubricError(ValueError):
    """The rubric file is unreadable or inconsistent (a one-line message)."""


@dataclass(frozen=True)
class Tolerance:
    """A value passes when ``max|got - want| <= atol + rtol * max|want|``."""

    rtol: float
    atol: float

    def bound(self, scale: float) -> float:
        return self.atol + self.rtol * scale


@dataclass(frozen=True)
class Group:
    """One check group: a contract function (or aspect) of one task."""

    id: str  # "task1/forward_np"
    points: float
    tolerance: Tolerance

    @property
    def task(self) -> str:
        return self.id.split("/", 1)[0]


@dataclass(frozen=True)
class Rubric:
    total: float
    task_titles: dict[str, str]
    groups: dict[str, Group]
    limits: Limits = field(default_factory=Limits)

    def group(self, group_id: str) -> Group:
        return self.groups[group_id]

    def shares(self, group_id: str, count: int) -> list[float]:
        """The group's points split over its ``count`` checks, in suite order.

        Each share is a whole number of ten-thousandths (what a report
        writes), the first ones taking the remainder, and they add up to the
        group's points: 5 points over 3 checks are 1.6667, 1.6667, 1.6666.
        """
        units = round(self.group(group_id).points * POINT_UNITS)
        base, extra = divmod(units, count)
        return [(base + (position < extra)) / POINT_UNITS for position in range(count)]

    def verify_groups(self, cases_per_group: dict[str, int]) -> None:
        """Every group has checks and every check a group, or ``RubricError``."""
        unknown = sorted(set(cases_per_group) - set(self.groups))
        empty = sorted(set(self.groups) - {g for g, n in cases_per_group.items() if n})
        if unknown:
            raise RubricError(f"checks without points in the rubric: {', '.join(unknown)}")
        if empty:
            raise RubricError(f"rubric groups without any check: {', '.join(empty)}")


def load_rubric(path: Path | None = None) -> Rubric:
    """Read and verify a rubric file (the packaged default when ``path`` is None)."""
    try:
        if path is None:
            text = resources.files("grader.assignment").joinpath(DEFAULT_RUBRIC).read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise RubricError(f"{path}: cannot read the rubric ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{path}: not valid TOML ({exc})") from None
    return _parse(data, str(path or DEFAULT_RUBRIC))


def _parse(data: dict[str, Any], name: str) -> Rubric:
    try:
        total = float(data["total"])
        default = _tolerance(data.get("tolerance", {}), Tolerance(rtol=1e-5, atol=1e-7))
        titles = {task: str(spec["title"]) for task, spec in data["tasks"].items()}
        groups = {}
        for group_id, spec in data["groups"].items():
            points = float(spec["points"])
            if points < 0 or not math.isfinite(points):
                raise RubricError(f"{name}: group {group_id} has invalid points {points}")
            if group_id.split("/", 1)[0] not in titles:
                raise RubricError(f"{name}: group {group_id} belongs to no task in [tasks]")
            groups[group_id] = Group(group_id, points, _tolerance(spec, default))
        limits = _limits(data.get("limits", {}))
    except RubricError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RubricError(f"{name}: malformed rubric ({type(exc).__name__}: {exc})") from None
    declared = sum(group.points for group in groups.values())
    if not math.isclose(declared, total, abs_tol=1e-9):
        raise RubricError(f"{name}: the groups' points add up to {declared:g}, but total is {total:g}")
    return Rubric(total=total, task_titles=titles, groups=groups, limits=limits)


def _tolerance(spec: dict[str, Any], default: Tolerance) -> Tolerance:
    return Tolerance(rtol=float(spec.get("rtol", default.rtol)), atol=float(spec.get("atol", default.atol)))


def _limits(spec: dict[str, Any]) -> Limits:
    """The sandbox's limits, with what the rubric's ``[limits]`` table changes (unknown keys are errors)."""
    defaults = Limits()
    unknown = sorted(set(spec) - {f.name for f in fields(Limits)})
    if unknown:
        raise RubricError(f"unknown [limits] keys: {', '.join(unknown)}")
    return replace(defaults, **{key: type(getattr(defaults, key))(value) for key, value in spec.items()})
