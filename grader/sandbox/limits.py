"""What a sandboxed child may use: one frozen configuration object."""

from __future__ import annotations

from dataclasses import dataclass

from grader.inside.limits import ChildLimits


@dataclass(frozen=True)
class Limits(ChildLimits):
    """Limits applied to every child of a :class:`~grader.sandbox.Sandbox`.

    The fields of :class:`~grader.inside.limits.ChildLimits` become resource
    limits inside the child with soft = hard, so student code cannot raise
    them; ``call_timeout_s`` and ``max_reply_bytes`` are enforced by the
    grader (wall clock per request, size of one reply).
    ``notebook_timeout_s`` is the grader's too: the wall clock a notebook's
    top-level code may take in all (its cells, run once before the checks).
    """

    call_timeout_s: float = 10.0
    max_reply_bytes: int = 64 << 20
    notebook_timeout_s: float = 60.0
