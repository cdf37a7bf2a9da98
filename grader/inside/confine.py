"""How a freshly forked child confines itself before any student code runs.

In order: its own session; descriptors 0 = /dev/null, 1 and 2 = capped
output files, 3 = its socket, nothing else; default signal handling; where
the zygote can make them, private mount, IPC and network namespaces with a
bounded ``/tmp`` (:mod:`namespaces`); a minimal environment; its own uid and no groups
(root) or no capabilities (bubblewrap's user namespace); ``no_new_privs``;
death with the zygote; a seccomp filter (:mod:`seccomp`, x86-64 and AArch64); resource limits
with soft = hard. Any failure raises: the caller exits with
``SETUP_FAILED_EXIT`` and the submission never runs.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import signal

from . import namespaces, seccomp
from .kernel import (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG,
                     SINGLE_THREADED, libc, prctl)
from .limits import ChildLimits

SETUP_FAILED_EXIT = 121  # a child exits with this when it could not sandbox itself


def confine(sock_fd: int, stdout_fd: int, stderr_fd: int, *, workdir: str | None, name: str, uid: int | None,
            limits: ChildLimits, tasks_of_uid: int) -> str:
    """Confine this process; return its working folder. ``workdir`` None: make a private one."""
    os.setsid()
    _arrange_descriptors(sock_fd, stdout_fd, stderr_fd)
    for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGALRM, signal.SIGXCPU):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    if workdir is None:
        workdir = namespaces.enter_private_scratch(name, uid, limits.scratch_mb)
    os.environ.clear()
    os.environ.update({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir,
                       "LANG": "C.UTF-8", **SINGLE_THREADED})
    if uid is not None:
        _become(uid)
    _drop_capabilities()
    if not prctl(PR_SET_NO_NEW_PRIVS, 1):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the zygote's end is ours too
    if seccomp.supported():
        seccomp.install()
    _limit_resources(limits, tasks_of_uid)
    os.chdir(workdir)
    return workdir


def _arrange_descriptors(sock_fd: int, stdout_fd: int, stderr_fd: int) -> None:
    null = os.open("/dev/null", os.O_RDWR)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in (null, stdout_fd, stderr_fd, sock_fd)]
    for target, fd in enumerate(high):
        os.dup2(fd, target, inheritable=target < 3)
    os.set_inheritable(3, False)
    os.closerange(4, 1 << 20)


def _become(uid: int) -> None:
    """Become ``uid``/``uid`` with no supplementary groups, irrevocably."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid) or os.getgroups():
        raise PermissionError("privileges were not dropped")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise PermissionError("could regain root after dropping privileges")


def _drop_capabilities() -> None:
    """Empty the ambient, effective, permitted and inheritable sets (what the uid change left)."""
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def _limit_resources(limits: ChildLimits, tasks_of_uid: int) -> None:
    """``RLIMIT_NPROC`` counts every task of the uid: ``tasks_of_uid`` already run besides the child's."""
    mib = 1 << 20
    chosen = {
        resource.RLIMIT_CPU: limits.cpu_s,
        resource.RLIMIT_AS: _vm_size_bytes() + limits.memory_mb * mib,
        resource.RLIMIT_FSIZE: limits.file_size_mb * mib,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_NPROC: tasks_of_uid + limits.processes,
    }
    for which, value in chosen.items():
        resource.setrlimit(which, (value, value))


def _vm_size_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")
