"""The grader's side of the sandbox: a warm zygote process and the children it forks.

Student code never runs in this process. :class:`Sandbox` starts
``grader/inside/zygote.py`` (inside bubblewrap when available), which imports
NumPy and torch once and forks an isolated :class:`Child` per submission; the
grader talks to each child over its own socket with the ``harness`` protocol
and reads every reply as size-capped JSON data.
"""

from __future__ import annotations

import base64
import fcntl
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

from grader.inside import wire
from grader.inside.confine import SETUP_FAILED_EXIT
from grader.inside.kernel import SINGLE_THREADED, killpg_quietly
from grader.inside.sweep import remove_tree

from . import bubblewrap as bwrap
from . import modes
from .errors import ChildDied, ChildTimeout, ExitStatus, SandboxError, SandboxUnavailable
from .limits import Limits
from .uids import UidBlock, reserve_uid_block

T = TypeVar("T")

# The zygote's malloc heap on transparent huge pages from the start (glibc 2.35 and later; older ones ignore it),
# for cheaper forks: see grader.inside.warmup.on_huge_pages, which moves the rest of its memory there after the
# warm-up. Side by side in lock step over 80 forks, this setting alone made a fork 3.4 ms instead of 5.8 and a
# child 4-5 ms cheaper. Read at start-up, so forks inherit it; a child's own environment is cleared as before.
HUGE_PAGE_HEAP = {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"}

WORKER_DIR = Path(__file__).resolve().parents[1] / "inside"
STARTUP_TIMEOUT_S = 120.0  # importing torch takes seconds, more on a loaded machine
CONTROL_TIMEOUT_S = 30.0  # a control reply (a sweep can take a moment)
EXIT_GRACE_S = 2.0  # after a child closes its socket, how long it may take to exit
MAX_CONTROL_REPLY_BYTES = 1 << 20
PROGRESS_CHECKS = 10  # how often, per call timeout, a wait for held replies reads the child's progress


class Sandbox:
    """One warm zygote process; a context manager.

    ``bubblewrap``: None uses it when ``bwrap`` works here, True requires it
    (else :class:`SandboxUnavailable`), False never uses it. ``hide``: more
    paths to make invisible inside (submission folders, the report folder).

    The zygote dies with the *thread* that started it (a parent-death signal,
    and bubblewrap's ``--die-with-parent``): create the Sandbox in a thread
    that outlives it. Safe to use from several threads, each child by one at
    a time. ``layers`` says what isolation is in force, for the report.
    """

    def __init__(self, limits: Limits = Limits(), *, bubblewrap: bool | None = None,
                 hide: Sequence[Path] = ()) -> None:
        self.limits = limits
        self._root = os.geteuid() == 0
        self._use_bwrap = _choose_bubblewrap(bubblewrap, as_root=self._root)
        self._hide = tuple(Path(p) for p in hide)
        self._lock = threading.Lock()
        self._children: dict[int, Child] = {}  # live ones, closed with the sandbox
        self._uids: UidBlock | None = reserve_uid_block() if self._root else None
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._stderr: Any = None
        self._scratch: Path | None = None  # without bubblewrap: launcher link and workdirs
        self._plan: bwrap.MountPlan | None = None
        self._closed = False
        self.hello: dict[str, Any] = {}
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self.layers: dict[str, Any] = self._layers()

    # ------------------------------------------------------------ public

    def spawn(self, files: Mapping[str, bytes]) -> Child:
        """Fork a fresh child holding ``files`` (name -> content) in its private workdir.

        The zygote only forks; the files go straight to the child over its own
        socket, so the zygote never holds them. A spawn that fails restarts the
        zygote and tries once more, so that nothing a child left behind can
        cost the submissions after it.
        """
        if self._closed:
            raise SandboxError("the sandbox is closed")
        message = {"op": "spawn", "limits": self.limits.for_child()}
        with self._lock:
            for attempt in (1, 2):
                if attempt == 2 or not self._zygote_alive():
                    self._restart()
                try:
                    reply, fd = self._exchange(message, receive_fd=True)
                except SandboxError:
                    if attempt == 2:
                        raise
                    continue
                if reply.get("ok") and fd is not None:
                    break
                if attempt == 2:
                    raise SandboxError(f"spawn failed: {reply.get('error', 'no socket received')}")
        child = Child(self, int(reply["id"]), socket.socket(fileno=fd), progress=_progress_page())
        self._children[child.id] = child
        child._send_files(files)
        return child

    @property
    def child_uids(self) -> range | None:
        """The user ids this sandbox gives its children (None when not root: they share the grader's)."""
        return None if self._uids is None else range(self._uids.first, self._uids.first + self._uids.count)

    def close(self) -> None:
        """Kill the zygote and everything under it; idempotent."""
        if self._closed:
            return
        self._closed = True
        for child in list(self._children.values()):
            child.close()
        with self._lock:
            self._stop()
        if self._uids is not None:
            self._uids.release()
        if self._scratch is not None:  # the zygote is dead: nothing writes here any more
            try:
                remove_tree(str(self._scratch))
            except OSError:
                pass

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ the zygote process

    def _command(self) -> list[str]:
        arguments = ["--control-fd", "{fd}"]
        if self._uids is not None:
            arguments += ["--first-uid", str(self._uids.first), "--uid-count", str(self._uids.count)]
        zygote = [sys.executable, "-s", "-m", f"{bwrap.WORKER_PACKAGE}.zygote", *arguments]
        if not self._use_bwrap:
            reveal = [part for path in bwrap.python_paths() for part in ("--reveal", str(path))] if self._root else []
            return [*zygote, "--workroot", str(self._scratch_dir() / "work"), *reveal]
        self._plan = bwrap.MountPlan.build(hide=self._hide, worker=WORKER_DIR)
        return bwrap.bwrap_command([*zygote, "--pid-namespace"], self._plan, as_root=self._root)

    def _environment(self) -> dict[str, str]:
        """The zygote's whole environment: nothing inherited from the grader's."""
        if self._use_bwrap:
            python_path = str(bwrap.WORKER_PARENT)
        else:  # a folder holding only a link named like the bubblewrap mount
            python_path = str(self._scratch_dir() / "launch")
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": "/nonexistent",
            "PYTHONPATH": python_path,
            "PYTHONDONTWRITEBYTECODE": "1",
            **SINGLE_THREADED,
            **HUGE_PAGE_HEAP,
        }

    def _scratch_dir(self) -> Path:
        """Without bubblewrap: ``launch/`` (0700, the link to grader/inside) and ``work/``
        (0711, the children's workdirs), removed by :meth:`close` even if the zygote crashed."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="nngrader-"))
            os.chmod(self._scratch, 0o711)
            (self._scratch / "launch").mkdir(mode=0o700)
            os.symlink(WORKER_DIR, self._scratch / "launch" / bwrap.WORKER_PACKAGE)
            (self._scratch / "work").mkdir(mode=0o711)
            os.chmod(self._scratch / "work", 0o711)
        return self._scratch

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        command = [part.replace("{fd}", str(theirs.fileno())) for part in self._command()]
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                pass_fds=[theirs.fileno()], env=self._environment(), cwd="/", start_new_session=True,
            )
        finally:
            theirs.close()
        self._control = ours
        weakref.finalize(self, _kill_group, self._process)
        try:
            ours.settimeout(STARTUP_TIMEOUT_S)
            hello = wire.receive_message(ours, MAX_CONTROL_REPLY_BYTES)
        except (OSError, EOFError, wire.WireError) as exc:
            raise SandboxError(f"the zygote did not start ({exc}): {self._stderr_text()}") from None
        if not hello.get("ok"):
            raise SandboxError(f"the zygote did not start: {hello.get('error')}: {self._stderr_text()}")
        self.hello = dict(hello.get("hello", {}))
        if self._root and not self.hello.get("drop_privileges"):
            raise SandboxError("the zygote runs as root but cannot drop privileges")

    def _stop(self) -> None:
        if self._control is not None:
            try:
                self._control.settimeout(CONTROL_TIMEOUT_S)
                wire.send_message(self._control, {"op": "close"})
                wire.receive_message(self._control, MAX_CONTROL_REPLY_BYTES)
            except (OSError, EOFError, wire.WireError):
                pass
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                self._process.wait(timeout=CONTROL_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _kill_group(self._process)
                self._process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _restart(self) -> None:
        """Replace a dead or failing zygote (its children die with it), with fresh folders."""
        for child in list(self._children.values()):
            child._mark_dead("lost its zygote")
        self._children.clear()
        self._stop()
        if self._scratch is not None:  # without bubblewrap, what a child may have locked goes too
            try:
                remove_tree(str(self._scratch))
            except OSError:
                pass
            self._scratch = None
        self._start()

    def _zygote_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None and self._control is not None

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - 2000))
        return str(self._stderr.read().decode("utf-8", "replace")).strip()

    # ------------------------------------------------------------ control socket

    def _exchange(self, message: dict[str, Any], *, receive_fd: bool = False,
                  timeout: float = CONTROL_TIMEOUT_S) -> tuple[dict[str, Any], int | None]:
        """One control request and its reply (caller holds ``_lock``)."""
        control = self._control
        if control is None:
            raise SandboxError("the zygote is not running")
        try:
            control.settimeout(timeout)
            wire.send_message(control, message)
            reply = wire.receive_message(control, MAX_CONTROL_REPLY_BYTES)
            fd = None
            if receive_fd and reply.get("ok"):
                data, fds, _, _ = socket.recv_fds(control, 1, 1)
                if data != b"F" or len(fds) != 1:
                    for extra in fds:
                        os.close(extra)
                    raise wire.WireError("expected one socket")
                fd = fds[0]
            return reply, fd
        except (OSError, EOFError, wire.WireError) as exc:
            _kill_group(self._process)
            control.close()
            self._control = None
            raise SandboxError(f"the zygote failed ({exc}): {self._stderr_text()}") from None

    def _control_request(self, message: dict[str, Any], timeout: float = CONTROL_TIMEOUT_S) -> dict[str, Any]:
        with self._lock:
            reply, _ = self._exchange(message, timeout=timeout)
        return reply

    # ------------------------------------------------------------ layers

    def _layers(self) -> dict[str, Any]:
        unprivileged = bool(self.hello.get("drop_privileges")) or not self._root
        layers = {
            "strong": self._use_bwrap and unprivileged,
            "bubblewrap": self._use_bwrap,
            "unprivileged_user": unprivileged,
            "per_child_user": bool(self.hello.get("drop_privileges")),
            "private_scratch": bool(self.hello.get("private_scratch")),
            "seccomp": bool(self.hello.get("seccomp")),
            "network": "none" if self._use_bwrap or self.hello.get("private_scratch") else "host",
            "pid_namespace": self._use_bwrap,
            "read_only_root": self._use_bwrap,
            "private_workdir": True,
            "scrubbed_environment": True,
            "resource_limits": True,
            "process_sweep": self.hello.get("sweep"),
            "hidden": [str(p) for p in self._plan.hidden] if self._plan else [],
        }
        return {**layers, "mode": modes.mode(layers)}


class Child:
    """One forked child serving one submission; use :meth:`request`, then :meth:`close`.

    It is given a progress page (``progress``, a sealed 8-byte memfd) with its
    files: with one, the child holds its replies to calls sent ahead in one
    request until the last is done, and writes there how many it has started
    (see ``harness``). While such replies are awaited, each call the child
    starts gets ``timeout`` seconds of its own, and a child that hangs or dies
    is blamed on the call it was running (:attr:`ChildDied.running`).
    """

    def __init__(self, sandbox: Sandbox, child_id: int, connection: socket.socket, *,
                 progress: int | None = None) -> None:
        self._sandbox = sandbox
        self.id = child_id
        self._socket: socket.socket | None = connection
        self._progress = progress
        self._ahead = (0, 0)  # (progress before the calls sent ahead, how many were sent)
        self._furthest = 0  # the furthest progress seen since: each step forward earns one more timeout, once
        self._dead: str | None = None  # why it is gone
        self.exit: ExitStatus | None = None  # how it ended, once reaped

    @property
    def alive(self) -> bool:
        return self._socket is not None and self._dead is None

    def request(self, message: dict[str, Any] | bytes, *, timeout: float | None = None) -> dict[str, Any]:
        """Send one harness request and return the reply (:meth:`send`, then :meth:`receive`)."""
        self.send(message, timeout=timeout)
        return self.receive(timeout=timeout)

    def send(self, message: dict[str, Any] | bytes, *, timeout: float | None = None, calls: int = 0) -> None:
        """Send one harness request without waiting for its reply (or replies: see ``harness``).

        ``calls`` is how many calls the request holds when it is a ``calls``
        request. Raises :class:`ChildTimeout` when the child does not take it
        within ``timeout`` seconds and :class:`ChildDied` when it is gone; it
        is killed then.
        """
        if calls:
            self._ahead = (self._progress_now() or 0, calls)
            self._furthest = self._ahead[0]
        self._exchange(lambda connection, limit: wire.send_message(connection, message), timeout)

    def receive(self, *, timeout: float | None = None) -> dict[str, Any]:
        """The next reply, which must arrive in full within ``timeout`` seconds (default ``limits.call_timeout_s``).

        While replies to calls sent ahead are awaited, the ``timeout`` counts
        from the start of the call the child is running, as it reports it.
        Raises :class:`ChildTimeout` (the child is killed) when it does not,
        and :class:`ChildDied` when the child ended or sent a malformed or
        oversized reply (it is killed then too).
        """
        def step(connection: socket.socket, limit: float) -> dict[str, Any]:
            if self._ahead[1]:
                self._await_reply(connection, limit)
            return wire.receive_message(wire.Deadline(connection, time.monotonic() + limit),
                                        self._sandbox.limits.max_reply_bytes)

        return self._exchange(step, timeout)

    def _await_reply(self, connection: socket.socket, limit: float) -> None:
        """Wait until a reply starts to arrive; raise ``TimeoutError`` once one call has run ``limit`` s.

        The child holds its replies to calls sent ahead until the last is
        done: it is not woken once per call, and neither is this process.
        Every ``limit / PROGRESS_CHECKS`` s it reads how many calls the child
        has started; each new one (up to those sent) gets ``limit`` s from
        then, so that no call runs more than ``limit`` s and a bit. Only
        progress beyond the furthest seen counts, so that a child writing
        numbers back and forth cannot stretch its replies' wait beyond one
        ``limit`` per call sent, however many replies the grader waits for.
        """
        poller = select.poll()
        poller.register(connection, select.POLLIN | select.POLLERR | select.POLLHUP)
        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the running call ran out of time")
            if poller.poll(min(remaining, limit / PROGRESS_CHECKS) * 1000):
                return
            now = self._progress_now()
            if now is not None and self._furthest < now <= sum(self._ahead):
                self._furthest, deadline = now, time.monotonic() + limit

    def _progress_now(self) -> int | None:
        """How many calls sent ahead the child says it has started, in all; None without a page."""
        if self._progress is None:
            return None
        try:
            data = os.pread(self._progress, 8, 0)
        except OSError:
            return None
        return int.from_bytes(data, "little") if len(data) == 8 else None

    def _running(self) -> int | None:
        """Which of the calls last sent ahead (1 for the first) the child had started last, if it said."""
        base, count = self._ahead
        now = self._progress_now()
        if not count or now is None or not base < now <= base + count:
            return None
        return now - base

    def _exchange(self, step: Callable[[socket.socket, float], T], timeout: float | None) -> T:
        """Run one send or receive, ``step(socket, seconds)``; every way it can fail ends the child and says how."""
        if not self.alive or self._socket is None:
            raise ChildDied(self._dead or "is closed", exit=self.exit)
        limit = self._sandbox.limits.call_timeout_s if timeout is None else timeout
        self._socket.settimeout(limit)
        try:
            return step(self._socket, limit)
        except TimeoutError:
            running = self._running()
            self._finish(wait=0.0)
            raise ChildTimeout(self._mark_dead(f"timed out after {limit:g} s"), exit=self.exit,
                               running=running) from None
        except wire.WireError as exc:
            running = self._running()
            self._finish(wait=0.0)
            raise ChildDied(self._mark_dead(f"sent a malformed reply ({exc})"), exit=self.exit,
                            running=running) from None
        except (EOFError, OSError):
            running = self._running()
            self._finish(wait=EXIT_GRACE_S)
            raise ChildDied(self._mark_dead(self._describe_end()), exit=self.exit, running=running) from None

    def _send_files(self, files: Mapping[str, bytes]) -> None:
        """The submission's files, the first message the child reads (see ``zygote``)."""
        if self._socket is None:
            return
        message = {"files": {name: base64.b64encode(data).decode("ascii") for name, data in files.items()}}
        try:
            self._socket.settimeout(CONTROL_TIMEOUT_S)
            framed = wire.frame(message)
            sent = socket.send_fds(self._socket, [framed], [self._progress]) if self._progress is not None else 0
            self._socket.sendall(framed[sent:])
        except OSError:  # it died while confining itself: the first request says how
            pass

    def close(self) -> None:
        """Kill and reap the child and everything it started; idempotent."""
        if self._socket is not None:
            self._finish(wait=0.0)
        if self._dead is None:
            self._dead = "is closed"
        self._close_progress()

    def _finish(self, *, wait: float) -> None:
        """Close our end, then have the zygote reap the child (killing it after ``wait`` s) and sweep."""
        if self._socket is None:
            return
        self._socket.close()
        self._socket = None
        self._sandbox._children.pop(self.id, None)
        if self._dead is not None:  # its zygote is gone: nothing left to reap
            return
        try:
            reply = self._sandbox._control_request({"op": "wait", "id": self.id, "timeout": wait},
                                                   timeout=wait + CONTROL_TIMEOUT_S)
        except SandboxError as exc:
            self._dead = f"lost its zygote ({exc})"
            return
        status = reply.get("exit") if reply.get("ok") else None
        if isinstance(status, dict):
            self.exit = _exit_status(status)

    def _describe_end(self) -> str:
        status = self.exit
        if status is None:
            return self._dead or "ended"
        if status.code == SETUP_FAILED_EXIT:
            return f"could not be sandboxed: {status.stderr.strip()[-500:]}"
        if status.killed:
            return "closed its connection and was killed"
        return status.describe()

    def _mark_dead(self, reason: str) -> str:
        if self._dead is None:
            self._dead = reason
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._close_progress()
        return self._dead

    def _close_progress(self) -> None:
        if self._progress is not None:
            os.close(self._progress)
            self._progress = None

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _progress_page() -> int | None:
    """A child's progress page: an 8-byte memfd, sealed so that the child can neither grow nor shrink it.

    Sealed, a read of it can never fault (as a mapping truncated by the child
    would); where memfds or seals are missing, children send each reply at once.
    """
    try:
        fd = os.memfd_create("progress", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    except (AttributeError, OSError):
        return None
    try:
        os.ftruncate(fd, 8)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
    except (AttributeError, OSError):
        os.close(fd)
        return None
    return fd


def _exit_status(data: dict[str, Any]) -> ExitStatus:
    def number(key: str) -> int | None:
        value = data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    name = data.get("signal_name")
    return ExitStatus(code=number("code"), signal=number("signal"),
                      signal_name=name if isinstance(name, str) else None,
                      killed=bool(data.get("killed")), stderr=str(data.get("stderr", ""))[-2048:])


def _choose_bubblewrap(requested: bool | None, *, as_root: bool) -> bool:
    if requested is False:
        return False
    problem = bwrap.probe(as_root=as_root)
    if problem is None:
        return True
    if requested:
        raise SandboxUnavailable(problem)
    return False


def _kill_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL the zygote's process group (bwrap takes its PID namespace down with it)."""
    if process is not None and process.poll() is None:
        killpg_quietly(process.pid)
