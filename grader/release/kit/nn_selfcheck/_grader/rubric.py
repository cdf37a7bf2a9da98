"""Stand-in for the grader's rubric: the visible checks' points and tolerances, from ``data.json``."""

from __future__ import annotations

from dataclasses import dataclass

from ..datafile import load_data
from ._tolerance import Tolerance  # the grader's own class, copied at release

__all__ = ["Group", "Rubric", "RubricError", "Tolerance", "load_rubric"]


class RubricError(ValueError):
    """The checks and the data disagree (a kit built for other checks)."""


@dataclass(frozen=True)
class Group:
    id: str
    points: float  # the points of the group's visible checks together
    tolerance: Tolerance
    shares: tuple[float, ...] = ()  # each visible check's points, as the grader prices them


@dataclass(frozen=True)
class Rubric:
    total: float  # of the whole assignment, hidden checks included
    task_titles: dict[str, str]
    groups: dict[str, Group]
    call_timeout_s: float

    def group(self, group_id: str) -> Group:
        return self.groups[group_id]

    def shares(self, group_id: str, count: int) -> list[float]:
        """The points of the group's ``count`` visible checks, in suite order (recorded at release)."""
        shares = list(self.group(group_id).shares)
        if len(shares) != count:
            raise RubricError(f"{group_id}: {count} checks, but the self-check's data prices {len(shares)}")
        return shares

    def verify_groups(self, cases_per_group: dict[str, int]) -> None:
        unknown = sorted(set(cases_per_group) - set(self.groups))
        if unknown:
            raise RubricError(f"checks without points in the self-check's data: {', '.join(unknown)}")


def load_rubric() -> Rubric:
    data = load_data()
    groups = {gid: Group(gid, float(spec["points"]), Tolerance(rtol=spec["rtol"], atol=spec["atol"]),
                         tuple(float(share) for share in spec["shares"]))
              for gid, spec in data["groups"].items()}
    return Rubric(total=float(data["total"]), task_titles=dict(data["task_titles"]), groups=groups,
                  call_timeout_s=float(data["call_timeout_s"]))
