"""Compare two checkouts of the grader side by side, in lock step, on this machine.

    .venv/bin/python bench/bench_ab.py OLD NEW [--steps 30] [--jobs 2]

``OLD`` and ``NEW`` are folders holding ``grader/`` and ``reference/`` (for
instance ``git worktree add --detach /tmp/old HEAD~1``). This machine's speed
drifts by 2 to 4 times within minutes, so two benchmark runs made one after
the other compare two moments more than two versions. Here each checkout gets
``--jobs`` driver processes, each with one warm sandbox of its own code; step
by step the two sides take turns, all the drivers of a side grading one copy
of the reference at once, as batch workers do. Both sides thus see the same
moments. Per side it prints the wall time of a step (per submission) and the
CPU one submission costs: the grader process, the zygote's own, and the
children the zygote reaped (the submission's sandboxed process). Comparing a
checkout with itself shows the noise left (a few ms). A script, not a test.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process_cpu import cpu_of_tree  # this folder: nothing of either checkout

def drive(checkout: Path) -> None:
    """A driver: one warm sandbox of ``checkout``; grades one reference copy per line read, prints its costs."""
    sys.path.insert(0, str(checkout))
    from grader.grading import GradingOptions, grade_many

    workspace = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    options = GradingOptions()
    sandbox = options.open_sandbox()
    graded = 0

    def grade_one() -> float:
        nonlocal graded
        folder = workspace / f"student{graded}"
        graded += 1
        shutil.copytree(checkout / "reference", folder, ignore=shutil.ignore_patterns("__pycache__"))
        [report] = grade_many([folder], options, sandbox=sandbox)
        if report.score != report.max_score:
            raise SystemExit(f"{checkout}: the reference does not pass")
        return report.score

    try:
        grade_one()
        grade_one()  # warm
        print("ready", flush=True)
        for _ in sys.stdin:
            assert sandbox._process is not None
            before, cpu = cpu_of_tree(sandbox._process.pid), time.process_time()
            grade_one()
            cpu, after = time.process_time() - cpu, cpu_of_tree(sandbox._process.pid)
            own = sum(after[pid][1] - before[pid][1] for pid in after if pid in before)
            reaped = sum(after[pid][2] - before[pid][2] for pid in after if pid in before)
            print(f"{cpu * 1000:.2f} {own * 1000:.2f} {reaped * 1000:.2f}", flush=True)
    finally:
        sandbox.close()
        shutil.rmtree(workspace, ignore_errors=True)


def compare(checkouts: list[Path], steps: int, jobs: int) -> None:
    sides = [[subprocess.Popen([sys.executable, __file__, "--driver", str(checkout)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True) for _ in range(jobs)] for checkout in checkouts]
    try:
        for side in sides:
            for driver in side:
                if driver.stdout is None or driver.stdout.readline().strip() != "ready":
                    raise SystemExit("a driver did not start (see above)")
        walls: list[list[float]] = [[], []]
        costs: list[list[list[float]]] = [[], []]
        for step in range(steps):
            for index in ((0, 1) if step % 2 == 0 else (1, 0)):  # who goes first alternates too
                started = time.perf_counter()
                for driver in sides[index]:
                    assert driver.stdin is not None
                    driver.stdin.write("go\n")
                    driver.stdin.flush()
                for driver in sides[index]:
                    assert driver.stdout is not None
                    costs[index].append([float(value) for value in driver.stdout.readline().split()])
                walls[index].append((time.perf_counter() - started) / jobs)
    finally:
        for side in sides:
            for driver in side:
                if driver.stdin is not None:
                    driver.stdin.close()
                driver.wait()
    print(f"{steps} steps, {jobs} driver(s) a side; per submission, means (wall: median of the steps):")
    for checkout, wall, rows in zip(checkouts, walls, costs):
        grader, zygote, children = (statistics.fmean(column) for column in zip(*rows))
        print(f"  {str(checkout):30s} wall {statistics.median(wall) * 1000:6.1f} ms   CPU: grader {grader:5.1f}  "
              f"zygote {zygote:4.1f}  children {children:6.1f}  total {grader + zygote + children:6.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs="*", type=Path, help="OLD and NEW: folders holding grader/ and reference/")
    parser.add_argument("--steps", type=int, default=30, help="turns of each side (default 30)")
    parser.add_argument("--jobs", type=int, default=2, help="drivers grading at once on each side (default 2)")
    parser.add_argument("--driver", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.driver is not None:
        drive(args.driver.resolve())
        return 0
    if len(args.checkouts) != 2 or not all((c / "grader").is_dir() for c in args.checkouts):
        parser.error("give two checkouts, each a folder holding grader/ and reference/")
    compare([c.resolve() for c in args.checkouts], args.steps, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
