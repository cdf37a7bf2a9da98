"""Time to grade one submission, fresh and warm, with and without bubblewrap.

    .venv/bin/python bench/bench_grade.py [--runs 5]

Prints medians of:
- ``python -c "import torch"`` (the floor of any fresh process),
- one fresh ``grader grade reference`` process, with and without bubblewrap,
- one submission through an already open sandbox (the batch path), with and
  without bubblewrap: the per-submission cost of the sandbox layers.
A script, not a test: speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference"


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def warm_seconds(bubblewrap: bool, runs: int) -> tuple[float, float]:
    """(sandbox start-up, median per-submission time) through one open sandbox."""
    from grader.grading import GradingOptions, grade

    options = GradingOptions(bubblewrap=bubblewrap)
    started = time.perf_counter()
    with options.open_sandbox() as sandbox:
        startup = time.perf_counter() - started
        grade(REFERENCE, options, sandbox=sandbox)  # first one outside the measure
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            report = grade(REFERENCE, options, sandbox=sandbox)
            times.append(time.perf_counter() - started)
            assert report.score == report.max_score == 100, report.score
    return startup, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    python = sys.executable
    grade_command = [python, "-m", "grader", "grade", str(REFERENCE)]
    rows = [
        ('python -c "import torch"', median_seconds([python, "-c", "import torch"], runs)),
        ("grader grade reference (fresh process, bubblewrap)", median_seconds(grade_command, runs)),
        ("grader grade reference (fresh process, no bubblewrap)",
         median_seconds([*grade_command, "--no-bubblewrap"], runs)),
    ]
    for bubblewrap in (True, False):
        startup, per_submission = warm_seconds(bubblewrap, 2 * runs)
        label = "bubblewrap" if bubblewrap else "no bubblewrap"
        rows.append((f"sandbox start-up ({label})", startup))
        rows.append((f"one submission through a warm sandbox ({label})", per_submission))
    width = max(len(label) for label, _ in rows)
    print(f"medians of {runs} runs ({2 * runs} for warm grading)")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:7.3f} s")


if __name__ == "__main__":
    main()
