"""The ``grader`` command: a thin layer over :mod:`grader.grading`.

Exit codes: 0 when a report was written (whatever the score), 2 for a usage
error (one line on stderr), 1 only when the grader itself failed, or when
``--fail-under SCORE`` was given and the score is below it (a CI gate).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .assignment.case_sets import SECRET_VARIABLE, CaseSet, SecretError, default_case_set, draw_case_set, read_secret
from .checks import ChecksError
from .grading import GradingOptions, grade
from .gradescope import results_json
from .junit import write_junit
from .report import dumps, write_atomically, write_report
from .rubric import RubricError, load_rubric
from .sandbox import SandboxUnavailable
from .sandbox.modes import mode_line, planned, require_strong
from .summary import markdown_summary, print_summary
from .batch.exports import EXPORTS
from .batch.layouts import LAYOUTS, LayoutError

EXIT_OK, EXIT_GRADER_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in the command line, reported in one line."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Grade two-layer network homework (NumPy and PyTorch).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def secret_option(command: argparse.ArgumentParser) -> None:
        command.add_argument("--secret-file", metavar="FILE",
                             help=f"the course secret the hidden cases are drawn from (default: ${SECRET_VARIABLE}; "
                                  "without either, the fixed hidden cases)")

    def sandbox_options(command: argparse.ArgumentParser) -> None:
        secret_option(command)
        command.add_argument("--rubric", type=Path, help="a rubric TOML file (default: the packaged rubric)")
        group = command.add_mutually_exclusive_group()
        group.add_argument("--require-sandbox", action="store_true",
                           help="refuse to grade unless the strong sandbox layer (bubblewrap, unprivileged) is in force")
        group.add_argument("--no-bubblewrap", action="store_true", help="do not use bubblewrap even where available")

    def ci_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--junit", type=Path, metavar="REPORT.xml", help="also write JUnit XML here")
        command.add_argument("--fail-under", type=float, metavar="SCORE",
                             help="exit 1 when the score is below SCORE points (a CI gate)")

    grade_cmd = commands.add_parser("grade", help="grade one submission into a JSON report")
    grade_cmd.add_argument("submission", type=Path, help="a folder, a .py file or a .ipynb notebook")
    grade_cmd.add_argument("-o", "--output", type=Path, help="write the JSON report here")
    grade_cmd.add_argument("--json", action="store_true", help="print the JSON report to stdout instead of a summary")
    grade_cmd.add_argument("--gradescope", type=Path, metavar="RESULTS.json",
                           help="also write Gradescope's results.json here")
    grade_cmd.add_argument("--markdown", type=Path, metavar="FILE",
                           help="append a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)")
    sandbox_options(grade_cmd)
    ci_options(grade_cmd)

    check_cmd = commands.add_parser("check", help="a student's self-check: visible checks only")
    check_cmd.add_argument("submission", type=Path, nargs="?", default=Path("."),
                           help="your folder, .py file or notebook (default: the current folder)")
    sandbox_options(check_cmd)
    ci_options(check_cmd)

    batch_cmd = commands.add_parser("batch", help="grade every entry directly under DIR")
    batch_cmd.add_argument("directory", type=Path)
    batch_cmd.add_argument("-o", "--output", type=Path, default=None, help="report folder (default: DIR-reports)")
    batch_cmd.add_argument("-j", "--jobs", type=int, default=2, help="parallel workers (default 2)")
    batch_cmd.add_argument("--force", action="store_true", help="regrade submissions whose report is up to date")
    batch_cmd.add_argument("--shard", metavar="K/N", help="grade only slice K of N (by entry name); merge with `grader merge`")
    batch_cmd.add_argument("--layout", choices=LAYOUTS, default="auto",
                           help="how DIR is laid out: an LMS download (canvas, moodle, gradescope) or one entry per "
                                "submission (plain); default: detected from the names")
    batch_cmd.add_argument("--roster", type=Path, metavar="ROSTER.csv",
                           help="the class list: students without a submission get a 'missing' row")
    batch_cmd.add_argument("--export", action="append", choices=EXPORTS, default=[],
                           help="also write the CSV this LMS's gradebook imports (repeatable)")
    batch_cmd.add_argument("--assignment", default=None,
                           help='the assignment\'s column in the export (Canvas: "HW2 (123456)" with its id)')
    sandbox_options(batch_cmd)

    rescore_cmd = commands.add_parser("rescore", help="recompute scores, gradebook and summary from reports "
                                                      "under a new rubric, without running any code")
    rescore_cmd.add_argument("reports", type=Path, help="a report folder written by grader batch")
    rescore_cmd.add_argument("--rubric", type=Path, required=True, help="the new rubric TOML file")
    secret_option(rescore_cmd)

    merge_cmd = commands.add_parser("merge", help="combine the report folders of `batch --shard` runs")
    merge_cmd.add_argument("output", type=Path, help="folder for the combined reports, gradebook and class summary")
    merge_cmd.add_argument("shards", type=Path, nargs="+", metavar="SHARD_DIR", help="the shards' report folders")

    release_cmd = commands.add_parser("release", help="write what a course hands out: the student kit, "
                                                      "Gradescope's autograder.zip, GitHub Classroom's workflows")
    release_cmd.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    release_cmd.add_argument("--force", action="store_true", help="write into OUT_DIR even if it is not empty")
    release_cmd.add_argument("--rubric", type=Path, help="a rubric TOML file (default: the packaged rubric)")
    release_cmd.add_argument("--wheel", type=Path, metavar="WHEEL",
                             help="the grader wheel for autograder.zip (default: built from this source checkout)")
    secret_option(release_cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (UsageError, RubricError) as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SandboxUnavailable as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_GRADER_FAILED
    except ChecksError as exc:
        print(f"grader: internal error: {exc}", file=sys.stderr)
        return EXIT_GRADER_FAILED
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130


def _options(args: argparse.Namespace, *, visible_only: bool = False, hide: Sequence[Path] = ()) -> GradingOptions:
    rubric = load_rubric(args.rubric)
    bubblewrap = False if args.no_bubblewrap else (True if args.require_sandbox else None)
    return GradingOptions(rubric=rubric, visible_only=visible_only, bubblewrap=bubblewrap, hide=tuple(hide),
                          cases=_case_set(args, rubric))


def _secret(args: argparse.Namespace) -> bytes | None:
    """The course secret: --secret-file, else $GRADER_SECRET, else None."""
    try:
        return read_secret(args.secret_file, os.environ)
    except SecretError as exc:
        raise UsageError(str(exc)) from None


def _case_set(args: argparse.Namespace, rubric) -> CaseSet:
    """The fixed cases, or hidden cases drawn from the course secret."""
    secret = _secret(args)
    return default_case_set() if secret is None else draw_case_set(secret, rubric)


def _check_recorded_rubric(output: Path, options: GradingOptions, *, explicit: bool) -> None:
    """A batch into a folder graded with another rubric says so: silently regrading is never right."""
    from .batch.rescore import RECORDED_RUBRIC, recorded_rubric, rubric_changes

    recorded = recorded_rubric(output)
    if recorded is None:
        return
    changes = rubric_changes(recorded, options.rubric)
    if not changes:
        return
    where = output / RECORDED_RUBRIC
    if not explicit:
        raise UsageError(f"{output} was graded with the rubric in {where}, not the default one ({changes} differ); "
                         f"pass --rubric {where} to keep it, or --rubric NEW.toml to change it")
    print(f"grader: the rubric differs from the one recorded in {where} ({changes}): points-only changes are "
          "rescored without running code, other changes regrade", file=sys.stderr)


def _existing(path: Path) -> Path:
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{path}: no such file or folder")
    return path


def _require_strong(layers: dict[str, object], args: argparse.Namespace) -> None:
    if args.require_sandbox:
        require_strong(layers)
    print(mode_line(layers), file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "release":
        from .release import ReleaseContext, ReleaseError, release  # imported on demand

        if args.wheel is not None and not (args.wheel.is_file() and args.wheel.name.startswith("nn_autograder-")
                                           and args.wheel.suffix == ".whl"):
            raise UsageError(f"--wheel {args.wheel}: not a grader wheel file (nn_autograder-*.whl)")
        rubric = load_rubric(args.rubric)
        secret = _secret(args)
        cases = default_case_set() if secret is None else draw_case_set(secret, rubric)
        try:
            written = release(args.out_dir, force=args.force,
                              context=ReleaseContext(rubric=rubric, cases=cases, secret=secret, wheel=args.wheel))
        except ReleaseError as exc:
            raise UsageError(str(exc)) from None
        for path in written:
            print(f"wrote {path}")
        return EXIT_OK
    if args.command == "merge":
        return _merge(args)
    if args.command == "rescore":
        from .batch.rescore import rescore_folder

        folder = _existing(args.reports)
        if not folder.is_dir():
            raise UsageError(f"{folder}: not a folder")
        cases = _case_set(args, load_rubric(args.rubric))  # the reports' hidden cases: the same secret
        return EXIT_OK if rescore_folder(folder, rubric_path=args.rubric, cases=cases) else EXIT_GRADER_FAILED
    if args.command == "batch":
        from .batch.outputs import OutputSettings, load_settings, save_roster
        from .batch.rescore import rubric_source
        from .batch.roster import RosterError
        from .batch.run import default_output, run_batch  # imported on demand: only batch needs the pool
        from .sandbox import SandboxError

        directory = _existing(args.directory)
        if not directory.is_dir():
            raise UsageError(f"{directory}: not a folder")
        if args.jobs < 1:
            raise UsageError(f"-j/--jobs: must be at least 1, not {args.jobs}")
        shard = _shard(args.shard)
        output = (args.output or default_output(directory)).resolve()
        if output == directory.resolve():
            raise UsageError(f"{args.output}: the report folder must not be the submissions folder")
        if output.exists() and not output.is_dir():
            raise UsageError(f"{args.output}: not a folder")
        options = _options(args)  # the batch hides the class and the reports from every submission
        _check_recorded_rubric(output, options, explicit=args.rubric is not None)
        previous = load_settings(output)  # exports asked for once are kept up to date by later runs
        settings = OutputSettings(title=f"Class summary: {directory.resolve().name}",
                                  exports=tuple(dict.fromkeys([*previous.exports, *args.export])),
                                  assignment=args.assignment or previous.assignment)
        if args.roster is not None:
            try:
                save_roster(output, _existing(args.roster))
            except RosterError as exc:
                raise UsageError(str(exc)) from None
        print(mode_line(planned(options.bubblewrap)), file=sys.stderr)  # once the command line is known good
        try:
            result = run_batch(directory=directory, output=output, options=options, jobs=args.jobs,
                               force=args.force, require_strong=args.require_sandbox, layout=args.layout,
                               settings=settings, rubric_text=rubric_source(args.rubric), shard=shard)
        except LayoutError as exc:
            raise UsageError(f"{directory}: {exc}") from None
        except SandboxError as exc:  # the workers could not start or keep dying; reports so far are kept
            print(f"grader: error: {exc}", file=sys.stderr)
            return EXIT_GRADER_FAILED
        return EXIT_OK if result.complete else EXIT_GRADER_FAILED
    submission = _existing(args.submission).resolve()
    if args.command == "check":
        options = _options(args, visible_only=True)
        report = _grade_checked(submission, options, args)
        print_summary(report, show_passing=True)
        print(f"These are the visible checks only ({report.max_score:g} of {options.rubric.total:g} points); "
              "hidden checks with other sizes, seeds and masks run when your submission is graded.")
        return _ci_outputs(report, args, submission, EXIT_OK)
    outputs = [path for path in (args.output, args.gradescope, args.markdown, args.junit) if path]
    options = _options(args, hide=[submission.parent, *(path.resolve().parent for path in outputs)])
    report = _grade_checked(submission, options, args)
    if args.output:
        write_report(report, args.output)
    if args.gradescope:
        write_atomically(args.gradescope, json.dumps(results_json(report), indent=2) + "\n")
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as handle:
            handle.write(markdown_summary(report))
    if args.json:
        sys.stdout.write(dumps(report))
    else:
        print_summary(report, show_passing=False)
        if args.output:
            print(f"report written to {args.output}")
    return _ci_outputs(report, args, submission, EXIT_GRADER_FAILED if report.internal_errors else EXIT_OK)


def _ci_outputs(report, args: argparse.Namespace, submission: Path, status: int) -> int:
    """Write ``--junit``; exit 1 under ``--fail-under`` (unless the grader already failed)."""
    if args.junit:
        write_junit(report, args.junit, submission=submission)
    if args.fail_under is not None and report.score < args.fail_under:
        print(f"grader: score {report.score:g} is below --fail-under {args.fail_under:g}", file=sys.stderr)
        return EXIT_GRADER_FAILED
    return status


def _shard(text: str | None):  # -> Shard | None
    from .batch.shards import Shard, ShardError

    if text is None:
        return None
    try:
        return Shard.parse(text)
    except ShardError as exc:
        raise UsageError(str(exc)) from None


def _merge(args: argparse.Namespace) -> int:
    """``grader merge OUT SHARD...``: copy the shards' reports into OUT, then its gradebook and summary."""
    from .batch import outputs
    from .batch.run import GRADEBOOK, SUMMARY_PAGE, report_path
    from .batch.shards import ShardError, merge_folders

    output = args.output.resolve()
    if output in {Path(folder).resolve() for folder in args.shards}:
        raise UsageError(f"{args.output}: the merged folder must not be one of the shard folders")
    if output.exists() and not output.is_dir():
        raise UsageError(f"{args.output}: not a folder")
    try:
        merged = merge_folders([Path(folder) for folder in args.shards])
    except ShardError as exc:
        raise UsageError(str(exc)) from None
    for name, report in merged.reports.items():
        if report is not None:
            write_atomically(report_path(output, name), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    first = Path(args.shards[0])
    for kept in (outputs.ROSTER_FILE, outputs.COPIES_FILE):  # the same in every shard: the whole class's
        if (outputs.batch_dir(first) / kept).is_file():
            outputs.batch_dir(output).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(outputs.batch_dir(first) / kept, outputs.batch_dir(output) / kept)
    settings = outputs.load_settings(first)
    outputs.save_settings(output, settings)
    outputs.write_class_outputs(output, merged.reports, settings=settings, gradebook_path=output / GRADEBOOK,
                                summary_path=output / SUMMARY_PAGE)
    graded = sum(report is not None for report in merged.reports.values())
    print(f"merged {graded} report(s) from {len(args.shards)} folder(s) into {output}")
    for name, folders in merged.twice.items():
        print(f"graded twice: {name} (in {', '.join(map(str, folders))}); kept the first", file=sys.stderr)
    for name in merged.missing:
        print(f"graded by no shard: {name} (missing from the gradebook's scores)", file=sys.stderr)
    return EXIT_OK if merged.complete else EXIT_GRADER_FAILED


def _grade_checked(submission: Path, options: GradingOptions, args: argparse.Namespace):  # -> Report
    sandbox = options.open_sandbox()
    try:
        _require_strong(sandbox.layers, args)
        return grade(submission, options, sandbox=sandbox)
    finally:
        sandbox.close()
