"""The bubblewrap command line that confines the zygote.

The zygote sees only the host's system directories (``SYSTEM_PATHS``: /usr,
/etc, /lib...) and the Python installation, read-only; nothing else of the
host exists in there (no /home, /work, /srv, /opt, /var, /tmp). Within what it
sees, everything that could help a submission is hidden as well: the project
(reference solutions, the grader), any installed copy of ``grader`` or
``reference``, the paths the caller asks to hide, and ``/run`` and
``/dev/shm``, which are private. Hidden directories
are covered by empty tmpfs mounts; what the zygote needs beneath them (the
Python installation, the site-packages holding NumPy and torch) is bound back
read-only. Directories no unprivileged user can enter (``/root`` is 0700) are
covered the same way, so that children still read the standard library after
dropping to their own user id. ``grader/inside`` is bound alone at
``/run/nngrader/nngrader_worker``.

Mounts are emitted from the shallowest path to the deepest, so a bind inside a
hidden directory lands on top of the covering tmpfs, and a hidden directory
inside a bound one (``site-packages/grader``) is covered again. The covers are
then made read-only; only ``/tmp``, where the zygote makes each child's
workdir, stays writable.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import site
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

WORKER_PARENT = Path("/run/nngrader")  # on the zygote's PYTHONPATH
WORKER_PACKAGE = "nngrader_worker"  # grader/inside, under a name that says nothing
TMP_SIZE_BYTES = 512 << 20  # the zygote's /tmp (memory), which holds every child's workdir
SHM_SIZE_BYTES = 64 << 20
# What the zygote needs as root: fork children, chown their files, drop to their
# uid, kill them and remove their files, and give each child its own mount and IPC
# namespace with a private /tmp (CAP_SYS_ADMIN: the zygote runs no student code, and
# a child loses every capability when it drops to its uid). No ptrace.
ROOT_CAPABILITIES = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_FOWNER", "CAP_KILL", "CAP_DAC_OVERRIDE",
                     "CAP_SYS_ADMIN")
# Not root: inside bubblewrap's user namespace, the same private namespaces per child;
# the child drops the capability (capset) before any student code runs.
USER_CAPABILITIES = ("CAP_SYS_ADMIN",)
# The only host directories the zygote sees (read-only), besides the Python
# installation: an allowlist, so that a copy of the reference elsewhere on the
# machine (another checkout, a TA's home) is out of sight as well.
SYSTEM_PATHS = tuple(Path(p) for p in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys"))
NEVER_HIDDEN = frozenset(Path(p) for p in ("/", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/dev", "/proc", "/sys"))


def namespace_arguments(*, as_root: bool) -> list[str]:
    """Which namespaces to unshare.

    As root the user namespace is kept: root mapped to root would keep every
    capability, and the zygote could no longer switch to the per-child uids.
    Not root, a user namespace is the only way in, and nested ones are refused.
    """
    if as_root:
        return ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    return ["--unshare-all", "--unshare-user", "--disable-userns"]


@functools.lru_cache(maxsize=None)
def probe(*, as_root: bool) -> str | None:
    """None when bubblewrap runs here, else why not."""
    executable = shutil.which("bwrap")
    if executable is None:
        return "bwrap is not on PATH (Debian package bubblewrap)"
    true = shutil.which("true") or "/bin/true"
    command = [executable, *namespace_arguments(as_root=as_root), "--die-with-parent",
               "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", true]
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=20, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed to start: {exc}"
    if result.returncode != 0:
        return f"bwrap does not work here: {result.stderr.decode(errors='replace').strip()[:300]}"
    return None


# ---------------------------------------------------------------- what to hide and expose


def project_paths() -> list[Path]:
    """The grader and reference packages, and the project folder that holds them.

    Found from ``grader``'s own location and ``reference``'s import spec, which
    locates the package without importing it. For an installed copy the
    folder is site-packages, which stays (only the package is hidden).
    """
    packages = [Path(__file__).resolve().parents[1]]
    spec = importlib.util.find_spec("reference")
    if spec is not None and spec.origin:
        packages.append(Path(spec.origin).resolve().parent)
    elif spec is not None and spec.submodule_search_locations:
        packages.extend(Path(p).resolve() for p in spec.submodule_search_locations)
    paths: list[Path] = []
    for package in packages:
        paths.append(package)
        if not _is_site_directory(package.parent):
            paths.append(package.parent)
    return paths


def python_paths() -> list[Path]:
    """What the zygote must read: the interpreter, its prefixes and the site dirs of NumPy and torch."""
    paths = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    paths.add(Path(sys.executable).resolve().parent)
    for name in ("numpy", "torch"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            raise FileNotFoundError(f"{name} is not installed for {sys.executable}")
        paths.add(Path(spec.origin).resolve().parent.parent)
    return sorted(paths)


def _is_site_directory(path: Path) -> bool:
    sites = {Path(p).resolve() for p in site.getsitepackages() + [site.getusersitepackages()]}
    return path in sites or path.name in ("site-packages", "dist-packages")


# ---------------------------------------------------------------- the mount plan


@dataclass(frozen=True)
class MountPlan:
    """Which host paths the zygote sees: ``hidden`` covered, ``exposed`` bound back."""

    hidden: tuple[Path, ...]
    exposed: tuple[Path, ...]
    worker: Path  # grader/inside on the host

    @classmethod
    def build(cls, *, hide: Iterable[Path], worker: Path) -> MountPlan:
        hidden = {_absolute(p) for p in (*project_paths(), *hide)}
        hidden = {p for p in hidden if p not in NEVER_HIDDEN and os.path.lexists(p)}
        needed = python_paths()
        exposed = [p for p in needed if not any(other in p.parents for other in needed)]
        return cls(hidden=tuple(sorted(hidden)), exposed=tuple(exposed), worker=worker.resolve())

    def arguments(self) -> list[str]:
        """bwrap options, shallowest mount first."""
        covers = {Path("/tmp"), Path("/run"), Path("/dev/shm"), *(p for p in self.hidden if p.is_dir())}
        for path in self.exposed:  # directories others cannot enter hide what is under them
            for ancestor in reversed(path.parents):
                if ancestor in covers:
                    break
                if ancestor != Path("/") and not os.stat(ancestor).st_mode & stat.S_IXOTH:
                    covers.add(ancestor)
                    break
        # an exposed path equal to a cover stays hidden; the rest under a cover is bound back
        binds = [(p, p) for p in self.exposed if p not in covers and (_under_any(p, covers) or not _in_system(p))]
        binds.append((self.worker, WORKER_PARENT / WORKER_PACKAGE))
        bound = [destination for _, destination in binds]

        def visible(path: Path) -> bool:  # not already inside a cover that nothing re-exposes
            above = [c for c in covers if c in path.parents]
            if not above:
                return True
            return any(_depth(b) > max(map(_depth, above)) for b in bound if b == path or b in path.parents)

        # (depth, order at equal depth, path, options): a hidden path beats an exposed one
        mounts: list[tuple[int, int, str, list[str]]] = [
            (1, 0, "/dev", ["--dev", "/dev"]),
            (1, 0, "/proc", ["--proc", "/proc"]),
        ]
        for cover in filter(visible, covers):
            size = {Path("/tmp"): TMP_SIZE_BYTES, Path("/dev/shm"): SHM_SIZE_BYTES}.get(cover, 1 << 20)
            mounts.append((_depth(cover), 2, str(cover), ["--perms", "0755", "--size", str(size), "--tmpfs", str(cover)]))
        directories: set[Path] = set()
        for source, destination in binds:
            mounts.append((_depth(destination), 1, str(destination), ["--ro-bind", str(source), str(destination)]))
            above = [c for c in covers if c in destination.parents]
            if above:  # outside every cover, bwrap makes the parents itself
                top = max(above, key=_depth)
                directories.update(a for a in destination.parents if top in a.parents and a not in covers)
        for directory in directories:
            mounts.append((_depth(directory), 0, str(directory), ["--perms", "0755", "--dir", str(directory)]))
        for path in self.hidden:
            if not path.is_dir() and visible(path):  # a file: replaced by an empty one
                mounts.append((_depth(path), 2, str(path), ["--ro-bind", "/dev/null", str(path)]))
        arguments = _system_arguments()
        for _, _, _, options in sorted(mounts, key=lambda m: m[:3]):
            arguments.extend(options)
        for cover in sorted(filter(visible, covers - {Path("/tmp")})):  # nobody writes there, root or not
            arguments += ["--remount-ro", str(cover)]
        return [*arguments, "--remount-ro", "/"]


def _system_arguments() -> list[str]:
    """Bind the system directories read-only (symbolic ones, like merged-/usr's /lib, as links)."""
    arguments: list[str] = []
    for path in SYSTEM_PATHS:
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            arguments += ["--ro-bind", str(path), str(path)]
    return arguments


def _in_system(path: Path) -> bool:
    return any(path == system or system in path.parents for system in SYSTEM_PATHS)


def bwrap_command(python_argv: Sequence[str], plan: MountPlan, *, as_root: bool) -> list[str]:
    """The full command: bwrap, its options, then the zygote's own command line."""
    executable = shutil.which("bwrap")
    if executable is None:
        raise FileNotFoundError("bwrap")
    # --as-pid-1: the zygote is the namespace's init, which its children cannot signal
    command = [executable, *namespace_arguments(as_root=as_root), "--as-pid-1", "--die-with-parent", "--new-session"]
    if as_root:
        command += ["--cap-drop", "ALL"]
    for capability in ROOT_CAPABILITIES if as_root else USER_CAPABILITIES:
        command += ["--cap-add", capability]
    command += plan.arguments()
    command += ["--chdir", "/"]
    return command + list(python_argv)


def _absolute(path: Path | str) -> Path:
    return Path(os.path.abspath(os.path.realpath(path)))


def _depth(path: Path) -> int:
    return len(path.parts)


def _under_any(path: Path, roots: Iterable[Path]) -> bool:
    return any(root == path or root in path.parents for root in roots)
