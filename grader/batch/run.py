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
- The class folder may be an LMS download (``layout``: Canvas, Moodle,
  Gradescope, or ``auto``): :mod:`.layouts` groups each student's files
  into one submission staged under ``OUT/.staging/`` and records who it is
  (id, name, email, late) in the report's ``student``; an archive is
  unpacked safely (:mod:`.archives`) or refused with the reason.
- A report is up to date, and its entry is not graded again (unless
  ``force``), when its ``content_hash`` matches the entry's files (for an
  entry that cannot be loaded: the same loading error) and its
  ``config_hash`` matches this run: a digest of the grader's own code, the
  rubric, the options and the versions of Python, NumPy and torch. A report
  that records a grader failure is never up to date.
- A report whose only difference is the rubric's points (its ``checks_hash``
  matches, see :mod:`.rescore`) is rescored from its checks' outcomes
  without running any code; one made with other tolerances, limits, cases
  or grader code is *stale*, listed, and graded again.
"""

from __future__ import annotations

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
from rich.text import Text
from rich.markup import escape

from . import class_summary, copies, layouts, outputs
from .layouts import Student
from .outputs import OutputSettings
from .progress import BatchProgress, progress_for
from .report_page import write_report_page
from .rescore import StaleReport, checks_fingerprint, record_rubric, rescore_report
from ..grading import GradingOptions, environment
from ..checks import catalogue
from ..formatting import WEAK_SANDBOX_NOTE
from ..report import SCHEMA_VERSION, Report, write_atomically
from ..safe_text import safe_lines, safe_name, safe_text
from ..submission import SubmissionError, load_submission, submission_name
from .pool import Job, Outcome, WorkerPool, serve
from .shards import Shard, write_manifest

GRADEBOOK = "grades.csv"
SUMMARY_PAGE = "summary.html"
STAGING_DIR = ".staging"
GRADER_DIR = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- discovery


@dataclass(frozen=True)
class Entry:
    """One submission: the entry under DIR (several when their names collide)."""

    name: str
    paths: tuple[Path, ...]
    student: Student | None = None  # who, when an LMS layout says so
    refused: str | None = None  # why it cannot be graded (an archive refused)

    @property
    def path(self) -> Path:
        return self.paths[0]

    @property
    def conflict(self) -> str | None:
        """Why the entry cannot be graded under its name, when several entries share it."""
        if len(self.paths) == 1:
            return None
        listed = ", ".join(safe_name(path.name) for path in self.paths)
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


def failure_report(name: str, reason: str, *, options: GradingOptions, config: str,
                   grader_failure: bool, details: str | None = None) -> dict[str, Any]:
    """A report for an entry that was not graded: status ``error``, every check ``error``, 0 points.

    Built by :meth:`~grader.report.Report.without_results` over the run's
    check catalogue. A ``grader_failure`` (a worker died, raised or overran)
    carries ``internal_errors`` for staff, so that the next run grades it again.
    """
    first_line = safe_text((reason.splitlines() or [""])[0])  # the reason may quote student text: made safe
    report = Report.without_results(
        name, safe_text(reason, 2000) if not grader_failure else f"grader failure: {first_line}",
        catalogue(options.rubric, visible_only=options.visible_only), options.rubric.task_titles,
        environment=environment(), case_fingerprint=options.cases.fingerprint)
    data = {**report.to_json(), "config_hash": config}
    if grader_failure:
        data["internal_errors"] = [{"check": "batch", "traceback": safe_lines(details or reason)}]
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
    rescored: list[str] = field(default_factory=list)  # names rescored without running code (points changed)
    stale: list[str] = field(default_factory=list)  # names regraded because tolerances, cases or code changed
    layout: str = "plain"
    settings: OutputSettings = field(default_factory=OutputSettings)
    class_outputs: outputs.ClassOutputs | None = None
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
    shard: Shard | None = None,
    layout: str = "auto",
    settings: OutputSettings | None = None,
    rubric_text: str | None = None,
) -> BatchResult:
    """Grade every entry of ``directory`` into ``output``; see the module docstring.

    ``directory`` and ``output`` are added to ``options.hide``: no submission
    sees the others or the reports. ``worker`` is what each pool process
    runs (tests substitute one that crashes). A KeyboardInterrupt stops the
    workers, writes the gradebook of what is done, and raises
    :class:`BatchInterrupted`. With a ``shard``, only the entries in that
    slice are graded, and ``shard.json`` records it for ``grader merge``.
    """
    directory, output = Path(directory).resolve(), Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    options = dataclasses.replace(options, hide=(*options.hide, directory, output))
    found = discover(directory, exclude=[output])
    layout, everyone = layouts.arrange(found, directory=directory, layout=layout, staging=output / STAGING_DIR)
    entries = [entry for entry in everyone if shard is None or shard.holds(entry.name)]
    settings = dataclasses.replace(settings or OutputSettings(title=f"Class summary: {directory.name}"),
                                   layout=layout)
    result = BatchResult(directory=directory, output=output, entries=entries, layout=layout, settings=settings)
    config = config_fingerprint(options)
    checks = checks_fingerprint(options)
    existing = {entry.name: read_report(report_path(output, entry.name)) for entry in result.entries}
    todo: list[Entry] = []
    for entry in result.entries:
        report = existing[entry.name]
        same = entry.conflict is None and entry.refused is None and report is not None and is_up_to_date(
            {**report, "config_hash": config}, name=entry.name, identity=entry_identity(entry.path), config=config,
            require_strong=require_strong)
        if not force and same and report.get("config_hash") == config:
            result.reports[entry.name] = _with_student(report, entry, output)
            result.up_to_date.append(entry.name)
        elif not force and same and report.get("checks_hash") == checks:
            try:
                rescored = {**rescore_report(report, options.rubric), "config_hash": config}
            except StaleReport:
                rescored = None
            if rescored is not None:
                result.reports[entry.name] = _with_student(rescored, entry, output, always=True)
                result.rescored.append(entry.name)
                continue
            result.stale.append(entry.name)
            result.reports[entry.name] = None
            todo.append(entry)
        else:
            if same:
                result.stale.append(entry.name)
            result.reports[entry.name] = None
            todo.append(entry)
    conflicts = [entry for entry in todo if entry.conflict or entry.refused]
    jobs_to_run = [Job(index, entry.name, entry.path) for index, entry in enumerate(todo)
                   if not (entry.conflict or entry.refused)]
    students = {entry.name: entry.student for entry in result.entries}
    workers = max(1, min(jobs, len(jobs_to_run)))
    if progress is not None:
        progress.start(total=len(result.entries), up_to_date=len(result.up_to_date) + len(result.rescored),
                       to_grade=len(todo),
                       workers=workers if jobs_to_run else 0)

    def record(name: str, report: dict[str, Any], *, grader_failure: bool) -> None:
        report = {**report, "checks_hash": checks}
        if students.get(name) is not None:
            report["student"] = students[name].to_json()  # type: ignore[union-attr]
        write_atomically(report_path(output, name), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        write_report_page(output, name, report)  # now, while the workers grade: not after the last report
        result.reports[name] = report
        result.graded.append(name)
        if progress is not None:
            progress.finished(name, report, grader_failure=grader_failure)

    copies_found = None
    if todo or result.rescored or not (outputs.batch_dir(output) / outputs.COPIES_FILE).exists():
        # every entry of the class, even in a shard: copies across shards are copies too
        copies_found = copies.find_copies_meanwhile({entry.name: entry.path for entry in everyone
                                                     if not (entry.conflict or entry.refused)})
    try:
        if jobs_to_run:
            timeout = 60.0 + 20.0 * options.limits.call_timeout_s
            with WorkerPool(options, size=workers, require_strong=require_strong, submission_timeout_s=timeout,
                            worker=worker) as pool:
                for outcome in pool.run(jobs_to_run):
                    result.layers = pool.layers
                    record(outcome.job.name, _report_of(outcome, options=options, config=config),
                           grader_failure=outcome.failure is not None)
        for entry in conflicts:
            reason = entry.conflict or entry.refused
            assert reason is not None
            record(entry.name, failure_report(entry.name, reason, options=options, config=config,
                                              grader_failure=False), grader_failure=False)
        if copies_found is not None:
            outputs.save_copies(output, copies_found())
    except KeyboardInterrupt:
        result.interrupted = True
        raise BatchInterrupted(result) from None
    finally:
        if progress is not None:
            progress.stop()
        outputs.save_settings(output, result.settings)
        if rubric_text is not None:
            record_rubric(output, rubric_text)
        write_outputs(result)
        if shard is not None:
            write_manifest(output, shard, names=[entry.name for entry in everyone],
                           graded=[entry.name for entry in entries], config=config)
    return result


def _with_student(report: dict[str, Any], entry: Entry, output: Path, *, always: bool = False) -> dict[str, Any]:
    """``report`` with the entry's student record, rewritten on disk when that changed (or ``always``)."""
    wanted = entry.student.to_json() if entry.student is not None else report.get("student")
    if always or wanted != report.get("student"):
        report = {**report, "student": wanted} if wanted is not None else report
        write_atomically(report_path(output, entry.name), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


def _report_of(outcome: Outcome, *, options: GradingOptions, config: str) -> dict[str, Any]:
    if outcome.report is not None:
        return {**outcome.report, "config_hash": config}
    failure = outcome.failure or "unknown failure"
    return failure_report(outcome.job.name, failure, options=options, config=config, grader_failure=True,
                          details=failure)


def write_outputs(result: BatchResult) -> None:
    """The gradebook, the exports, the class page and the students' pages, from every entry's report."""
    result.class_outputs = outputs.write_class_outputs(result.output, result.reports, settings=result.settings,
                                                       gradebook_path=result.gradebook_path,
                                                       summary_path=result.summary_path,
                                                       pages_current=set(result.graded))


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
    shard: Shard | None = None,
    layout: str = "auto",
    settings: OutputSettings | None = None,
    rubric_text: str | None = None,
) -> BatchResult:
    """:func:`grade_batch` with a progress display, then the class summary and where the files are.

    SIGTERM is handled like Ctrl-C while it runs (workers stopped, reports kept).
    """
    console = console or Console(highlight=False, soft_wrap=True)
    with _terminate_as_interrupt():
        try:
            result = grade_batch(directory=directory, output=output, options=options, jobs=jobs, force=force,
                                 require_strong=require_strong, progress=progress_for(console), layout=layout,
                                 settings=settings, rubric_text=rubric_text, shard=shard)
        except BatchInterrupted as stopped:
            done = stopped.result
            console.print(f"interrupted: {len(done.graded)} report(s) written by this run and "
                          f"{len(done.up_to_date)} up to date are kept in {done.output}; "
                          "run the same command again to grade the rest")
            raise
    done = result.class_outputs or outputs.ClassOutputs()
    class_summary.print_class_summary(done.summary or class_summary.summarise(result.reports), console=console)
    if result.layout != "plain":
        console.print(Text(f"layout: {result.layout} ({len(result.entries)} submission(s) after grouping)"))
    if result.rescored:
        console.print(Text(f"rescored without running code (only points changed): {len(result.rescored)} report(s)"))
    if result.stale:
        console.print(Text(f"stale (tolerances, limits, cases or grader code changed), regraded: "
                           f"{', '.join(result.stale)}"))
    print_findings(done, console)
    console.print(f"graded {len(result.graded)}, up to date {len(result.up_to_date)}, rescored {len(result.rescored)}; "
                  f"reports in {result.output}, gradebook {result.gradebook_path}, class summary {result.summary_path}"
                  + "".join(f", export {path}" for path in done.exports))
    for name in result.failures:
        report = result.reports.get(name)
        why = (report or {}).get("error", "no report")
        console.print(f"[bold red]not graded[/]: {escape(safe_text(name))}: {escape(safe_text(why))}")
    if result.layers and not result.layers.get("strong"):
        console.print(f"[dim]{WEAK_SANDBOX_NOTE}[/]")
    return result


def print_findings(done: outputs.ClassOutputs, console: Console) -> None:
    """The roster's gaps and the copy leads, in a few lines (the class page has the details)."""
    if done.roster is not None:
        if done.roster.missing:
            console.print(Text(f"missing (on the roster, no submission): "
                               f"{', '.join(s.name or s.id for s in done.roster.missing)}", style="yellow"))
        if done.roster.unknown:
            console.print(Text(f"not on the roster: {', '.join(done.roster.unknown)}", style="yellow"))
    if done.copies is not None and (done.copies.identical or done.copies.similar):
        console.print(Text(f"possible copies (a lead, not a verdict): {len(done.copies.identical)} identical "
                           f"group(s), {len(done.copies.similar)} similar pair(s); see the class summary"))


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
