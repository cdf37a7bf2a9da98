"""Stand-in for the grader's sandbox on a student's machine: one child process, a deadline per call.

Student code runs in a child process that serves the grader's own harness
(``inside/harness.py``), so that an infinite loop, a crash or ``exit()`` in
it costs a message, never the student's terminal or notebook kernel. There is
no isolation beyond that: it is the student's own code on their own machine.

- A folder, ``.py`` or notebook file: a fresh Python process (``subprocess``)
  imports NumPy and torch first, then connects to this process over a
  loopback socket and serves requests from a private temporary folder.
- The running notebook (Colab): a ``fork`` of the kernel serves requests,
  calling the functions the kernel defines. POSIX only.

A call that does not answer within its deadline gets the child killed
(SIGKILL) and :class:`ChildTimeout` raised; a child that dies raises
:class:`ChildDied` saying how ("exited with code 3", "killed by signal 11
(SIGSEGV)"), with the grader's own wording (``errors.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from ..inside import wire
from .errors import ChildDied, ChildTimeout, ExitStatus

__all__ = ["Child", "ChildDied", "ChildTimeout", "ExitStatus", "Sandbox"]

T = TypeVar("T")

MAX_REPLY_BYTES = 64 << 20
START_TIMEOUT_S = 300.0  # a cold start imports torch: slow laptops need a while
EXIT_GRACE_S = 1.0
KIT_ROOT = str(Path(__file__).resolve().parents[3])  # the folder holding nn_selfcheck/

BOOT = """
import os, socket, sys
kit_root, workdir, port, parent = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if sys.platform.startswith("linux"):  # die with the self-check, even when it is killed outright
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != parent:
        sys.exit(0)
added = kit_root not in sys.path
if added:
    sys.path.insert(0, kit_root)
from nn_selfcheck._grader.inside import harness
from nn_selfcheck._grader.sandbox import warm_up
if added:
    sys.path.remove(kit_root)  # the student's modules, not the kit's template, must be found
warm_up()  # torch's first optimiser step is slow: pay it before any deadline runs
harness.serve(socket.create_connection(("127.0.0.1", port)), workdir)
"""


class Sandbox:
    """Spawns one child per submission. ``kernel=True``: fork this process (the running notebook)."""

    layers: dict[str, Any] = {}

    def __init__(self, *, kernel: bool = False) -> None:
        if kernel and not hasattr(os, "fork"):
            raise RuntimeError("checking the running notebook needs fork (Linux, macOS, Colab); "
                               "pass your notebook's file name instead: check('my_homework.ipynb')")
        self.kernel = kernel
        if kernel:
            _warm_kernel()

    def spawn(self, files: dict[str, bytes]) -> Child:
        workdir = tempfile.mkdtemp(prefix="nn-selfcheck-")
        for name, data in files.items():
            Path(workdir, name).write_bytes(data)
        try:
            return _forked(workdir) if self.kernel else _started(workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def close(self) -> None:
        pass


def _started(workdir: str) -> Child:
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a child that writes a lot never blocks on it
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        port = server.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-c", BOOT, KIT_ROOT, workdir, str(port), str(os.getpid())], cwd=workdir,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
            start_new_session=os.name == "posix",  # Ctrl-C in the terminal reaches the self-check, not the child
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                try:
                    connection, _ = server.accept()
                    break
                except TimeoutError:
                    if process.poll() is not None:
                        errors.seek(0)
                        tail = errors.read().decode("utf-8", "replace").strip().splitlines()[-1:]
                        raise ChildDied(f"could not start ({tail[0] if tail else _status(process.returncode).describe()})")
                    if time.monotonic() > deadline:
                        raise ChildDied(f"did not start within {START_TIMEOUT_S:g} s")
        except BaseException:
            process.kill()
            process.wait()
            errors.close()
            raise
    errors.close()
    return Child(connection, workdir, process=process)


_WARM: list[bool] = []


def _warm_kernel() -> None:
    """Once per kernel: import torch and pay its slow first optimiser step here, not in every fork's deadline."""
    if _WARM:
        return
    warm_up()
    _WARM.append(True)


def _forked(workdir: str) -> Child:
    ours, theirs = socket.socketpair()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: serve the kernel's own functions, never return into the kernel
        try:
            ours.close()
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            sys.stdout = sys.stderr = open(os.devnull, "w")
            torch = sys.modules.get("torch")
            if torch is not None:
                torch.set_num_threads(1)  # threads do not survive a fork: avoid their locks
            from ..inside import harness

            harness.serve(theirs, workdir)
        finally:
            os._exit(0)
    theirs.close()
    return Child(ours, workdir, pid=pid)


class Child:
    """One child serving one submission: :meth:`request`, then :meth:`close`."""

    def __init__(self, connection: socket.socket, workdir: str, *, process: subprocess.Popen | None = None,
                 pid: int | None = None) -> None:
        self._socket: socket.socket | None = connection
        self._workdir = workdir
        self._process = process
        self._pid = pid
        self._dead: str | None = None

    def request(self, message: dict[str, Any] | bytes, *, timeout: float) -> dict[str, Any]:
        """Send one harness request and return the reply, within ``timeout`` seconds in all."""
        self.send(message, timeout=timeout)
        return self.receive(timeout=timeout)

    def send(self, message: dict[str, Any] | bytes, *, timeout: float, calls: int = 0) -> None:
        """Send one harness request without waiting for its reply (or replies: see ``harness``).

        ``calls`` (how many a ``calls`` request holds) matters only to the
        grader's sandbox: this child has no progress page, so it sends each reply at once.
        """
        self._exchange(lambda connection: wire.send_message(connection, message), timeout)

    def receive(self, *, timeout: float) -> dict[str, Any]:
        """The next reply, which must arrive in full within ``timeout`` seconds."""
        return self._exchange(lambda connection: wire.receive_message(
            wire.Deadline(connection, time.monotonic() + timeout), MAX_REPLY_BYTES), timeout)

    def _exchange(self, step: Callable[[socket.socket], T], timeout: float) -> T:
        """Run one send or receive; every way it can fail ends the child and says how."""
        if self._socket is None or self._dead is not None:
            raise ChildDied(self._dead or "is closed")
        try:
            self._socket.settimeout(timeout)
            return step(self._socket)
        except TimeoutError:
            self._end(kill=True)
            raise ChildTimeout(self._mark(f"timed out after {timeout:g} s")) from None
        except wire.WireError as exc:
            self._end(kill=True)
            raise ChildDied(self._mark(f"sent a malformed reply ({exc})")) from None
        except (EOFError, OSError):
            status = self._end(kill=False)
            raise ChildDied(self._mark(status.describe() if status else "ended")) from None

    def close(self) -> None:
        self._end(kill=True)
        self._mark("is closed")

    def _mark(self, reason: str) -> str:
        if self._dead is None:
            self._dead = reason
        return reason

    def _end(self, *, kill: bool) -> ExitStatus | None:
        """Close the connection, reap the child (killing it first when asked, or after a grace period)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        status = None
        if self._process is not None:
            if kill:
                self._process.kill()
            try:
                code = self._process.wait(timeout=EXIT_GRACE_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                code = self._process.wait()
            status = _status(code)
            self._process = None
        elif self._pid is not None:
            status = _reap(self._pid, kill=kill)
            self._pid = None
        shutil.rmtree(self._workdir, ignore_errors=True)
        return status


def _status(code: int) -> ExitStatus:
    if code < 0:
        return ExitStatus(code=None, signal=-code, signal_name=_signal_name(-code))
    return ExitStatus(code=code, signal=None, signal_name=None)


def _signal_name(number: int) -> str | None:
    try:
        return signal.Signals(number).name
    except ValueError:
        return None


def _reap(pid: int, *, kill: bool) -> ExitStatus:
    if kill:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + EXIT_GRACE_S
    while True:
        done, raw = os.waitpid(pid, 0 if kill else os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            kill = True
            continue
        time.sleep(0.01)
    if os.WIFSIGNALED(raw):
        number = os.WTERMSIG(raw)
        return ExitStatus(code=None, signal=number, signal_name=_signal_name(number))
    return ExitStatus(code=os.WEXITSTATUS(raw), signal=None, signal_name=None)


def warm_up() -> None:
    """Run one tiny training step, so that torch's slow first optimiser step is paid before any deadline.

    Nothing here touches student code or answers; without torch (a NumPy-only
    machine) it does nothing and the NumPy checks still run.
    """
    try:
        import torch
        from torch import nn
    except ImportError:
        return
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False), nn.Softmax(dim=-1))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    x, target = torch.ones(3), torch.tensor([0.0, 1.0])
    for _ in range(2):
        loss = nn.CrossEntropyLoss()(net(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    nn.functional.dropout(torch.ones(4), 0.5)
