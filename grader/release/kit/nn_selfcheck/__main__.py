"""``python -m nn_selfcheck [PATH]`` and the ``nn-selfcheck`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None, *, default: str = ".") -> int:
    parser = argparse.ArgumentParser(prog="nn-selfcheck", description="Run the visible checks of the homework.")
    parser.add_argument("submission", nargs="?", default=default,
                        help=f"your folder, .py file or .ipynb notebook (default: {default})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a summary")
    parser.add_argument("--junit", metavar="REPORT.xml", help="also write the checks as JUnit XML (for CI)")
    args = parser.parse_args(argv)
    from .selfcheck import check

    try:
        result = check(args.submission, show=not args.json)
        if args.json:
            print(json.dumps(result.report.to_json(), indent=2))
        if args.junit:
            from pathlib import Path

            from ._grader.junit import write_junit

            write_junit(result.report, Path(args.junit), submission=Path(args.submission))
    except FileNotFoundError as exc:
        print(f"nn-selfcheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nn-selfcheck: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
