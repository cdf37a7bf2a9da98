"""What a sandboxed child may use: one frozen configuration object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Limits applied to every child of a :class:`~grader.sandbox.Sandbox`.

    ``call_timeout_s`` and ``max_reply_bytes`` are enforced by the grader
    (wall clock per request, size of one reply); the others become resource
    limits inside the child with soft = hard, so student code cannot raise them.
    ``memory_mb`` is headroom on top of the address space the warm interpreter
    already maps (NumPy and torch take about 650 MiB of it), and ``processes``
    applies only when each child runs under its own user id.
    ``notebook_timeout_s`` is the grader's too: the wall clock a notebook's
    top-level code may take in all (its cells, run once before the checks).
    """

    call_timeout_s: float = 10.0
    cpu_s: int = 60
    memory_mb: int = 1024
    file_size_mb: int = 8
    open_files: int = 64
    processes: int = 16
    max_reply_bytes: int = 64 << 20
    notebook_timeout_s: float = 60.0

    def for_child(self) -> dict[str, Any]:
        """The part of the limits the zygote applies, as sent on the control socket."""
        return {
            "cpu_s": self.cpu_s,
            "memory_mb": self.memory_mb,
            "file_size_mb": self.file_size_mb,
            "open_files": self.open_files,
            "processes": self.processes,
        }
