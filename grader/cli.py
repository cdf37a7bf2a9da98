"""The ``grader`` command: a thin layer over :mod:`grader.grading`.

Exit codes: 0 when a report was written (whatever the score), 2 for a usage
error (one line on stderr), 1 only when the grader itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .assignment.case_sets import SECRET_VARIABLE, CaseSet, SecretError, default_case_set, draw_case_set, read_secret
from .checks import ChecksError
from .grading import GradingOptions, grade
from .gradescope import results_json
from .report import dumps, write_atomically, write_report
from .rubric import RubricError, load_rubric
from .sandbox import SandboxUnavailable
from .summary import markdown_summary, print_summary

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

    grade_cmd = commands.add_parser("grade", help="grade one submission into a JSON report")
    grade_cmd.add_argument("submission", type=Path, help="a folder, a .py file or a .ipynb notebook")
    grade_cmd.add_argument("-o", "--output", type=Path, help="write the JSON report here")
    grade_cmd.add_argument("--json", action="store_true", help="print the JSON report to stdout instead of a summary")
    grade_cmd.add_argument("--gradescope", type=Path, metavar="RESULTS.json",
                           help="also write Gradescope's results.json here")
    grade_cmd.add_argument("--markdown", type=Path, metavar="FILE",
                           help="append a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)")
    sandbox_options(grade_cmd)

    check_cmd = commands.add_parser("check", help="a student's self-check: visible checks only")
    check_cmd.add_argument("submission", type=Path, nargs="?", default=Path("."),
                           help="your folder, .py file or notebook (default: the current folder)")
    sandbox_options(check_cmd)

    batch_cmd = commands.add_parser("batch", help="grade every entry directly under DIR")
    batch_cmd.add_argument("directory", type=Path)
    batch_cmd.add_argument("-o", "--output", type=Path, default=None, help="report folder (default: DIR-reports)")
    batch_cmd.add_argument("-j", "--jobs", type=int, default=2, help="parallel workers (default 2)")
    batch_cmd.add_argument("--force", action="store_true", help="regrade submissions whose report is up to date")
    sandbox_options(batch_cmd)

    release_cmd = commands.add_parser("release", help="write what a course hands out: OUT_DIR/student/ and student.zip")
    release_cmd.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    release_cmd.add_argument("--force", action="store_true", help="write into OUT_DIR even if it is not empty")
    release_cmd.add_argument("--rubric", type=Path, help="a rubric TOML file (default: the packaged rubric)")
    secret_option(release_cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        print(f"grader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RubricError as exc:
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


def _existing(path: Path) -> Path:
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"{path}: no such file or folder")
    return path


def _require_strong(layers: dict[str, object], args: argparse.Namespace) -> None:
    if args.require_sandbox and not layers.get("strong"):
        raise SandboxUnavailable("--require-sandbox: the strong sandbox layer is not in force here "
                                 "(needs bubblewrap and an unprivileged user for the student code)")


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "release":
        from .release import ReleaseContext, ReleaseError, release  # imported on demand

        rubric = load_rubric(args.rubric)
        secret = _secret(args)
        cases = default_case_set() if secret is None else draw_case_set(secret, rubric)
        try:
            written = release(args.out_dir, force=args.force,
                              context=ReleaseContext(rubric=rubric, cases=cases, secret=secret))
        except ReleaseError as exc:
            raise UsageError(str(exc)) from None
        for path in written:
            print(f"wrote {path}")
        return EXIT_OK
    if args.command == "batch":
        from .batch.run import default_output, run_batch  # imported on demand: only batch needs the pool
        from .sandbox import SandboxError

        directory = _existing(args.directory)
        if not directory.is_dir():
            raise UsageError(f"{directory}: not a folder")
        if args.jobs < 1:
            raise UsageError(f"-j/--jobs: must be at least 1, not {args.jobs}")
        output = (args.output or default_output(directory)).resolve()
        if output == directory.resolve():
            raise UsageError(f"{args.output}: the report folder must not be the submissions folder")
        if output.exists() and not output.is_dir():
            raise UsageError(f"{args.output}: not a folder")
        options = _options(args)  # the batch hides the class and the reports from every submission
        try:
            result = run_batch(directory=directory, output=output, options=options, jobs=args.jobs,
                               force=args.force, require_strong=args.require_sandbox)
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
        return EXIT_OK
    outputs = [path for path in (args.output, args.gradescope, args.markdown) if path]
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
    return EXIT_GRADER_FAILED if report.internal_errors else EXIT_OK


def _grade_checked(submission: Path, options: GradingOptions, args: argparse.Namespace):  # -> Report
    sandbox = options.open_sandbox()
    try:
        _require_strong(sandbox.layers, args)
        return grade(submission, options, sandbox=sandbox)
    finally:
        sandbox.close()
