"""The warm process that forks one isolated child per submission: its control loop.

Runs inside the sandbox: it imports NumPy and torch once (:mod:`warmup`, about
2-4 s), then answers requests on a control socket inherited from the grader,
forking a child for each submission (a few ms). It never runs student code,
and never holds a submission's files or a child's replies: the grader sends
the files to the child itself, over the child's own socket, once the child
has confined itself (:mod:`confine`). The sweep of a child is :mod:`sweep`.

Control protocol (``wire`` framing, JSON objects):

``{"op": "spawn", "limits": {...}}``
    ``{"ok": true, "id": N}``, followed by one byte ``F`` carrying the
    grader's end of a new socket pair (``SCM_RIGHTS``). On the other end the
    child first reads one message ``{"files": {"numpy_net.py": "<base64>"}}``,
    writes the files into its working folder, then serves the :mod:`harness`
    protocol. The grader may send a progress page (a descriptor) along with
    the files (see ``harness``).
``{"op": "wait", "id": N, "timeout": s}``
    lets the child exit on its own for up to ``s`` seconds, kills it if it did
    not, kills everything it left behind, removes its files and replies
    ``{"ok": true, "exit": {"code", "signal", "signal_name", "killed",
    "stderr"}}`` (``stderr``: its last 2 KB).
``{"op": "close"}``
    kills every child, replies ``{"ok": true}`` and exits. So does end of file.

Before the first request the zygote sends ``{"ok": true, "hello": {...}}``
saying which layers it can enforce. Failures reply ``{"ok": false, "error": str}``.

The zygote is a child subreaper, so orphans of every child are reparented to
it and reaped here.
"""

from __future__ import annotations

import argparse
import base64
import errno
import json
import os
import select
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

from . import namespaces, seccomp, sweep
from .confine import SETUP_FAILED_EXIT, confine
from .kernel import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, PR_SET_PDEATHSIG, kill_quietly, killpg_quietly, prctl
from .limits import ChildLimits

MAX_CONTROL_BYTES = 1 << 20
MAX_FILES_BYTES = 64 << 20  # the files message a child reads (base64 of at most a few MiB)
FILES_TIMEOUT_S = 30.0
STDERR_TAIL_BYTES = 2048
CAP_SYS_ADMIN = 21


@dataclass
class ChildRecord:
    """A live child as the zygote tracks it."""

    pid: int
    uid: int | None
    folder: str  # the zygote's folder for it: its output files, and its workdir without a namespace
    stderr_fd: int


class Zygote:
    """Serves the control socket: spawns and reaps children."""

    def __init__(self, control: socket.socket, harness: ModuleType, wire: ModuleType, *,
                 killer: sweep.UidKiller | None, first_uid: int | None, uid_count: int, in_pid_namespace: bool,
                 workroot: str | None = None, private_scratch: bool = False) -> None:
        self.control = control
        self.harness = harness
        self.wire = wire
        self.killer = killer
        self.root = os.geteuid() == 0
        self.drop_privileges = self.root and killer is not None and first_uid is not None and uid_count > 0
        self.private_scratch = private_scratch
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
        os.chmod(self.workroot, 0o711 if not self.private_scratch else 0o700)

    def hello(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "euid": os.geteuid(),
            "drop_privileges": self.drop_privileges,
            "private_scratch": self.private_scratch,
            "seccomp": seccomp.supported(),
            "sweep": self.sweep_mode,
            "python": sys.version.split()[0],
        }

    # ------------------------------------------------------------ loop

    def serve(self) -> None:
        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
            "spawn": self.spawn, "wait": self.wait,
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
        _remove_quietly(self.workroot)
        if self.killer is not None:
            self.killer.stop()
            self.statuses.pop(self.killer.pid, None)

    # ------------------------------------------------------------ spawn

    def spawn(self, request: dict[str, Any]) -> None:
        limits = ChildLimits.from_json(request.get("limits", {}))
        uid = None
        if self.drop_privileges:
            if not self.free_uids:
                raise RuntimeError("no free user id: too many live children")
            uid = self.free_uids.popleft()
        child_id = self.next_id
        try:
            folder, workdir, stdout_fd, stderr_fd = self._prepare(child_id, uid)
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
            for end in (ours, theirs):
                end.close()
            for fd in (stdout_fd, stderr_fd):
                os.close(fd)
            _remove_quietly(folder)
            if uid is not None:
                self.free_uids.append(uid)
            raise
        if pid == 0:  # the child: never returns
            _run_child(theirs, stdout_fd, stderr_fd, workdir, f"child-{child_id}", uid, limits, self.harness,
                       self.wire, unique_uid=self.sweep_mode == "uid" and uid is not None,
                       detach=[self.control, ours])
        theirs.close()
        os.close(stdout_fd)
        self.next_id += 1
        self.children[child_id] = ChildRecord(pid=pid, uid=uid, folder=folder, stderr_fd=stderr_fd)
        self.wire.send_message(self.control, {"ok": True, "id": child_id})
        socket.send_fds(self.control, [b"F"], [ours.fileno()])
        ours.close()
        return None

    def _prepare(self, child_id: int, uid: int | None) -> tuple[str, str | None, int, int]:
        """The zygote's 0700 folder for a child, holding its stdout and stderr files.

        Without a private scratch namespace it also holds ``work``, the
        child's working folder, owned by the child's uid. The zygote keeps a
        descriptor on the stderr file, so it reads the tail later without
        opening any path the child could have replaced.
        """
        folder = os.path.join(self.workroot, f"child-{child_id}")
        os.mkdir(folder, 0o700)
        flags = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        stdout_fd = os.open(os.path.join(folder, ".stdout"), flags | os.O_WRONLY | os.O_APPEND, 0o600)
        stderr_fd = os.open(os.path.join(folder, ".stderr"), flags | os.O_RDWR | os.O_APPEND, 0o600)
        workdir = None
        if not self.private_scratch:
            os.chmod(folder, 0o711)
            workdir = os.path.join(folder, "work")
            os.mkdir(workdir, 0o700)
            if uid is not None:
                os.chown(workdir, uid, uid, follow_symlinks=False)
        return folder, workdir, stdout_fd, stderr_fd

    # ------------------------------------------------------------ wait

    def wait(self, request: dict[str, Any]) -> dict[str, Any]:
        child_id = int(request["id"])
        if child_id not in self.children:
            raise KeyError(f"no live child {request['id']!r}")
        timeout = max(0.0, float(request.get("timeout", 0.0)))
        return {"ok": True, "exit": self._finish(child_id, timeout=timeout)}

    def _finish(self, child_id: int, *, timeout: float) -> dict[str, Any]:
        """Reap a child (killing it after ``timeout``), sweep what it left, clean up."""
        record = self.children.pop(child_id)
        status = self._wait_pid(record.pid, timeout)
        killed = status is None
        if status is None:
            kill_quietly(record.pid)
            status = self._wait_pid(record.pid, None)
        assert status is not None
        self._sweep(record)
        stderr = _tail(record.stderr_fd)
        os.close(record.stderr_fd)
        _remove_quietly(record.folder)
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
        """Kill every process the child left behind, then reap them (see :mod:`sweep`)."""
        if self.sweep_mode == "uid" and record.uid is not None and self.killer is not None:
            sweep.kill_uid(self.killer, record.uid, self._reap_any)
        elif self.sweep_mode == "namespace" and not self.children:
            sweep.kill_namespace(self._reap_any)
        else:
            killpg_quietly(record.pid)
        self._reap_any()
        for pid in list(self.statuses):  # forget orphans; keep statuses of live children
            if all(pid != child.pid for child in self.children.values()):
                del self.statuses[pid]


# ---------------------------------------------------------------- the child


def _run_child(sock: socket.socket, stdout_fd: int, stderr_fd: int, workdir: str | None, name: str,
               uid: int | None, limits: ChildLimits, harness: Any, wire: Any, *, unique_uid: bool,
               detach: list[socket.socket]) -> None:
    """Confine this freshly forked process, read the submission's files, serve requests. Never returns.

    Any failure before student code runs exits with ``SETUP_FAILED_EXIT``:
    a child that could not be sandboxed must not run the submission.
    """
    try:
        for other in detach:  # their descriptors are closed by confine; never close them again
            other.detach()
        tasks = 0 if unique_uid else sweep.tasks_of_uid(os.getuid())
        workdir = confine(sock.detach(), stdout_fd, stderr_fd, workdir=workdir, name=name, uid=uid,
                          limits=limits, tasks_of_uid=tasks)
        connection = socket.socket(fileno=3)
        progress = _receive_files(connection, workdir, wire)
    except BaseException:
        try:
            os.write(2, traceback.format_exc().encode("utf-8", "replace")[-STDERR_TAIL_BYTES:])
        finally:
            os._exit(SETUP_FAILED_EXIT)
    try:
        harness.serve(connection, workdir, progress)
    except BaseException:
        try:
            os.write(2, traceback.format_exc().encode("utf-8", "replace")[-STDERR_TAIL_BYTES:])
        finally:
            os._exit(1)
    os._exit(0)


def _receive_files(connection: socket.socket, workdir: str, wire: Any) -> int | None:
    """Read ``{"files": {name: base64}}`` from the grader and write them into ``workdir``.

    Returns the progress page the grader may send along with it (a descriptor; see ``harness``).
    """
    connection.settimeout(FILES_TIMEOUT_S)
    message, fds = wire.receive_message_and_fds(connection, MAX_FILES_BYTES, 1)
    connection.settimeout(None)
    files = message.get("files")
    if not isinstance(files, dict):
        raise ValueError("files must be an object")
    flags = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_WRONLY
    for file_name, content in files.items():
        if not isinstance(file_name, str) or not file_name or file_name in (".", "..") or "/" in file_name \
                or "\0" in file_name or not isinstance(content, str):
            raise ValueError(f"bad file {file_name!r}")
        view = memoryview(base64.b64decode(content, validate=True))
        fd = os.open(os.path.join(workdir, file_name), flags, 0o600)
        try:
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    return fds[0] if fds else None


# ---------------------------------------------------------------- helpers


def _has_capability(number: int) -> bool:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> number & 1)
    return False


def _remove_quietly(path: str) -> None:
    try:
        sweep.remove_tree(path)
    except OSError as exc:
        print(f"zygote: could not remove {path}: {exc}", file=sys.stderr, flush=True)


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
    parser.add_argument("--workroot", default=None, help="where to make the children's folders (default: $TMPDIR)")
    parser.add_argument("--reveal", action="append", default=[],
                        help="a folder of the Python installation children must read (root, without bubblewrap)")
    args = parser.parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    os.set_inheritable(args.control_fd, False)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_DUMPABLE, 0)  # no ptrace, no /proc/<pid>/mem, even by a child of the same uid
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as PID 1, only signals we handle get through
    sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd())]
    # forked before NumPy and torch are imported (see UidKiller)
    killer = sweep.UidKiller() if os.geteuid() == 0 and args.first_uid is not None else None
    private_scratch = (os.geteuid() == 0 or _has_capability(CAP_SYS_ADMIN)) and namespaces.can_make_private_scratch()
    try:
        from .warmup import warm_up

        harness, wire = warm_up()
        if args.reveal and private_scratch:  # root allowed to make mount namespaces (not in every container)
            namespaces.reveal(args.reveal)
    except BaseException as exc:
        body = json.dumps({"ok": False, "error": f"zygote failed to start: {type(exc).__name__}: {exc}"}).encode()
        control.sendall(len(body).to_bytes(4, "big") + body)  # wire's framing, without wire
        raise
    zygote = Zygote(control, harness, wire, killer=killer, first_uid=args.first_uid, uid_count=args.uid_count,
                    in_pid_namespace=args.pid_namespace, workroot=args.workroot, private_scratch=private_scratch)
    wire.send_message(control, {"ok": True, "hello": zygote.hello()})
    zygote.serve()
    sys.stderr.flush()
    os._exit(0)  # tearing torch down takes most of a second, and nothing needs it


if __name__ == "__main__":
    main()
