"""The resource limits a child applies to itself: the one definition of their fields.

The grader's :class:`grader.sandbox.Limits` extends this class with what the
grader enforces itself (the wall-clock timeout, the size of a reply).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ChildLimits:
    """Limits a child sets with soft = hard, before any student code runs.

    ``memory_mb`` is headroom on top of the address space the warm
    interpreter already maps (NumPy and torch take about 650 MiB of it);
    ``processes`` applies only when each child runs under its own user id;
    ``scratch_mb`` bounds the child's private ``/tmp`` (its working folder
    included) where it has a mount namespace of its own.
    """

    cpu_s: int = 60
    memory_mb: int = 1024
    file_size_mb: int = 8
    open_files: int = 64
    processes: int = 16
    scratch_mb: int = 64

    def for_child(self) -> dict[str, int]:
        """The fields as sent on the zygote's control socket."""
        return {field.name: getattr(self, field.name) for field in fields(ChildLimits)}

    @classmethod
    def from_json(cls, data: Any) -> ChildLimits:
        if not isinstance(data, dict):
            raise ValueError("limits must be an object")
        values = {field.name: int(data[field.name]) for field in fields(ChildLimits) if field.name in data}
        if any(value <= 0 for value in values.values()):
            raise ValueError("limits must be positive")
        return ChildLimits(**values)
