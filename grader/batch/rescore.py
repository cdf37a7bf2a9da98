"""Rescore reports under a new rubric without running any student code.

A report keeps the raw outcome of every check (``pass``, ``fail`` or
``error``, with its message and hint); a check's points are the rubric's
points for its group split evenly over the group's checks, and a check
scores them only when it passed. So when only points change, the scores
follow from the reports alone: :func:`rescore_report`.

Whether only points changed is decided by two digests a batch writes into
every report: ``config_hash`` (everything a report depends on, see
:func:`grader.batch.run.config_fingerprint`) and ``checks_hash``
(:func:`checks_fingerprint`: the same without the points). A report whose
``checks_hash`` matches the new rubric's can be rescored; any other is
*stale* (tolerances, limits, cases, grader code or versions changed) and
must be graded again.

The rubric a batch used is kept as ``OUT/rubric.toml`` (:func:`record_rubric`),
so that a later run with another rubric says so instead of silently
regrading everything.
"""

from __future__ import annotations

import dataclasses
import hashlib
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import json
import time

from rich.console import Console
from rich.text import Text

from ..assignment.case_sets import CaseSet
from ..grading import GradingOptions, environment
from ..report import SCHEMA_VERSION, write_atomically
from ..rubric import DEFAULT_RUBRIC, Rubric, RubricError, load_rubric
from . import class_summary, outputs

RECORDED_RUBRIC = "rubric.toml"


class StaleReport(ValueError):
    """The report cannot be rescored under this rubric; it must be graded again (a one-line reason)."""


def without_points(rubric: Rubric) -> Rubric:
    """``rubric`` with every group worth 0: what decides a check's outcome, and nothing else."""
    groups = {key: dataclasses.replace(group, points=0.0) for key, group in rubric.groups.items()}
    return dataclasses.replace(rubric, total=0.0, groups=groups)


def checks_fingerprint(options: GradingOptions) -> str:
    """What decides every check's outcome: :func:`~grader.batch.run.config_fingerprint` without the points.

    The batch's own code (``grader/batch/``: discovery, outputs, pages) is
    left out too: it writes what the checks found and cannot change it.
    """
    from .run import _code_roots  # run imports this module

    digest = hashlib.sha256()
    settings = {
        "schema_version": SCHEMA_VERSION,
        "environment": environment(),
        "rubric": dataclasses.asdict(without_points(options.rubric)),
        "visible_only": options.visible_only,
        "seed": options.seed,
        "cases": options.cases.fingerprint,  # other hidden cases: other outcomes
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    batch_code = Path(__file__).resolve().parent
    for root in _code_roots():
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".toml", ".json") and "__pycache__" not in path.parts \
                    and batch_code not in path.parents:
                name = f"{path.relative_to(root.parent)}\0".encode()
                digest.update(name + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def rescore_report(report: Mapping[str, Any], rubric: Rubric) -> dict[str, Any]:
    """A copy of ``report`` with every score recomputed from its checks' outcomes under ``rubric``.

    The arithmetic is the grader's own (:mod:`grader.report`): a check is
    worth its share of its group's points (:meth:`~grader.rubric.Rubric.shares`,
    in report order), a task the sum of its checks, the report the sum of its tasks, each
    rounded to 4 places when written. Raises :class:`StaleReport` when the
    report's checks do not match the rubric's groups.
    """
    tasks = [dict(task, checks=[dict(check) for check in task.get("checks", [])]) for task in report.get("tasks") or []]
    data = {**report, "tasks": tasks}  # new containers all the way down to the checks: ``report`` is untouched
    counts = Counter(str(check["id"]).rsplit("/", 1)[0] for task in tasks for check in task["checks"])
    if tasks:
        try:
            rubric.verify_groups(dict(counts))
        except RubricError as exc:
            raise StaleReport(str(exc)) from None
    shares = {group: iter(rubric.shares(group, count)) for group, count in counts.items()}
    total = total_max = 0.0
    for task in tasks:
        task_score = task_max = 0.0
        for check in task["checks"]:
            worth = next(shares[str(check["id"]).rsplit("/", 1)[0]])
            score = worth if check["status"] == "pass" else 0.0
            check["score"], check["max_score"] = round(score, 4), round(worth, 4)
            task_score += score
            task_max += worth
        task["score"], task["max_score"] = round(task_score, 4), round(task_max, 4)
        task["title"] = rubric.task_titles.get(task["id"], task.get("title", ""))
        total += task_score
        total_max += task_max
    if tasks:  # the grader's own sums: of unrounded check scores, task by task
        data["score"] = round(total, 4)
        data["max_score"] = round(total_max, 4)
    return data


# ---------------------------------------------------------------- the recorded rubric


def rubric_source(path: Path | None) -> str:
    """The text of the rubric file at ``path`` (the packaged default when None)."""
    if path is None:
        return resources.files("grader.assignment").joinpath(DEFAULT_RUBRIC).read_text("utf-8")
    return Path(path).read_text("utf-8")


def record_rubric(output: Path, text: str) -> None:
    """Keep the rubric a batch used as ``OUT/rubric.toml``."""
    write_atomically(Path(output) / RECORDED_RUBRIC, text)


def recorded_rubric(output: Path) -> Rubric | None:
    """The rubric recorded in ``output`` (None when there is none; :class:`RubricError` when unreadable)."""
    path = Path(output) / RECORDED_RUBRIC
    return load_rubric(path) if path.is_file() else None


def rubric_changes(old: Rubric, new: Rubric) -> str:
    """What differs between two rubrics, in a few words (empty when they are equal)."""
    if old == new:
        return ""
    if without_points(old) == without_points(new):
        changed = sorted(g for g in new.groups if old.groups[g].points != new.groups[g].points)
        return "points of " + ", ".join(changed) if changed else "the total"
    parts = []
    if old.limits != new.limits:
        parts.append("limits")
    if set(old.groups) != set(new.groups):
        parts.append("groups")
    elif any(old.groups[g].tolerance != new.groups[g].tolerance for g in new.groups):
        parts.append("tolerances")
    if old.task_titles != new.task_titles:
        parts.append("task titles")
    return ", ".join(parts) or "settings"


# ---------------------------------------------------------------- grader rescore


def rescore_folder(folder: Path, *, rubric_path: Path, console: Console | None = None,
                   cases: CaseSet | None = None) -> bool:
    """``grader rescore``: every report in ``folder`` rescored under the rubric at ``rubric_path``.

    Then the gradebook, the exports, the class page and the students' pages
    are written again, and the rubric is recorded. Nothing is changed when
    some report is stale (it must be graded again: the command says which
    and how); returns whether the folder was rescored.
    """
    from .run import GRADEBOOK, SUMMARY_PAGE, config_fingerprint, read_report

    console = console or Console(highlight=False, soft_wrap=True)
    started = time.perf_counter()
    rubric = load_rubric(rubric_path)
    options = GradingOptions(rubric=rubric) if cases is None else GradingOptions(rubric=rubric, cases=cases)
    checks, config = checks_fingerprint(options), config_fingerprint(options)
    reports: dict[str, dict[str, Any]] = {}
    originals: dict[str, dict[str, Any]] = {}
    stale: list[str] = []
    for path in sorted(Path(folder).glob("*.json")):
        report = read_report(path)
        if report is None or report.get("schema_version") != SCHEMA_VERSION or "tasks" not in report:
            continue
        name = path.name[: -len(".json")]
        try:
            if report.get("checks_hash") != checks:
                raise StaleReport("made with other tolerances, limits, cases or grader code")
            reports[name] = {**rescore_report(report, rubric), "config_hash": config}
            originals[name] = report
        except StaleReport as exc:
            stale.append(f"{name} ({exc})" if len(stale) < 10 else name)
    if stale:
        console.print(Text(f"grader rescore: {len(stale)} report(s) cannot be rescored and must be graded again: "
                           f"{', '.join(stale[:20])}{' ...' if len(stale) > 20 else ''}", style="bold red"))
        console.print(Text(f"nothing was changed; run grader batch CLASS_DIR -o {folder} --rubric {rubric_path}"))
        return False
    changed = {name: report for name, report in reports.items() if report != originals[name]}
    with ThreadPoolExecutor(max_workers=8) as writers:  # each write waits on its fsync: overlap them
        list(writers.map(lambda item: write_atomically(Path(folder) / f"{item[0]}.json", json.dumps(
            item[1], indent=2, ensure_ascii=False) + "\n"), changed.items()))
    record_rubric(folder, rubric_source(rubric_path))
    settings = outputs.load_settings(folder)
    done = outputs.write_class_outputs(folder, reports, settings=settings, gradebook_path=Path(folder) / GRADEBOOK,
                                       summary_path=Path(folder) / SUMMARY_PAGE)
    class_summary.print_class_summary(done.summary or class_summary.summarise(reports), console=console)
    console.print(Text(f"rescored {len(reports)} report(s) in {time.perf_counter() - started:.2f} s without running "
                       f"any code; gradebook {Path(folder) / GRADEBOOK}, class summary {Path(folder) / SUMMARY_PAGE}"
                       + "".join(f", export {path}" for path in done.exports)))
    return True
