"""Batch mode's pool of warm grading workers.

Each worker is a process started with the ``spawn`` method (never a fork of
the batch's main process). It opens one :class:`~grader.sandbox.Sandbox` —
one warm zygote with NumPy and torch imported — and grades the submissions
it is sent one after another, each in a fresh forked child of that zygote,
with every isolation layer of ``grader grade``. A worker only returns report
data (a JSON-ready dict) over its pipe; it never writes a file. Writing is
the main process's job.

:meth:`WorkerPool.run` yields one :class:`Outcome` per job. A worker that
dies, raises out of the grading, or overruns the per-submission budget costs
only its current submission (an outcome with ``failure`` set); it is
replaced, and the jobs it had queued go to the others. Closing the pool (or
leaving ``run`` early, e.g. on Ctrl-C) terminates the workers, whose sandbox
is closed on SIGTERM and dies with them in any case (bubblewrap's
``--die-with-parent``, the zygote's parent-death signal).

Protocol (pickles over a ``multiprocessing`` pipe; both ends are the grader's):
worker → main ``("ready", layers)``, ``("started", job_id)``,
``("report", job_id, dict)``, ``("failed", job_id, traceback)``,
``("fatal", kind, message)``; main → worker ``(job_id, path)`` to grade,
``None`` to stop. A worker grades the jobs waiting for it in chunks of up to
``CHUNK`` (one pass of the check suite), says when each one starts, and
answers them in order.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..inside.kernel import PR_SET_PDEATHSIG, SINGLE_THREADED, prctl
from ..sandbox import Sandbox, SandboxError, SandboxUnavailable, modes

if TYPE_CHECKING:
    from ..grading import GradingOptions
    from ..report import Report

CHUNK = 10  # submissions a worker grades in one pass of the check suite (its start-up is paid once)
PREFETCH = CHUNK  # jobs queued per worker, so that a chunk is ready when the last one ends
MAX_STARTUP_FAILURES = 3  # workers that die before they are ready, before the batch gives up
MAX_DEATHS_IN_A_ROW = 5  # submissions in a row that lose their worker, before the batch gives up
STOP_GRACE_S = 10.0  # how long stopping workers may take to close their sandboxes
TICK_S = 0.5  # how often the main loop checks the per-submission budget


@dataclass(frozen=True)
class Job:
    """One submission to grade: ``id`` is unique within a run."""

    id: int
    name: str
    path: Path


@dataclass(frozen=True)
class Outcome:
    """What became of a job: the worker's ``report`` dict, or why there is none (``failure``)."""

    job: Job
    report: dict[str, Any] | None = None
    failure: str | None = None  # a grader failure (worker died, raised, overran), for staff


# ---------------------------------------------------------------- the worker process


def serve(connection: Connection, options_blob: bytes, require_strong: bool) -> None:
    """A worker process's main function: open a sandbox, then grade what arrives until told to stop.

    ``options_blob`` is the pickled :class:`~grader.grading.GradingOptions`,
    unpickled only after thread limits are set (unpickling imports NumPy).
    SIGTERM closes the sandbox (from a helper thread, so that a grading in
    progress cannot hold it up) and exits.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's business
    signal.signal(signal.SIGTERM, _WORKER.stop)
    _die_with_parent()
    _quiet_stdout()
    os.environ.update(SINGLE_THREADED)  # two workers share two cores: no BLAS thread pools
    from grader import grading  # the module, not the function: tests patch it

    options: GradingOptions = pickle.loads(options_blob)
    try:
        try:
            _WORKER.sandbox = options.open_sandbox()
            if require_strong:
                modes.require_strong(_WORKER.sandbox.layers)
        except Exception as exc:
            kind = "unavailable" if isinstance(exc, SandboxUnavailable) else "error"
            connection.send(("fatal", kind, f"{type(exc).__name__}: {exc}"))
            return
        connection.send(("ready", _WORKER.sandbox.layers))
        while not _WORKER.stopping:
            chunk, stop = _next_chunk(connection)
            if chunk:
                jobs, paths = zip(*chunk)
                answered: list[int] = []

                def report(index: int, report: Report) -> None:  # sent as soon as it is ready
                    connection.send(("report", jobs[index], report.to_json()))
                    answered.append(index)

                try:
                    grading.grade_many([Path(p) for p in paths], options, sandbox=_WORKER.sandbox,
                                       on_start=lambda i: connection.send(("started", jobs[i])), on_report=report)
                except Exception:
                    if _WORKER.stopping:
                        break
                    for index, job_id in enumerate(jobs):
                        if index not in answered:
                            connection.send(("failed", job_id, traceback.format_exc()))
                    _WORKER.sandbox.close()  # whatever broke, the next submission gets a fresh zygote
                    _WORKER.sandbox = options.open_sandbox()
                    continue
            if stop:
                return
    except (BrokenPipeError, ConnectionResetError):
        return
    finally:
        if not _WORKER.stopping and _WORKER.sandbox is not None:
            _WORKER.sandbox.close()
    _WORKER.wait_for_stop()


def _next_chunk(connection: Connection) -> tuple[list[tuple[int, str]], bool]:
    """The jobs waiting on ``connection`` (at least one, at most CHUNK), and whether to stop after them.

    Grading them together shares one start-up of the check suite; each still
    runs in its own sandboxed process.
    """
    chunk: list[tuple[int, str]] = []
    while len(chunk) < CHUNK and (not chunk or connection.poll()):
        try:
            message = connection.recv()
        except EOFError:  # the main process is gone
            return chunk, True
        if message is None:
            return chunk, True
        chunk.append(message)
    return chunk, False


class _WorkerState:
    """The worker process's sandbox, and how SIGTERM closes it."""

    def __init__(self) -> None:
        self.sandbox: Sandbox | None = None
        self.stopping = False
        self._closer: threading.Thread | None = None

    def stop(self, signum: int, frame: object) -> None:
        """The SIGTERM handler: close the sandbox in a thread (the main thread may be mid-call), then exit."""
        if self.stopping:
            return
        self.stopping = True
        self._closer = threading.Thread(target=self._close_and_exit, args=(128 + signum,), daemon=True)
        self._closer.start()

    def wait_for_stop(self) -> None:
        if self._closer is not None:
            self._closer.join()

    def _close_and_exit(self, code: int) -> None:
        deadline = threading.Timer(STOP_GRACE_S / 2, os._exit, args=(code,))
        deadline.daemon = True
        deadline.start()
        try:
            if self.sandbox is not None:
                self.sandbox.close()  # the zygote kills and sweeps every child
        finally:
            os._exit(code)


_WORKER = _WorkerState()


def _quiet_stdout() -> None:
    """Send the worker's stdout to /dev/null: the terminal (and its progress bar) belong to the main process."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _die_with_parent() -> None:
    """Ask Linux for SIGTERM when the main process dies (a killed batch leaves no workers)."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the request
        raise SystemExit(0)


# ---------------------------------------------------------------- the main process's side


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    ready: bool = False
    queued: deque[Job] = field(default_factory=deque)  # sent, not yet answered, in order
    started: float = field(default_factory=time.monotonic)  # when the job in progress began
    in_progress: int | None = None  # the job the worker said it started last

    def describe_end(self) -> str:
        code = self.process.exitcode
        if code is None:
            return "stopped answering"
        if code < 0:
            try:
                return f"was killed by signal {-code} ({signal.Signals(-code).name})"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"


class WorkerPool:
    """Up to ``size`` warm workers grading :class:`Job` s; a context manager.

    ``submission_timeout_s`` bounds one submission's grading (the sandbox
    already bounds each call into student code; this catches a grader that
    hangs). ``worker`` is the function each process runs (tests substitute
    one that crashes).
    """

    def __init__(self, options: GradingOptions, *, size: int, require_strong: bool = False,
                 submission_timeout_s: float = 600.0, worker: Callable[..., None] = serve) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self.size = size
        self.submission_timeout_s = submission_timeout_s
        self.layers: dict[str, Any] = {}
        self._blob = pickle.dumps(options)
        self._require_strong = require_strong
        self._worker = worker
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._startup_failures = 0
        self._deaths_in_a_row = 0

    def run(self, jobs: Iterable[Job]) -> Iterator[Outcome]:
        """Grade ``jobs``, yielding each outcome as it arrives (not in job order)."""
        pending = deque(jobs)
        while pending or any(w.queued for w in self._workers):
            while len(self._workers) < min(self.size, len(pending) + self._busy()):
                self._start_worker()
            self._assign(pending)
            objects: list[Any] = [w.connection for w in self._workers] + [w.process.sentinel for w in self._workers]
            wait(objects, timeout=TICK_S)
            for worker in list(self._workers):
                yield from self._drain(worker, pending)
            yield from self._enforce_budget(pending)

    def close(self, *, graceful: bool = True) -> None:
        """Stop every worker: ask politely (``graceful``), then SIGTERM, then SIGKILL."""
        workers, self._workers = self._workers, []
        if graceful:
            for worker in workers:
                try:
                    worker.connection.send(None)
                except OSError:
                    pass
        else:
            for worker in workers:
                worker.process.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(2.0)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.connection.close()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        self.close(graceful=exc_type is None)

    # ------------------------------------------------------------ internals

    def _busy(self) -> int:
        return sum(bool(w.queued) for w in self._workers)

    def _start_worker(self) -> None:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(target=self._worker, args=(theirs, self._blob, self._require_strong),
                                        name="grader-worker", daemon=True)
        process.start()
        theirs.close()
        self._workers.append(_Worker(process=process, connection=ours))

    def _assign(self, pending: deque[Job]) -> None:
        """Deal the pending jobs out one at a time, round-robin, so that every worker gets its share."""
        open_workers = [w for w in self._workers if w.ready]
        while pending and open_workers:
            for worker in list(open_workers):
                if not pending:
                    return
                if len(worker.queued) >= PREFETCH:
                    open_workers.remove(worker)
                    continue
                job = pending.popleft()
                try:
                    worker.connection.send((job.id, str(job.path)))
                except OSError:  # it died; _drain notices and requeues
                    pending.appendleft(job)
                    open_workers.remove(worker)
                    continue
                if not worker.queued:
                    worker.started = time.monotonic()
                worker.queued.append(job)

    def _drain(self, worker: _Worker, pending: deque[Job]) -> Iterator[Outcome]:
        """Handle everything ``worker`` sent, then its death if it died."""
        dead = False
        try:
            while worker.connection.poll():
                outcome = self._handle(worker, worker.connection.recv())
                if outcome is not None:
                    yield outcome
        except (EOFError, OSError):
            dead = True
        if dead or not worker.process.is_alive():
            yield from self._bury(worker, pending)

    def _handle(self, worker: _Worker, message: tuple[Any, ...]) -> Outcome | None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            _, self.layers = message
            return None
        if kind == "fatal":
            _, problem, text = message
            error = SandboxUnavailable if problem == "unavailable" else SandboxError
            raise error(f"a grading worker could not start: {text}")
        if kind == "started":  # each submission's budget starts when its grading does
            worker.started = time.monotonic()
            worker.in_progress = message[1]
            return None
        _, job_id, payload = message
        job = worker.queued.popleft()
        if job.id != job_id:  # cannot happen: a worker answers in order
            raise SandboxError(f"a grading worker answered job {job_id} while {job.id} was due")
        worker.started = time.monotonic()
        self._deaths_in_a_row = 0
        if kind == "report":
            return Outcome(job, report=payload)
        return Outcome(job, failure=f"the grading worker raised an exception:\n{payload}")

    def _bury(self, worker: _Worker, pending: deque[Job], how: str | None = None) -> Iterator[Outcome]:
        """Forget a dead worker: its current job failed, its queued ones go back to the front."""
        worker.process.join(1.0)
        how = how or worker.describe_end()
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.connection.close()
        self._workers.remove(worker)
        if not worker.ready:
            self._startup_failures += 1
            if self._startup_failures >= MAX_STARTUP_FAILURES:
                raise SandboxError(f"grading workers keep dying while they start (the last {how})")
        if worker.queued:  # the job it was on failed; the others (reported or not) are graded again
            current = next((job for job in worker.queued if job.id == worker.in_progress), worker.queued[0])
            rest = [job for job in worker.queued if job is not current]
            pending.extendleft(reversed(rest))
            self._deaths_in_a_row += 1
            yield Outcome(current, failure=f"the grading worker {how} while grading this submission")
            if self._deaths_in_a_row >= MAX_DEATHS_IN_A_ROW:
                raise SandboxError(f"grading workers died on {self._deaths_in_a_row} submissions in a row "
                                   f"(the last {how})")

    def _enforce_budget(self, pending: deque[Job]) -> Iterator[Outcome]:
        now = time.monotonic()
        for worker in list(self._workers):
            if worker.queued and now - worker.started > self.submission_timeout_s:
                worker.process.kill()  # its sandbox dies with it
                yield from self._bury(worker, pending, f"did not finish within {self.submission_timeout_s:g} s")
