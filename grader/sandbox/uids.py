"""User ids for sandboxed children, reserved so that no two live sandboxes share one.

When the grader runs as root, every child runs under a user id of its own, so
that a helper running as that uid can ``kill(-1, SIGKILL)`` everything the
child started (and nothing else), and ``RLIMIT_NPROC`` counts only its
processes. Each :class:`~grader.sandbox.Sandbox` reserves a block of ids with
an exclusive ``flock`` on a lock file in a root-only directory; the lock dies
with the process that holds it, so a crashed grader frees its block.

The ids start far above the ranges distributions hand out to people
(1000+), to rootless containers (``/etc/subuid``, 100000+) and to
systemd-nspawn (up to 0x6FFFFFFF); blocks that overlap an id that
``/etc/passwd``, ``/etc/group`` or ``/etc/subuid`` mention are skipped.
"""

from __future__ import annotations

import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path

FIRST_UID = 2_000_000_000
BLOCK_SIZE = 10_000  # children one zygote can have before it reuses a (swept) uid
BLOCK_COUNT = 100
LOCK_DIRECTORIES = (Path("/run/nngrader-uids"), Path("/var/lock/nngrader-uids"))


@dataclass
class UidBlock:
    """A reserved range ``[first, first + count)``; :meth:`release` frees it."""

    first: int
    count: int
    _lock_fd: int | None

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # drops the flock
            self._lock_fd = None


def reserve_uid_block() -> UidBlock:
    """Reserve a free block of user ids (root only)."""
    taken = _ids_in_use()
    directory = _lock_directory()
    for index in range(BLOCK_COUNT):
        first = FIRST_UID + index * BLOCK_SIZE
        if any(first <= uid < first + BLOCK_SIZE for uid in taken):
            continue
        fd = os.open(directory / f"block-{index}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidBlock(first=first, count=BLOCK_SIZE, _lock_fd=fd)
    raise RuntimeError(f"all {BLOCK_COUNT} blocks of sandbox user ids are in use")


def _lock_directory() -> Path:
    """A directory only root can write, created if needed (never through a symlink)."""
    for directory in LOCK_DIRECTORIES:
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(directory)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and not info.st_mode & 0o022:
            return directory
    raise RuntimeError("no root-only directory for the sandbox's user-id locks")


def _ids_in_use() -> set[int]:
    """Every uid/gid the system's databases mention, as points (ranges expanded lazily)."""
    taken: set[int] = set()
    for database in ("/etc/passwd", "/etc/group"):
        try:
            lines = Path(database).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isdigit():
                taken.add(int(fields[2]))
    for database in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(database).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split(":")
            if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                start, count = int(fields[1]), int(fields[2])
                # record the range's ends and every block start inside it
                taken.update({start, start + count - 1})
                taken.update(b for b in range(FIRST_UID, FIRST_UID + BLOCK_SIZE * BLOCK_COUNT, BLOCK_SIZE)
                             if start <= b < start + count)
    return taken
