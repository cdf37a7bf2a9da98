"""The CPU a process tree has used, and page faults, read from ``/proc`` (shared by the bench scripts; imports nothing of the grader)."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of_tree(root: int) -> dict[int, tuple[str, float, float]]:
    """pid -> (name, own CPU s, CPU s of its reaped children) for ``root`` and its descendants."""
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        utime, stime, cutime, cstime = (int(value) / TICK for value in fields[11:15])
        found[pid] = (name, utime + stime, cutime + cstime)
        todo += [int(child) for child in children]
    return found


def reaped_page_faults(pid: int) -> int:
    """Minor page faults of the children ``pid`` has reaped, in all (``cminflt``).

    For the zygote these are mostly its children's copies of the pages they
    share with it: about 5 µs each on this machine, whatever its speed of the moment.
    """
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[8])
