"""Exceptions raised by the sandbox client."""

from __future__ import annotations

from dataclasses import dataclass


class SandboxError(Exception):
    """The sandbox itself failed (its zygote died or broke the protocol)."""


class SandboxUnavailable(SandboxError):
    """A requested isolation layer (bubblewrap) cannot be used on this machine."""


@dataclass(frozen=True)
class ExitStatus:
    """How a child ended, as reported by the zygote that reaped it."""

    code: int | None
    signal: int | None
    signal_name: str | None
    killed: bool = False  # the sandbox killed it (timeout, malformed reply, close)
    stderr: str = ""  # the last 2 KB the child wrote to its stderr

    def describe(self) -> str:
        """``"exited with code 3"`` or ``"killed by signal 11 (SIGSEGV)"``."""
        if self.signal is not None:
            return f"killed by signal {self.signal} ({self.signal_name or '?'})"
        if self.code is not None:
            return f"exited with code {self.code}"
        return "ended in an unknown way"


class ChildDied(Exception):
    """The child stopped answering; ``description`` says how ("exited with code 3").

    ``running`` is, when the child said so, which of the calls sent ahead in
    one request (1 for the first) it had started last: the one that hung or
    crashed, since replies to such calls may be held until the last is done.
    Student code can write anything there: it only picks which of the
    submission's own calls is blamed.
    """

    def __init__(self, description: str, *, exit: ExitStatus | None = None, running: int | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.exit = exit
        self.running = running

    @property
    def stderr(self) -> str:
        """The tail of the child's stderr, if it was reaped."""
        return self.exit.stderr if self.exit else ""


class ChildTimeout(ChildDied):
    """A request ran past its wall-clock timeout; the child has been killed."""
