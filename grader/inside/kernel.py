"""Small wrappers around the kernel calls that both sides of the sandbox make.

Imported by the zygote and the child (inside) and by the grader's sandbox
client and batch workers (outside): one definition of the thread variables,
``prctl`` and the kill helpers. Standard library only.
"""

from __future__ import annotations

import ctypes
import os
import signal

# Every process that may fork keeps BLAS and OpenMP single-threaded: forking
# after a thread pool started hangs, and two workers share two cores.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
SINGLE_THREADED = {name: "1" for name in THREAD_VARIABLES}

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

libc = ctypes.CDLL(None, use_errno=True)


def prctl(option: int, value: int, extra: int = 0) -> bool:
    """Call prctl(2); True when it succeeded."""
    result = libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(extra), ctypes.c_ulong(0), ctypes.c_ulong(0))
    return bool(result == 0)


def kill_quietly(pid: int, number: int = signal.SIGKILL) -> None:
    """Signal ``pid``; a process already gone (or not ours to signal) is no error."""
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def killpg_quietly(pgid: int, number: int = signal.SIGKILL) -> None:
    """Signal the process group ``pgid``; a group already gone is no error."""
    try:
        os.killpg(pgid, number)
    except (ProcessLookupError, PermissionError):
        pass
