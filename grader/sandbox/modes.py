"""The four ways the sandbox can run, and what each one guarantees.

Printed as one line on stderr at the start of every ``grader grade`` and
``grader batch`` run, so that whoever reads the scores knows what stood
between student code and the machine. ``--require-sandbox`` refuses the two
modes that are not strong; it is the documented way to run graded work.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from . import bubblewrap
from .errors import SandboxUnavailable

GUARANTEES = {
    "root + bubblewrap": "strong: own uid per child, no network, host read-only, project, reference, "
                         "submissions and outputs hidden, private /tmp and IPC per child, seccomp, resource limits",
    "user + bubblewrap": "strong: no network, host read-only, project, reference, submissions and outputs hidden, "
                         "private /tmp and IPC per child, seccomp, resource limits; children share your uid",
    "root, no bubblewrap": "weak: own uid per child, private /tmp, IPC and network per child, seccomp, "
                           "resource limits; student code sees the host's files (the reference included)",
    "user, no bubblewrap": "none: a separate process with seccomp and resource limits, running as you "
                           "(for a student's own self-check only)",
}
REFUSAL = ("--require-sandbox: the strong sandbox layer is not in force here "
           "(needs bubblewrap and an unprivileged user for the student code)")


def mode(layers: Mapping[str, Any]) -> str:
    """``"root + bubblewrap"``, ``"user + bubblewrap"``, ``"root, no bubblewrap"`` or ``"user, no bubblewrap"``."""
    who = "root" if layers.get("per_child_user") else "user"
    return f"{who} + bubblewrap" if layers.get("bubblewrap") else f"{who}, no bubblewrap"


def mode_line(layers: Mapping[str, Any]) -> str:
    """One line naming the mode and its guarantees."""
    name = mode(layers)
    guarantees = GUARANTEES[name]
    if "private_scratch" in layers and not layers["private_scratch"] and "private /tmp," in guarantees:
        guarantees = guarantees.replace("private /tmp, IPC and network per child", "NO private /tmp or "
                                        "network per child (namespaces are not allowed here)")
    advice = "" if layers.get("strong") else "; for graded work use --require-sandbox"
    return f"sandbox: {name} ({guarantees}){advice}"


def require_strong(layers: Mapping[str, Any]) -> None:
    """Raise :class:`SandboxUnavailable` (the one-line refusal) unless the strong layer is in force."""
    if not layers.get("strong"):
        raise SandboxUnavailable(REFUSAL)


def planned(use_bubblewrap: bool | None) -> dict[str, Any]:
    """The layers a sandbox opened with ``bubblewrap=use_bubblewrap`` will have, without opening one."""
    root = os.geteuid() == 0
    wrapped = use_bubblewrap is not False and bubblewrap.probe(as_root=root) is None
    layers = {"bubblewrap": wrapped, "per_child_user": root, "strong": wrapped}
    return {**layers, "mode": mode(layers)}
