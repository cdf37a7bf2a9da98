"""Running student code where it cannot hurt the grader.

:class:`Sandbox` keeps one warm zygote process (NumPy and torch imported once)
that forks an isolated :class:`Child` per submission; see ``README.md`` in this
folder for the layers and what each test demonstrates.
"""

from .errors import ChildDied, ChildTimeout, ExitStatus, SandboxError, SandboxUnavailable
from .limits import Limits
from .client import Child, Sandbox

__all__ = [
    "Child", "ChildDied", "ChildTimeout", "ExitStatus", "Limits", "Sandbox", "SandboxError", "SandboxUnavailable",
]
