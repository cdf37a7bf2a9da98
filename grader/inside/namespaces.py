"""Namespaces: a child's private scratch space and network, the zygote's view of Python.

:func:`enter_private_scratch` is run by a freshly forked child while it still
holds the zygote's privileges (root, or ``CAP_SYS_ADMIN`` in bubblewrap's
user namespace). The child gets a mount namespace of its own whose mounts
propagate nowhere, a fresh size- and inode-bounded tmpfs on ``/tmp`` holding
its working folder (with the folders of ``sys.path`` that lived under
``/tmp`` bound back read-only), read-only empty ``/var/tmp`` and ``/dev/shm``
where those are the host's world-writable ones, and IPC and network namespaces
of its own (no network at all: not even the host's 127.0.0.1).
Everything it writes there lives in memory and vanishes with the namespace
when its last process is swept: no cleanup walks what it made, and nothing it
leaves can reach a later child, the zygote's files or the host's ``/tmp``.

:func:`reveal` is run once by a root zygote without bubblewrap: in a mount
namespace of its own, folders that other users cannot enter (``/root`` 0700)
above the Python installation are covered by an empty tmpfs with the
installation bound back read-only, so that children under their own uids
import any installed package, as they do under bubblewrap.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from pathlib import Path

from .kernel import libc

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 1 << 14, 1 << 18
MS_NOEXEC, MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 8, 1 << 10, 1 << 11, 1 << 21
_KEPT_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
               (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))
INODES_PER_MIB = 64  # files and folders a child may make per MiB of scratch space
READ_ONLY_EMPTY = ("/var/tmp", "/dev/shm")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                      ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _private_mount_namespace(flags: int = 0) -> None:
    _check(libc.unshare(CLONE_NEWNS | flags), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # before anything else: nothing propagates out


def enter_private_scratch(name: str, uid: int | None, size_mb: int) -> str:
    """Unshare mount, IPC and network namespaces, mount a bounded tmpfs on /tmp; return ``/tmp/<name>`` (0700)."""
    _private_mount_namespace(CLONE_NEWIPC | CLONE_NEWNET)
    kept = _import_paths_under("/tmp")
    handles = [os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for path in kept]  # before covering
    options = f"size={size_mb}m,nr_inodes={max(64, size_mb * INODES_PER_MIB)},mode=0755"
    _mount("nngrader-scratch", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, options)
    for path, handle in zip(kept, handles):  # a Python environment that lives under /tmp stays importable
        os.makedirs(path, mode=0o755, exist_ok=True)
        _bind_read_only(handle, path)
        os.close(handle)
    for path in READ_ONLY_EMPTY:  # the host's shared ones; bubblewrap's are read-only already
        if os.path.isdir(path) and os.stat(path).st_mode & 0o002:
            _mount("nngrader-empty", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,nr_inodes=2,mode=0755")
    workdir = os.path.join("/tmp", name)
    os.mkdir(workdir, 0o700)
    if uid is not None:
        os.chown(workdir, uid, uid)
    return workdir


def can_make_private_scratch() -> bool:
    """Whether a child here may unshare a mount namespace and mount a tmpfs (tried in a throwaway process).

    Root in a container without CAP_SYS_ADMIN (Docker's default) may not: children then work in a
    folder on disk, as for an ordinary user without bubblewrap.
    """
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _private_mount_namespace(CLONE_NEWIPC | CLONE_NEWNET)
            _mount("nngrader-probe", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,nr_inodes=4,mode=0755")
            code = 0
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1] == 0


def _import_paths_under(top: str) -> list[str]:
    """The folders of ``sys.path`` under ``top`` (outermost only), where the Python environment may live."""
    found = sorted({os.path.realpath(entry) for entry in sys.path if entry and os.path.isdir(entry)})
    found = [path for path in found if path.startswith(top + os.sep)]
    return [path for path in found if not any(path.startswith(other + os.sep) for other in found)]


def _bind_read_only(handle: int, path: str) -> None:
    _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
    flags = os.statvfs(path).f_flag
    if not flags & os.ST_RDONLY:  # bubblewrap's binds are read-only (and locked) already
        # A remount must keep the flags the mount already has (nosuid, nodev, ...): in a user namespace
        # they are locked, and dropping one is refused (EPERM), e.g. for a project that lives under /tmp.
        kept = sum(bit for flag, bit in _KEPT_FLAGS if flags & flag)
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | kept)


def blocking_folder(path: Path) -> Path | None:
    """The outermost folder above ``path`` that other users cannot enter, if any."""
    for ancestor in reversed(path.parents):
        if ancestor != Path("/") and not os.stat(ancestor).st_mode & stat.S_IXOTH:
            return ancestor
    return None


def reveal(paths: list[str]) -> None:
    """In a new mount namespace, make ``paths`` reachable by every uid (read-only), hiding their neighbours."""
    wanted = [Path(p) for p in paths if os.path.isdir(p)]
    covers: dict[Path, list[Path]] = {}
    for path in wanted:
        cover = blocking_folder(path)
        if cover is not None:
            covers.setdefault(cover, []).append(path)
    if not covers:
        return
    _private_mount_namespace()
    for cover, inside in sorted(covers.items()):
        handles = [os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in inside]  # before covering
        try:
            _mount("nngrader-cover", str(cover), "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
            for path, handle in sorted(zip(inside, handles)):
                os.makedirs(path, mode=0o755, exist_ok=True)
                _bind_read_only(handle, str(path))
            _mount(None, str(cover), None, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY)
        finally:
            for handle in handles:
                os.close(handle)
