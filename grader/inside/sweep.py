"""Sweeping a child: nothing it started, and nothing it wrote, may outlive it.

``uid``
    the zygote is root: every child gets its own user id, so a helper that
    takes that uid and calls ``kill(-1, SIGKILL)`` kills exactly that child's
    processes, double-forked ``setsid`` daemons included; repeated until
    ``/proc`` shows none alive.
``namespace``
    not root, in a PID namespace of its own where bubblewrap runs the zygote
    as PID 1 (``--as-pid-1``): ``kill(-1, SIGKILL)`` from the zygote kills
    everything but itself. It would also kill the other live children, so
    while others run only the child's process group is killed, and the
    namespace is swept when the last one ends. Children share the zygote's
    uid here; being PID 1 is what protects it from them (the kernel drops
    SIGKILL, and any signal without a handler, sent to a namespace's init
    from inside), and being non-dumpable keeps them from ptracing it.
``group``
    neither: ``killpg`` of the child's session; a daemon that left the
    session survives. No strong sandbox runs in this mode.

Files: a child with a private scratch namespace (:mod:`namespaces`) leaves
nothing once its processes are dead. Otherwise its folder is removed by
:func:`remove_tree`, which walks any depth without recursion.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import time
from typing import Callable

from .kernel import PR_SET_PDEATHSIG, prctl

SWEEP_DEADLINE_S = 10.0


class UidKiller:
    """A small root process that kills every process of a given uid.

    Forked before NumPy and torch are imported, so that the per-request fork
    of a helper that takes the uid and calls ``kill(-1, SIGKILL)`` copies a
    bare interpreter (well under a millisecond) rather than the warm zygote.
    The helper runs no student code; it signals every process of the uid,
    and only those (``kill(-1)`` spares the caller and PID 1).
    """

    def __init__(self) -> None:
        request_read, self._requests = os.pipe()
        self._replies, reply_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.dup2(request_read, 0)
                os.dup2(reply_write, 1)
                os.closerange(3, 1 << 20)  # the control socket above all
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                _serve_kill_requests(0, 1)
                code = 0
            finally:
                os._exit(code)
        os.close(request_read)
        os.close(reply_write)

    def kill_all(self, uid: int) -> None:
        os.write(self._requests, uid.to_bytes(4, "big"))
        if os.read(self._replies, 1) != b"k":
            raise RuntimeError("the uid killer is gone")

    def stop(self) -> None:
        os.close(self._requests)
        os.close(self._replies)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:  # already reaped with the children
            pass


def _serve_kill_requests(requests: int, replies: int) -> None:
    while True:
        data = os.read(requests, 4)
        if len(data) != 4:
            return
        uid = int.from_bytes(data, "big")
        helper = os.fork()
        if helper == 0:
            try:
                os.closerange(0, 1 << 20)
                os.setresgid(uid, uid, uid)
                os.setgroups([])
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(helper, 0)
        os.write(replies, b"k")


def kill_uid(killer: UidKiller, uid: int, reap: Callable[[], None]) -> None:
    """Kill every process of ``uid`` until ``/proc`` shows none alive; ``reap`` collects the dead.

    One ``kill(-1, SIGKILL)`` suffices in principle (a process cannot fork
    once a SIGKILL is pending); the check re-kills if one still appears.
    """
    deadline = time.monotonic() + SWEEP_DEADLINE_S
    while time.monotonic() < deadline:
        killer.kill_all(uid)
        settle = time.monotonic() + 0.5
        while time.monotonic() < settle:  # killed processes take a moment to die
            reap()  # their orphans are reparented to the zygote
            if not live_processes(uid):
                return
            time.sleep(0.0005)


def kill_namespace(reap: Callable[[], None]) -> None:
    """Kill everything else in our PID namespace (we are its init), until nothing is left."""
    deadline = time.monotonic() + SWEEP_DEADLINE_S
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return
        reap()
        time.sleep(0.0005)


def tasks_of_uid(uid: int) -> int:
    """How many threads the processes of ``uid`` (real) have in all."""
    return sum(int(fields.get(b"Threads", b"1")) for fields in _process_statuses(uid, live_only=False).values())


def live_processes(uid: int) -> list[int]:
    """Pids of the processes whose real uid is ``uid`` and that are not zombies."""
    return list(_process_statuses(uid, live_only=True))


def _process_statuses(uid: int, *, live_only: bool) -> dict[int, dict[bytes, bytes]]:
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as status:
                fields = dict(line.split(b":", 1) for line in status.read().splitlines() if b":" in line)
        except OSError:  # gone meanwhile
            continue
        uids = fields.get(b"Uid", b"").split()
        state = fields.get(b"State", b"").strip()[:1]
        if uids and int(uids[0]) == uid and not (live_only and state in (b"Z", b"X")):
            found[int(name)] = fields
    return found


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything under it, at any depth, following no symbolic link.

    Iterative: one open directory at a time, going down into the first
    subfolder left and back up through ``..`` once a folder is empty, so a
    chain thousands of folders deep costs no stack and no pile of
    descriptors. Folders the owner made unreadable are opened up first. Call
    it only once every process that could write there is dead.
    """
    try:
        _make_traversable(path, None)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    names: list[str] = []  # the way down: strings, not descriptors
    came_from = None
    try:
        while True:
            below = _empty_or_first_folder(fd)
            if below is not None:
                if below == came_from:  # emptied, yet it cannot be removed
                    raise OSError(errno.EPERM, f"cannot remove {below!r} under {path}")
                _make_traversable(below, fd)
                inner = os.open(below, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd, came_from = inner, None
                names.append(below)
            elif not names:
                break
            else:  # empty: its parent removes it on the next pass
                outer = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
                os.close(fd)
                fd, came_from = outer, names.pop()
    finally:
        os.close(fd)
    os.rmdir(path)


def _empty_or_first_folder(fd: int) -> str | None:
    """Unlink the files and empty folders in ``fd``; the name of a folder that is not empty, if any."""
    with os.scandir(fd) as entries:
        names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    for name, is_folder in names:
        try:
            if not is_folder:
                os.unlink(name, dir_fd=fd)
                continue
            os.rmdir(name, dir_fd=fd)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EACCES, errno.EPERM):
                raise
            return name
    return None


def _make_traversable(name: str, dir_fd: int | None) -> None:
    """Give a folder back rwx for its owner (a child may have ``chmod 0``-ed it), if it is ours."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o700 != 0o700 and info.st_uid == os.geteuid():
            os.chmod(name, stat.S_IMODE(info.st_mode) | 0o700, dir_fd=dir_fd)
    except (FileNotFoundError, PermissionError):
        pass

