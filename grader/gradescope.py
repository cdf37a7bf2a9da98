"""Gradescope: ``results.json`` from a score report, and the autograder's run.

Gradescope builds an image with ``setup.sh``, then runs ``run_autograder``
once per submission with the student's files in ``/autograder/submission``,
and reads ``/autograder/results/results.json`` (format:
``integrations/gradescope/results.schema.json``, written from Gradescope's
"Autograder Specifications"). :func:`run_autograder` never raises: whatever
goes wrong, the student gets a ``results.json`` that says what happened.

Hidden checks are shown to students only once grades are published
(``after_published``), and the top-level ``output`` (always visible) counts
only the visible checks' points until then.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import stat
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .report import Report, write_atomically, write_report

AUTOGRADER_ROOT = Path("/autograder")
EXPECTED_FILES = ("numpy_net.py", "torch_net.py")
SINGLE_FILE_SUFFIXES = (".py", ".ipynb")
IGNORED_NAMES = ("__MACOSX", "__pycache__")  # what zip tools add beside the student's files
WHAT_IS_EXPECTED = ("Expected numpy_net.py and torch_net.py (or one .py or .ipynb file holding every function), "
                    "uploaded as files or zipped in one folder.")
# Inside the installed grader, only grader/inside (the code the sandboxed child runs) must stay
# readable to the child's user id; everything else holds answers or the code that computes them.
CHILD_READABLE = ("inside",)
ANSWER_PACKAGES = ("grader", "reference")


class LayoutError(ValueError):
    """The submission is not laid out as expected; the message tells the student what was expected."""


# ---------------------------------------------------------------- results.json


def results_json(report: Report, *, execution_time: float | None = None,
                 hidden_visibility: str = "after_published") -> dict[str, Any]:
    """The Gradescope results of one report.

    ``execution_time``: seconds the whole run took (default: the report's
    grading time, which leaves out start-up).
    """
    tests = []
    for task_number, task in enumerate(report.tasks, start=1):
        for check_number, check in enumerate(task.checks, start=1):
            output = check.message + (f"\nHint: {check.hint}" if check.hint else "")
            tests.append({
                "name": f"{check.id} ({check.status})",
                "number": f"{task_number}.{check_number}",
                "score": round(check.score, 4),
                "max_score": round(check.max_score, 4),
                "status": "passed" if check.status == "pass" else "failed",
                "output": output,
                "tags": [task.id, check.function],
                "visibility": "visible" if check.visibility == "visible" else hidden_visibility,
            })
    visible = [check for check in report.checks if check.visibility == "visible"]
    hidden = [check for check in report.checks if check.visibility != "visible"]
    visible_score = sum(check.score for check in visible)
    visible_max = sum(check.max_score for check in visible)
    output = f"{report.submission}: visible checks {visible_score:g} / {visible_max:g} points."
    if hidden:
        count = f"{len(hidden)} hidden check" + ("s" if len(hidden) > 1 else "")
        output += (f"\n{count} ({sum(c.max_score for c in hidden):g} points, other sizes, "
                   "seeds and masks) are shown when the grades are published.")
    if report.error:
        output += f"\nThe submission could not be graded: {report.error}"
    if report.warnings:
        output += "\nWarnings:\n" + "\n".join(f"- {warning}" for warning in report.warnings)
    return {
        "score": round(report.score, 4),
        "execution_time": _seconds(report.duration_s if execution_time is None else execution_time),
        "output": output,
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def not_judged_results(title: str, message: str, *, max_score: float, execution_time: float) -> dict[str, Any]:
    """Results for a submission that was not graded: one visible test worth 0 that says why."""
    return {
        "score": 0.0,
        "execution_time": _seconds(execution_time),
        "output": message,
        "stdout_visibility": "hidden",
        "tests": [{
            "name": title,
            "score": 0.0,
            "max_score": round(max_score, 4),
            "status": "failed",
            "output": message,
            "visibility": "visible",
        }],
    }


def autograder_failed_results(*, max_score: float, execution_time: float) -> dict[str, Any]:
    """Results when the grader itself broke: the submission was not judged (details in the staff-only stdout)."""
    return not_judged_results(
        "The autograder failed",
        "The autograder failed on its side; your submission was NOT judged and this 0 is not your grade. "
        "Course staff can see what went wrong; resubmit later or contact them.",
        max_score=max_score, execution_time=execution_time,
    )


def _seconds(value: float) -> int:
    return max(0, round(value))


# ---------------------------------------------------------------- the submission's layout


def locate_submission(folder: Path) -> Path:
    """The submission inside Gradescope's submission folder: the folder itself, one file, or one subfolder.

    Accepts the files uploaded as they are, or zipped as a single folder
    (``hw2/numpy_net.py``). Raises :class:`LayoutError` saying what was found
    and what was expected otherwise.
    """
    entries = _entries(folder)
    found = _submission_in(folder, entries)
    if found is not None:
        return found
    folders = [entry for entry in entries if entry.is_dir() and not entry.is_symlink()]
    others = [entry for entry in entries if entry not in folders]
    if len(folders) == 1 and not any(entry.suffix in SINGLE_FILE_SUFFIXES for entry in others):
        inner = _submission_in(folders[0], _entries(folders[0]))
        if inner is not None:
            return inner
    if not entries:
        raise LayoutError(f"The submission is empty. {WHAT_IS_EXPECTED}")
    deeper = sorted(_relative(path, folder) for path in _walk(folder) if path.name in EXPECTED_FILES)
    if deeper:
        raise LayoutError(f"Found {', '.join(deeper)}: nested too deep. {WHAT_IS_EXPECTED}")
    names = ", ".join(sorted(_relative(entry, folder) + ("/" if entry.is_dir() else "") for entry in entries)[:10])
    raise LayoutError(f"Found only {names}. {WHAT_IS_EXPECTED}")


def _entries(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir()
                  if not entry.name.startswith(".") and entry.name not in IGNORED_NAMES)


def _submission_in(folder: Path, entries: list[Path]) -> Path | None:
    files = [entry for entry in entries if entry.is_file() and not entry.is_symlink()]
    if any(entry.name in EXPECTED_FILES for entry in files):
        return folder
    singles = [entry for entry in files if entry.suffix in SINGLE_FILE_SUFFIXES]
    return singles[0] if len(singles) == 1 else None


def _walk(folder: Path, depth: int = 4) -> Iterator[Path]:
    for entry in _entries(folder):
        yield entry
        if depth > 1 and entry.is_dir() and not entry.is_symlink():
            yield from _walk(entry, depth - 1)


def _relative(path: Path, folder: Path) -> str:
    return str(path.relative_to(folder))


# ---------------------------------------------------------------- keeping answers from student code


def lock_answers(site_packages: Path) -> list[Path]:
    """Make the installed grader's answers unreadable to any user but the owner (root).

    For the containers where bubblewrap cannot run (Gradescope's): the child
    that runs student code has a user id of its own, so file permissions keep
    it out. ``reference/`` and ``grader/`` lose every group and other bit, but
    ``grader/`` stays traversable (0711, not listable) and ``grader/inside``
    (the child's own code, no answers) readable. Returns the paths changed.
    """
    changed = []
    for package in ANSWER_PACKAGES:
        top = site_packages / package
        if not top.is_dir():
            continue
        for path in [top, *top.rglob("*")]:
            if path.is_symlink() or _child_readable(path, top):
                continue
            mode = stat.S_IMODE(path.lstat().st_mode)
            keep = 0o711 if path == top and package == "grader" else mode & 0o700
            os.chmod(path, keep)
            changed.append(path)
    return changed


def answers_locked(site_packages: Path) -> bool:
    """True when no answer-holding file under ``site_packages`` is readable by other users."""
    for package in ANSWER_PACKAGES:
        top = site_packages / package
        if top.is_dir() and not all(_guarded(path, top) for path in [top, *top.rglob("*")]
                                    if not path.is_symlink() and not _child_readable(path, top)):
            return False
    return True


def _child_readable(path: Path, top: Path) -> bool:
    relative = path.relative_to(top).parts
    return top.name == "grader" and bool(relative) and relative[0] in CHILD_READABLE


def _guarded(path: Path, top: Path) -> bool:
    """Other users can neither read ``path`` nor reach it (a folder between ``top`` and it bars them).

    ``grader/`` itself is traversable on purpose (0711): it does not count as a barrier.
    """
    mode = path.lstat().st_mode
    if path == top and top.name == "grader":
        return not mode & (stat.S_IROTH | stat.S_IRGRP | stat.S_IWOTH | stat.S_IWGRP)
    if not mode & (stat.S_IRWXO | stat.S_IRWXG):
        return True
    for folder in path.parents:
        if folder == top.parent:
            return False
        if folder == top and top.name == "grader":
            continue
        if not folder.lstat().st_mode & (stat.S_IXOTH | stat.S_IXGRP):
            return True
    return False


def installed_site_packages() -> Path:
    """The site-packages folder this grader is installed in."""
    return Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- the run


def run_autograder(root: Path, *, started: float, bubblewrap: bool | None = None) -> dict[str, Any]:
    """Grade ``root/submission`` and write ``root/results/results.json`` (and ``report.json``); never raises.

    ``started``: the wall-clock time (``time.time()``) when Gradescope
    started ``run_autograder``, so that ``execution_time`` is the real run time.
    """
    results_dir = root / "results"
    max_score = 100.0
    try:
        # The options `grader grade SUBMISSION` builds from its command line: the same rubric, and
        # whatever else the command line reads (run_autograder exports GRADER_SECRET from source/secret).
        from .cli import _options, build_parser
        from .grading import grade

        arguments = build_parser().parse_args(["grade", str(root / "submission"),
                                               *([] if bubblewrap is not False else ["--no-bubblewrap"])])
        try:
            submission = locate_submission(root / "submission")
        except LayoutError as exc:
            options = _options(arguments)
            results = not_judged_results("Submission layout", str(exc), max_score=options.rubric.total,
                                         execution_time=time.time() - started)
            _write_results(results_dir, results)
            return results
        options = _options(arguments, hide=[root / "submission", results_dir])
        max_score = options.rubric.total
        sandbox = options.open_sandbox()
        try:
            report = grade(submission, options, sandbox=sandbox)
        finally:
            sandbox.close()
        layers = dict(report.sandbox)
        layers["answers_file_permissions"] = answers_locked(installed_site_packages())
        report = dataclasses.replace(report, sandbox=layers)
        write_report(report, results_dir / "report.json")
        print(f"isolation layers in force: {json.dumps(layers)}")
        if report.internal_errors:
            for error in report.internal_errors:
                print(f"internal error in {error['check']}:\n{error['traceback']}", file=sys.stderr)
            results = autograder_failed_results(max_score=max_score, execution_time=time.time() - started)
        else:
            results = results_json(report, execution_time=time.time() - started)
            results["extra_data"] = {"sandbox": layers}
    except BaseException:  # noqa: BLE001 - whatever broke, the student still gets results.json
        traceback.print_exc()
        results = autograder_failed_results(max_score=max_score, execution_time=time.time() - started)
    _write_results(results_dir, results)
    return results


def _write_results(results_dir: Path, results: dict[str, Any]) -> None:
    write_atomically(results_dir / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m grader.gradescope run|lock``: what ``run_autograder`` and ``setup.sh`` call."""
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    run.add_argument("--root", type=Path, default=AUTOGRADER_ROOT)
    run.add_argument("--started", type=float, default=None, help="when run_autograder started (seconds since the epoch)")
    run.add_argument("--no-bubblewrap", action="store_true", help="do not use bubblewrap even where it works")
    commands.add_parser("lock", help="make the installed grader's answers readable by root only")
    args = parser.parse_args(argv)
    if args.command == "lock":
        site_packages = installed_site_packages()
        changed = lock_answers(site_packages)
        locked = answers_locked(site_packages)
        print(f"{len(changed)} paths under {site_packages} made root-only; answers locked: {locked}")
        return 0 if locked else 1
    started = args.started if args.started is not None else time.time()
    run_autograder(args.root, started=started, bubblewrap=False if args.no_bubblewrap else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
