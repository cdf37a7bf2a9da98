"""Compare JSON reports check by check (used by .ci/release_check.sh).

    python compare_reports.py same A.json B.json
        the same checks with the same status, points, message and hint (two installs of the grader);
    python compare_reports.py kit KIT.json GRADER.json [--without-torch]
        the self-check's report equals the grader report's visible checks; --without-torch: where torch
        is not installed, the NumPy checks are equal and every other check is an error naming torch.

Exit 0 when they agree; otherwise 1, with one line per difference.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NUMPY_FUNCTIONS = {"relu", "softmax", "forward_np", "loss_np", "grad_w1_np", "grad_w2_np", "train_np"}


def checks(path: str, *, visible_only: bool = False) -> dict[str, tuple]:
    report = json.loads(Path(path).read_text("utf-8"))
    return {c["id"]: (c["function"], c["status"], c["score"], c["max_score"], c["message"], c["hint"])
            for task in report["tasks"] for c in task["checks"]
            if not visible_only or c["visibility"] == "visible"}


def differences(got: dict[str, tuple], want: dict[str, tuple]) -> list[str]:
    lines = [f"{check}: only in the second report" for check in sorted(set(want) - set(got))]
    lines += [f"{check}: only in the first report" for check in sorted(set(got) - set(want))]
    lines += [f"{check}: {got[check]} != {want[check]}" for check in sorted(set(got) & set(want))
              if got[check] != want[check]]
    return lines


def main(argv: list[str]) -> int:
    mode, first, second, *flags = argv
    if not checks(first):
        print(f"{first}: a report without checks", file=sys.stderr)
        return 1
    if mode == "same":
        problems = differences(checks(first), checks(second))
    elif mode == "kit":
        got, want = checks(first), checks(second, visible_only=True)
        if "--without-torch" in flags:
            problems = [f"{check}: expected an error naming torch, got {got[check][1:2]} {got[check][4]!r}"
                        for check in got if got[check][0] not in NUMPY_FUNCTIONS
                        and not (got[check][1] == "error" and "torch" in got[check][4])]
            got = {k: v for k, v in got.items() if v[0] in NUMPY_FUNCTIONS}
            want = {k: v for k, v in want.items() if v[0] in NUMPY_FUNCTIONS}
            problems += differences(got, want)
        else:
            problems = differences(got, want)
    else:
        print(f"unknown mode {mode!r}", file=sys.stderr)
        return 2
    for line in problems:
        print(f"{Path(first).name} vs {Path(second).name}: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
