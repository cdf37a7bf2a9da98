"""Grade a whole class: discovery, skipping what is up to date, the pool loop, and the outputs.

``grader batch DIR -o OUT`` grades every entry directly under ``DIR`` (a
folder, a ``.py`` or ``.ipynb`` file; names starting with ``.`` are not
submissions) into ``OUT/<name>.json``, then writes the gradebook
``OUT/grades.csv`` and the class summary ``OUT/summary.html``.

- An entry that is not a submission (``notes.txt``) gets a report like any
  other, with status ``"error"`` and the reason ("not a submission"), and a
  gradebook row; it is never silently skipped. Two entries with the same
  name (``alice.py`` and ``alice/``) get one ``"error"`` report that names
  both, and make the batch exit 1.
- Only this process writes files, each atomically, as soon as its report
  arrives: an interrupted batch keeps every report already written, and the
  gradebook is rewritten (entries without a report yet marked ``missing``).
- A report is up to date, and its entry is not graded again (unless
  ``force``), when its ``content_hash`` matches the entry's files (for an
  entry that cannot be loaded: the same loading error) and its
  ``config_hash`` matches this run: a digest of the grader's own code, the
  rubric, the options and the versions of Python, NumPy and torch. A report
  that records a grader failure is never up to date.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.util
import json
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from . import class_summary, gradebook
from .progress import BatchProgress, progress_for
from ..grading import GradingOptions, environment
from ..report import SCHEMA_VERSION, write_atomically
from ..submission import SubmissionError, load_submission, submission_name
from .pool import Job, Outcome, WorkerPool, serve

GRADEBOOK = "grades.csv"
SUMMARY_PAGE = "summary.html"
GRADER_DIR = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- discovery


@dataclass(frozen=True)
class Entry:
    """One submission: the entry under DIR (several when their names collide)."""

    name: str
    paths: tuple[Path, ...]

    @property
    def path(self) -> Path:
        return self.paths[0]

    @property
    def conflict(self) -> str | None:
        """Why the entry cannot be graded under its name, when several entries share it."""
        if len(self.paths) == 1:
            return None
        listed = ", ".join(path.name for path in self.paths)
        return f"{listed} are all named {self.name!r}; rename all but one"


def discover(directory: Path, *, exclude: Iterable[Path] = ()) -> list[Entry]:
    """Every entry directly under ``directory``, by name; hidden names and ``exclude`` left out."""
    excluded = {Path(path).resolve() for path in exclude}
    directory = Path(directory).resolve()
    by_name: dict[str, list[Path]] = {}
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        if path.name.startswith(".") or path in excluded:  # ``path`` is not resolved: a symlink stays an entry
            continue
        by_name.setdefault(submission_name(path), []).append(path)
    return [Entry(name, tuple(paths)) for name, paths in sorted(by_name.items())]


def default_output(directory: Path) -> Path:
    """``DIR-reports``, beside ``DIR``."""
    directory = Path(directory).resolve()
    return directory.with_name(f"{directory.name}-reports")


def report_path(output: Path, name: str) -> Path:
    return Path(output) / f"{name}.json"


# ---------------------------------------------------------------- up to date?


def config_fingerprint(options: GradingOptions) -> str:
    """A digest of everything besides the submission that a report depends on.

    The grader's own files (code, rubric, schema) and the reference solution,
    the rubric in use, the options that change results, the schema version
    and the versions of Python, NumPy and torch.
    """
    digest = hashlib.sha256()
    settings = {
        "schema_version": SCHEMA_VERSION,
        "environment": environment(),
        "rubric": dataclasses.asdict(options.rubric),
        "visible_only": options.visible_only,
        "seed": options.seed,
        "cases": options.cases.fingerprint,  # a new course secret regrades everything
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for root in _code_roots():
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".toml", ".json") and "__pycache__" not in path.parts:
                name = f"{path.relative_to(root.parent)}\0".encode()
                digest.update(name + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _code_roots() -> list[Path]:
    roots = [GRADER_DIR]
    spec = importlib.util.find_spec("reference")  # finds the package without importing it
    if spec is not None:
        roots += [Path(location) for location in spec.submodule_search_locations or []]
    return roots


def entry_identity(path: Path) -> str:
    """What a report must record for ``path`` to be up to date: its content hash or its loading error."""
    try:
        return "content:" + load_submission(path).content_hash
    except SubmissionError as exc:
        return "unloadable:" + str(exc)


def report_identity(report: Mapping[str, Any]) -> str | None:
    """The identity a report was made from; None when it must be redone (a grader failure)."""
    if report.get("internal_errors"):
        return None
    if report.get("content_hash"):
        return "content:" + str(report["content_hash"])
    if report.get("status") == "error" and report.get("error"):
        return "unloadable:" + str(report["error"])
    return None


def is_up_to_date(report: Mapping[str, Any] | None, *, name: str, identity: str, config: str,
                  require_strong: bool = False) -> bool:
    """Whether ``report`` still stands for the entry ``name`` whose identity is ``identity``."""
    if report is None or report.get("schema_version") != SCHEMA_VERSION or report.get("submission") != name:
        return False
    if report.get("config_hash") != config or report_identity(report) != identity:
        return False
    ran_code = bool(report.get("content_hash"))
    return not (require_strong and ran_code and not (report.get("sandbox") or {}).get("strong"))


def read_report(path: Path) -> dict[str, Any] | None:
    """A report file's data, or None when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- reports made here


def failure_report(name: str, reason: str, *, template: Mapping[str, Any] | None, config: str,
                   grader_failure: bool, details: str | None = None) -> dict[str, Any]:
    """A report for an entry that was not graded: status ``error``, every check ``error``, 0 points.

    ``template`` is any report of this run's configuration (it supplies the
    list of checks); without one the report lists no tasks. A
    ``grader_failure`` (a worker died, raised or overran) carries
    ``internal_errors`` for staff, so that the next run grades it again.
    """
    first_line = reason.splitlines()[0]
    tasks = []
    for task in (template or {}).get("tasks", []):
        checks = [{**check, "status": "error", "score": 0.0, "message": f"not graded: {first_line}", "hint": None}
                  for check in task["checks"]]
        tasks.append({**copy.deepcopy(task), "score": 0.0, "checks": checks})
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "submission": name,
        "status": "error",
        "score": 0.0,
        "max_score": round(sum(float(t["max_score"]) for t in tasks), 4),
        "tasks": tasks,
        "environment": environment(),
        "duration_s": 0.0,
        "sandbox": {},
        "content_hash": None,
        "error": reason if not grader_failure else f"grader failure: {first_line}",
        "config_hash": config,
    }
    if grader_failure:
        data["internal_errors"] = [{"check": "batch", "traceback": details or reason}]
    return data


# ---------------------------------------------------------------- the batch


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, under :func:`run_batch`) stopped a batch; ``result`` is what it did."""

    def __init__(self, result: BatchResult) -> None:
        super().__init__("the batch was interrupted")
        self.result = result


@dataclass
class BatchResult:
    """What a batch did; ``reports`` holds every entry's report (None: none yet)."""

    directory: Path
    output: Path
    entries: list[Entry]
    reports: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    graded: list[str] = field(default_factory=list)  # names graded by this run
    up_to_date: list[str] = field(default_factory=list)  # names whose report was kept
    interrupted: bool = False
    layers: dict[str, Any] = field(default_factory=dict)  # the sandbox's layers, when workers ran

    @property
    def failures(self) -> list[str]:
        """Entries with no report, a grader failure, or a name shared with another entry."""
        conflicts = {entry.name for entry in self.entries if entry.conflict}
        return [name for name, report in self.reports.items()
                if report is None or report.get("internal_errors") or name in conflicts]

    @property
    def complete(self) -> bool:
        """Every entry got a report of its own, and the grader did not fail on any."""
        return not self.interrupted and not self.failures

    @property
    def gradebook_path(self) -> Path:
        return self.output / GRADEBOOK

    @property
    def summary_path(self) -> Path:
        return self.output / SUMMARY_PAGE


def grade_batch(
    *,
    directory: Path,
    output: Path,
    options: GradingOptions,
    jobs: int = 2,
    force: bool = False,
    require_strong: bool = False,
    progress: BatchProgress | None = None,
    worker: Callable[..., None] = serve,
) -> BatchResult:
    """Grade every entry of ``directory`` into ``output``; see the module docstring.

    ``directory`` and ``output`` are added to ``options.hide``: no submission
    sees the others or the reports. ``worker`` is what each pool process
    runs (tests substitute one that crashes). A KeyboardInterrupt stops the
    workers, writes the gradebook of what is done, and raises
    :class:`BatchInterrupted`.
    """
    directory, output = Path(directory).resolve(), Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    options = dataclasses.replace(options, hide=(*options.hide, directory, output))
    result = BatchResult(directory=directory, output=output, entries=discover(directory, exclude=[output]))
    config = config_fingerprint(options)
    existing = {entry.name: read_report(report_path(output, entry.name)) for entry in result.entries}
    template = next((r for r in existing.values() if r and r.get("status") == "graded"
                     and r.get("config_hash") == config), None)
    todo: list[Entry] = []
    for entry in result.entries:
        report = existing[entry.name]
        if (not force and entry.conflict is None and is_up_to_date(
                report, name=entry.name, identity=entry_identity(entry.path), config=config,
                require_strong=require_strong)):
            result.reports[entry.name] = report
            result.up_to_date.append(entry.name)
        else:
            result.reports[entry.name] = None
            todo.append(entry)
    conflicts = [entry for entry in todo if entry.conflict]
    jobs_to_run = [Job(index, entry.name, entry.path) for index, entry in enumerate(todo) if not entry.conflict]
    workers = max(1, min(jobs, len(jobs_to_run)))
    if progress is not None:
        progress.start(total=len(result.entries), up_to_date=len(result.up_to_date), to_grade=len(todo),
                       workers=workers if jobs_to_run else 0)

    def record(name: str, report: dict[str, Any], *, grader_failure: bool) -> None:
        write_atomically(report_path(output, name), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        result.reports[name] = report
        result.graded.append(name)
        if progress is not None:
            progress.finished(name, report, grader_failure=grader_failure)

    try:
        if jobs_to_run:
            timeout = 60.0 + 20.0 * options.limits.call_timeout_s
            with WorkerPool(options, size=workers, require_strong=require_strong, submission_timeout_s=timeout,
                            worker=worker) as pool:
                for outcome in pool.run(jobs_to_run):
                    template = template or pool.template
                    result.layers = pool.layers
                    record(outcome.job.name, _report_of(outcome, template=template, config=config),
                           grader_failure=outcome.failure is not None)
        for entry in conflicts:
            assert entry.conflict is not None
            record(entry.name, failure_report(entry.name, entry.conflict, template=template, config=config,
                                              grader_failure=False), grader_failure=False)
    except KeyboardInterrupt:
        result.interrupted = True
        raise BatchInterrupted(result) from None
    finally:
        if progress is not None:
            progress.stop()
        write_outputs(result)
    return result


def _report_of(outcome: Outcome, *, template: Mapping[str, Any] | None, config: str) -> dict[str, Any]:
    if outcome.report is not None:
        return {**outcome.report, "config_hash": config}
    failure = outcome.failure or "unknown failure"
    return failure_report(outcome.job.name, failure, template=template, config=config, grader_failure=True,
                          details=failure)


def write_outputs(result: BatchResult) -> None:
    """The gradebook and the class summary page, from every entry's report (atomically)."""
    rows = [gradebook.row_from_report(name, report) for name, report in result.reports.items()]
    gradebook.write_gradebook(result.gradebook_path, rows)
    summary = class_summary.summarise(result.reports)
    class_summary.write_html(result.summary_path, summary, title=f"Class summary: {result.directory.name}")


# ---------------------------------------------------------------- the command's front end


def run_batch(
    *,
    directory: Path,
    output: Path,
    options: GradingOptions,
    jobs: int = 2,
    force: bool = False,
    require_strong: bool = False,
    console: Console | None = None,
) -> BatchResult:
    """:func:`grade_batch` with a progress display, then the class summary and where the files are.

    SIGTERM is handled like Ctrl-C while it runs (workers stopped, reports kept).
    """
    console = console or Console(highlight=False, soft_wrap=True)
    with _terminate_as_interrupt():
        try:
            result = grade_batch(directory=directory, output=output, options=options, jobs=jobs, force=force,
                                 require_strong=require_strong, progress=progress_for(console))
        except BatchInterrupted as stopped:
            done = stopped.result
            console.print(f"interrupted: {len(done.graded)} report(s) written by this run and "
                          f"{len(done.up_to_date)} up to date are kept in {done.output}; "
                          "run the same command again to grade the rest")
            raise
    class_summary.print_class_summary(class_summary.summarise(result.reports), console=console)
    console.print(f"graded {len(result.graded)}, up to date {len(result.up_to_date)}; reports in {result.output}, "
                  f"gradebook {result.gradebook_path}, class summary {result.summary_path}")
    for name in result.failures:
        report = result.reports.get(name)
        why = (report or {}).get("error", "no report")
        console.print(f"[bold red]not graded[/]: {name}: {why}")
    if result.layers and not result.layers.get("strong"):
        console.print("[dim]note: the strong sandbox layer was not in force for this run (see SECURITY.md)[/]")
    return result


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only), so that ``kill`` cleans up like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
