"""The warm process that forks one isolated child per submission.

Runs inside the sandbox: it imports NumPy and torch once (about 2-4 s), then
answers requests on a control socket inherited from the grader, forking a
child for each submission (a few ms). It never runs student code itself.

Control protocol (``wire`` framing, JSON objects):

``{"op": "spawn", "files": {"numpy_net.py": "<base64>"}, "limits": {...}}``
    ``{"ok": true, "id": N}``, followed by one byte ``F`` carrying the
    grader's end of a new socket pair (``SCM_RIGHTS``); the child serves the
    :mod:`harness` protocol on the other end.
``{"op": "kill", "id": N}``
    SIGKILL to the child; ``{"ok": true}``. It is reaped by ``wait``.
``{"op": "wait", "id": N, "timeout": s}``
    lets the child exit on its own for up to ``s`` seconds, kills it if it did
    not, kills everything it left behind, removes its files and replies
    ``{"ok": true, "exit": {"code", "signal", "signal_name", "killed",
    "stderr"}}`` (``stderr``: its last 2 KB).
``{"op": "close"}``
    kills every child, replies ``{"ok": true}`` and exits. So does end of file.

Before the first request the zygote sends ``{"ok": true, "hello": {...}}``
saying which layers it can enforce. Failures reply ``{"ok": false, "error": str}``.

Sweeping a child (nothing it started may outlive it):

``uid``
    the zygote is root: every child gets its own user id from a range the
    grader reserved, so a helper that takes that uid and calls
    ``kill(-1, SIGKILL)`` kills exactly that child's processes, double-forked
    ``setsid`` daemons included; repeated until ``/proc`` shows none alive.
``namespace``
    not root, in a PID namespace of its own where bubblewrap runs it as PID 1
    (``--as-pid-1``): ``kill(-1, SIGKILL)`` from the zygote kills everything
    but itself. It would also kill the other live children, so while others
    run only the child's process group is killed, and the namespace is swept
    when the last one ends. Children share the zygote's uid here; being PID 1
    is what protects it from them (the kernel drops SIGKILL, and any signal
    without a handler, sent to a namespace's init from inside), and being
    non-dumpable keeps them from ptracing it.
``group``
    neither: ``killpg`` of the child's session; a daemon that left the
    session survives. No strong sandbox runs in this mode.

The zygote is a child subreaper, so orphans of every child are reparented to
it and reaped here.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import errno
import fcntl
import json
import os
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections import deque
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

# NumPy, torch and the harness (and ``wire``, which imports NumPy) are imported
# by ``main`` only after the small uid killer has been forked.

SETUP_FAILED_EXIT = 121  # a child exits with this when it could not sandbox itself
MAX_CONTROL_BYTES = 256 << 20
STDERR_TAIL_BYTES = 2048
RESERVED_NAMES = frozenset({".stdout", ".stderr"})
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

# Modules imported before any fork, so that student code finds them even where
# the child, once unprivileged, can no longer read the Python installation.
PRELOADED_MODULES = (
    "abc", "array", "bisect", "collections", "collections.abc", "contextlib", "copy",
    "csv", "dataclasses", "datetime", "decimal", "enum", "fractions", "functools",
    "gc", "heapq", "inspect", "io", "itertools", "json", "linecache", "math",
    "numbers", "operator", "pathlib", "pickle", "pprint", "queue", "random", "re",
    "statistics", "string", "struct", "textwrap", "time", "timeit", "tokenize",
    "traceback", "types", "typing", "unittest", "unittest.mock", "warnings", "weakref",
    "encodings.ascii", "encodings.latin_1", "encodings.utf_8", "encodings.idna",
    "numpy", "numpy.linalg", "numpy.random", "numpy.fft", "numpy.polynomial", "numpy.testing",
    "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.optim",
    "torch.optim.lr_scheduler", "torch.autograd", "torch.utils.data", "torch.testing",
)

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    """Call prctl(2); True when it succeeded."""
    result = _libc.prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    return bool(result == 0)


# ---------------------------------------------------------------- warm-up


def _warm_up() -> tuple[ModuleType, ModuleType]:
    """Import NumPy, torch and the harness once, single-threaded, and exercise them.

    Running a tiny training step here pulls in the modules torch loads lazily,
    so children do not need to read them after dropping privileges.
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    import importlib

    import torch

    torch.set_num_threads(1)  # before any parallel work: forking after it hangs
    torch.set_num_interop_threads(1)
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # an optional module missing in this installation
            pass
    from torch import nn

    import numpy as np

    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    loss = nn.functional.cross_entropy(net(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1]))
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9).step()
    np.linalg.norm(np.random.default_rng(0).standard_normal((3, 3)) @ np.eye(3))
    from . import harness, wire

    wire.encode_value((torch.ones(2, requires_grad=True), np.zeros(2), 1.0, None))
    return harness, wire


# ---------------------------------------------------------------- the zygote


@dataclass
class ChildRecord:
    """A live child as the zygote tracks it."""

    pid: int
    uid: int | None
    workdir: str
    stderr_fd: int


@dataclass(frozen=True)
class ChildLimits:
    """Resource limits for one child (see ``grader.sandbox.Limits``)."""

    cpu_s: int = 60
    memory_mb: int = 1024
    file_size_mb: int = 8
    open_files: int = 64
    processes: int = 16

    @classmethod
    def from_json(cls, data: Any) -> ChildLimits:
        if not isinstance(data, dict):
            raise ValueError("limits must be an object")
        values = {key: int(data[key]) for key in cls.__dataclass_fields__ if key in data}
        if any(value <= 0 for value in values.values()):
            raise ValueError("limits must be positive")
        return cls(**values)


class Zygote:
    """Serves the control socket: spawns, kills and reaps children."""

    def __init__(self, control: socket.socket, harness: ModuleType, wire: ModuleType, *,
                 killer: UidKiller | None, first_uid: int | None, uid_count: int, in_pid_namespace: bool,
                 workroot: str | None = None) -> None:
        self.control = control
        self.harness = harness
        self.wire = wire
        self.killer = killer
        self.root = os.geteuid() == 0
        self.drop_privileges = self.root and killer is not None and first_uid is not None and uid_count > 0
        if self.drop_privileges:
            self.sweep_mode = "uid"
        elif in_pid_namespace:
            self.sweep_mode = "namespace"
        else:
            self.sweep_mode = "group"
        # handed out in turn; a uid comes back (at the end) only once its processes are all dead
        self.free_uids: deque[int] = deque()
        if self.drop_privileges and first_uid is not None:
            self.free_uids.extend(range(first_uid, first_uid + uid_count))
        self.children: dict[int, ChildRecord] = {}
        self.statuses: dict[int, int] = {}  # pid -> wait status, reaped early by a sweep
        self.next_id = 1
        self.workroot = tempfile.mkdtemp(prefix="zygote-", dir=workroot)
        os.chmod(self.workroot, 0o711)  # children reach their own dir, list nothing

    def hello(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "euid": os.geteuid(),
            "drop_privileges": self.drop_privileges,
            "sweep": self.sweep_mode,
            "python": sys.version.split()[0],
        }

    # ------------------------------------------------------------ loop

    def serve(self) -> None:
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
            "spawn": self.spawn, "kill": self.kill, "wait": self.wait,
        }
        while True:
            try:
                request = self.wire.receive_message(self.control, MAX_CONTROL_BYTES)
            except (EOFError, OSError, self.wire.WireError):
                break
            op = request.get("op")
            if op == "close":
                self.shutdown()
                self.wire.send_message(self.control, {"ok": True})
                return
            handler = handlers.get(str(op))
            try:
                if handler is None:
                    raise ValueError(f"unknown op {op!r}")
                reply = handler(request)
            except Exception as exc:
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            if reply is not None:
                self.wire.send_message(self.control, reply)
        self.shutdown()

    def shutdown(self) -> None:
        """Kill every child and remove every file."""
        for child_id in list(self.children):
            self._finish(child_id, timeout=0.0)
        shutil.rmtree(self.workroot, ignore_errors=True)
        if self.killer is not None:
            self.killer.stop()
            self.statuses.pop(self.killer.pid, None)

    # ------------------------------------------------------------ spawn

    def spawn(self, request: dict[str, Any]) -> None:
        files = _decode_files(request.get("files"))
        limits = ChildLimits.from_json(request.get("limits", {}))
        uid = None
        if self.drop_privileges:
            if not self.free_uids:
                raise RuntimeError("no free user id: too many live children")
            uid = self.free_uids.popleft()
        try:
            workdir, stdout_fd, stderr_fd = self._prepare_workdir(files, uid)
        except BaseException:
            if uid is not None:
                self.free_uids.append(uid)
            raise
        ours, theirs = socket.socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            for fd in (stdout_fd, stderr_fd):
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            if uid is not None:
                self.free_uids.append(uid)
            raise
        if pid == 0:  # the child: never returns
            _run_child(theirs, stdout_fd, stderr_fd, workdir, uid, limits, self.harness,
                       sweep_mode=self.sweep_mode, detach=[self.control, ours])
        theirs.close()
        os.close(stdout_fd)
        child_id = self.next_id
        self.next_id += 1
        self.children[child_id] = ChildRecord(pid=pid, uid=uid, workdir=workdir, stderr_fd=stderr_fd)
        self.wire.send_message(self.control, {"ok": True, "id": child_id})
        socket.send_fds(self.control, [b"F"], [ours.fileno()])
        ours.close()
        return None

    def _prepare_workdir(self, files: dict[str, bytes], uid: int | None) -> tuple[str, int, int]:
        """A fresh 0700 directory with the submission's files, owned by the child's uid.

        Created before the fork, while no student code can touch it; the
        zygote keeps its own descriptor on the stderr file, so it reads the
        tail later without opening any path the student could have replaced.
        """
        workdir = tempfile.mkdtemp(prefix="child-", dir=self.workroot)
        flags = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        for name, data in files.items():
            fd = os.open(os.path.join(workdir, name), flags | os.O_WRONLY, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                if uid is not None:
                    os.fchown(fd, uid, uid)
            finally:
                os.close(fd)
        stdout_fd = os.open(os.path.join(workdir, ".stdout"), flags | os.O_WRONLY | os.O_APPEND, 0o600)
        stderr_fd = os.open(os.path.join(workdir, ".stderr"), flags | os.O_RDWR | os.O_APPEND, 0o600)
        if uid is not None:
            os.chown(workdir, uid, uid, follow_symlinks=False)
        return workdir, stdout_fd, stderr_fd

    # ------------------------------------------------------------ kill and wait

    def kill(self, request: dict[str, Any]) -> dict[str, Any]:
        record = self._record(request)
        _signal(record.pid, signal.SIGKILL)
        return {"ok": True}

    def wait(self, request: dict[str, Any]) -> dict[str, Any]:
        child_id = int(request["id"])
        self._record(request)
        timeout = max(0.0, float(request.get("timeout", 0.0)))
        return {"ok": True, "exit": self._finish(child_id, timeout=timeout)}

    def _record(self, request: dict[str, Any]) -> ChildRecord:
        record = self.children.get(int(request["id"]))
        if record is None:
            raise KeyError(f"no live child {request['id']!r}")
        return record

    def _finish(self, child_id: int, *, timeout: float) -> dict[str, Any]:
        """Reap a child (killing it after ``timeout``), sweep what it left, clean up."""
        record = self.children.pop(child_id)
        status = self._wait_pid(record.pid, timeout)
        killed = status is None
        if status is None:
            _signal(record.pid, signal.SIGKILL)
            status = self._wait_pid(record.pid, None)
        assert status is not None
        self._sweep(record)
        stderr = _tail(record.stderr_fd)
        os.close(record.stderr_fd)
        shutil.rmtree(record.workdir, ignore_errors=True)  # fd-based: follows no symlink
        if record.uid is not None:
            self.free_uids.append(record.uid)  # swept: reusable, after all the others
        return {**_describe_status(status), "killed": killed, "stderr": stderr}

    def _wait_pid(self, pid: int, timeout: float | None) -> int | None:
        """The wait status of ``pid``, or None if it still runs after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pidfd = _pidfd_open(pid)
        try:
            while True:
                if pid in self.statuses:
                    return self.statuses.pop(pid)
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    return self.statuses.pop(pid, 0)
                if done:
                    return status
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                step = 0.05 if remaining is None else min(0.05, remaining)
                if pidfd is not None:
                    select.select([pidfd], [], [], step)
                else:
                    time.sleep(min(step, 0.002))
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _reap_any(self) -> None:
        """Reap every finished child (orphans reparented here included), keeping statuses."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.statuses[pid] = status

    def _sweep(self, record: ChildRecord) -> None:
        """Kill every process the child left behind, then reap them."""
        if self.sweep_mode == "uid" and record.uid is not None:
            self._kill_uid(record.uid)
        elif self.sweep_mode == "namespace" and not self.children:
            self._kill_namespace()
        else:
            _killpg(record.pid)
        self._reap_any()
        for pid in list(self.statuses):  # forget orphans; keep statuses of live children
            if all(pid != child.pid for child in self.children.values()):
                del self.statuses[pid]

    def _kill_namespace(self) -> None:
        """Kill everything else in our PID namespace (we are its init), until nothing is left."""
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                return
            self._reap_any()
            time.sleep(0.0005)

    def _kill_uid(self, uid: int) -> None:
        """Kill every process of ``uid`` (see :class:`UidKiller`), until ``/proc`` shows none alive.

        One ``kill(-1, SIGKILL)`` suffices in principle (a process cannot fork
        once a SIGKILL is pending); the check re-kills if one still appears.
        """
        assert self.killer is not None
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            self.killer.kill_all(uid)
            settle = time.monotonic() + 0.5
            while time.monotonic() < settle:  # killed processes take a moment to die
                self._reap_any()  # their orphans are reparented here
                if not _live_processes(uid):
                    return
                time.sleep(0.0005)


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
                request_read, reply_write = 0, 1
                _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                _serve_kill_requests(request_read, reply_write)
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


# ---------------------------------------------------------------- the child


def _run_child(sock: socket.socket, stdout_fd: int, stderr_fd: int, workdir: str, uid: int | None,
               limits: ChildLimits, harness: Any, *, sweep_mode: str, detach: list[socket.socket]) -> None:
    """Isolate this freshly forked process, then serve student requests. Never returns.

    Any failure before student code runs exits with ``SETUP_FAILED_EXIT``:
    a child that could not be sandboxed must not run the submission.
    """
    try:
        os.setsid()
        for other in detach:  # their descriptors are closed below; never close them again
            other.detach()
        _arrange_descriptors(sock.detach(), stdout_fd, stderr_fd)
        for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGALRM, signal.SIGXCPU):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        _scrub_environment(workdir)
        if uid is not None:
            _drop_privileges(uid)
        if not _prctl(PR_SET_NO_NEW_PRIVS, 1):
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the zygote's end is ours too
        _limit_resources(limits, unique_uid=sweep_mode == "uid" and uid is not None)
        os.chdir(workdir)
        connection = socket.socket(fileno=3)
    except BaseException:
        try:
            os.write(2, traceback.format_exc().encode("utf-8", "replace")[-STDERR_TAIL_BYTES:])
        finally:
            os._exit(SETUP_FAILED_EXIT)
    try:
        harness.serve(connection, workdir)
    except BaseException:
        try:
            os.write(2, traceback.format_exc().encode("utf-8", "replace")[-STDERR_TAIL_BYTES:])
        finally:
            os._exit(1)
    os._exit(0)


def _arrange_descriptors(sock_fd: int, stdout_fd: int, stderr_fd: int) -> None:
    """0 = /dev/null, 1 and 2 = the capped output files, 3 = the socket; close all others."""
    null = os.open("/dev/null", os.O_RDWR)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in (null, stdout_fd, stderr_fd, sock_fd)]
    for target, fd in enumerate(high):
        os.dup2(fd, target, inheritable=target < 3)
    os.set_inheritable(3, False)
    os.closerange(4, 1 << 20)


def _scrub_environment(workdir: str) -> None:
    os.environ.clear()
    os.environ.update({
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        **{name: "1" for name in THREAD_VARIABLES},
    })


def _drop_privileges(uid: int) -> None:
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


def _limit_resources(limits: ChildLimits, *, unique_uid: bool) -> None:
    """Soft = hard limits, so the child cannot raise them back.

    ``RLIMIT_NPROC`` counts every process and thread of the uid (in this
    user namespace). With a uid of its own the child gets ``processes``;
    sharing the uid, it gets what already runs plus ``processes``.
    """
    mib = 1 << 20
    tasks = limits.processes if unique_uid else _tasks_of_uid(os.getuid()) + limits.processes
    chosen = {
        resource.RLIMIT_CPU: limits.cpu_s,
        resource.RLIMIT_AS: _vm_size_bytes() + limits.memory_mb * mib,
        resource.RLIMIT_FSIZE: limits.file_size_mb * mib,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_NPROC: tasks,
    }
    for which, value in chosen.items():
        resource.setrlimit(which, (value, value))


def _vm_size_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmSize in /proc/self/status")


# ---------------------------------------------------------------- helpers


def _decode_files(files: Any) -> dict[str, bytes]:
    """Validate names (plain file names only) and decode the base64 contents."""
    if not isinstance(files, dict):
        raise ValueError("files must be an object")
    decoded = {}
    for name, content in files.items():
        if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name
                or "\0" in name or name in RESERVED_NAMES):
            raise ValueError(f"bad file name {name!r}")
        if not isinstance(content, str):
            raise ValueError(f"{name}: content must be base64 text")
        decoded[name] = base64.b64decode(content, validate=True)
    return decoded


def _describe_status(status: int) -> dict[str, Any]:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name: str | None = signal.Signals(number).name
        except ValueError:
            name = None
        return {"code": None, "signal": number, "signal_name": name}
    if os.WIFEXITED(status):
        return {"code": os.WEXITSTATUS(status), "signal": None, "signal_name": None}
    return {"code": None, "signal": None, "signal_name": None}


def _tail(fd: int) -> str:
    try:
        size = os.fstat(fd).st_size
        data = os.pread(fd, STDERR_TAIL_BYTES, max(0, size - STDERR_TAIL_BYTES))
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


def _tasks_of_uid(uid: int) -> int:
    """How many threads the processes of ``uid`` (real) have in all."""
    return sum(int(fields.get(b"Threads", b"1")) for fields in _process_statuses(uid, live_only=False).values())


def _process_statuses(uid: int, *, live_only: bool) -> dict[int, dict[bytes, bytes]]:
    """``/proc/<pid>/status`` fields of the processes whose real uid is ``uid``."""
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


def _live_processes(uid: int) -> list[int]:
    """Pids of the processes whose real uid is ``uid`` and that are not zombies."""
    return list(_process_statuses(uid, live_only=True))


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _pidfd_open(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError as exc:
        if exc.errno in (errno.ESRCH, errno.ENOSYS, errno.EPERM, errno.EINVAL):
            return None
        raise


# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="zygote", description=__doc__.splitlines()[0])
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--first-uid", type=int, default=None, help="first of the user ids reserved for children")
    parser.add_argument("--uid-count", type=int, default=0)
    parser.add_argument("--pid-namespace", action="store_true", help="running alone in a PID namespace")
    parser.add_argument("--workroot", default=None, help="where to make the children's workdirs (default: $TMPDIR)")
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    os.set_inheritable(args.control_fd, False)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_DUMPABLE, 0)  # no ptrace, no /proc/<pid>/mem, even by a child of the same uid
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as PID 1, only signals we handle get through
    sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd())]
    killer = UidKiller() if os.geteuid() == 0 and args.first_uid is not None else None
    try:
        harness, wire = _warm_up()
    except BaseException as exc:
        body = json.dumps({"ok": False, "error": f"zygote failed to start: {type(exc).__name__}: {exc}"}).encode()
        control.sendall(len(body).to_bytes(4, "big") + body)  # wire's framing, without wire
        raise
    zygote = Zygote(control, harness, wire, killer=killer, first_uid=args.first_uid, uid_count=args.uid_count,
                    in_pid_namespace=args.pid_namespace, workroot=args.workroot)
    wire.send_message(control, {"ok": True, "hello": zygote.hello()})
    zygote.serve()
    sys.stderr.flush()
    os._exit(0)  # tearing torch down takes most of a second, and nothing needs it


if __name__ == "__main__":
    main()
