"""Benchmark ``grader rescore``: a class of 300 reports under a new rubric, without running code.

    .venv/bin/python bench/bench_rescore.py [--count 300] [--repeat 3] [--keep]

Grades three real submissions once with ``grader batch`` (the sample with
three mistakes, the reference, the untouched template), then copies their
reports into ``--count`` reports (``student0000.json``...), as a batch of
that size would have left them, with the gradebook, a roster and the Canvas
export. Times ``grader rescore OUT --rubric new.toml`` (points moved between
groups) as a fresh process, the way a TA runs it: reading every report,
rescoring, rewriting the reports, the gradebook, the export, the class page
and a page per student. Prints the median of ``--repeat`` runs against the
3 s target. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRADER = [sys.executable, "-m", "grader"]
TARGET_S = 3.0
SOURCES = {"sample": ROOT / "examples" / "sample_submission", "reference": ROOT / "reference",
           "template": ROOT / "student_template"}


def new_rubric(path: Path) -> Path:
    """The packaged rubric with 4 points moved from grad_w1_np to loss_np."""
    text = (ROOT / "grader" / "assignment" / "rubric.toml").read_text()
    text = text.replace('[groups."task2/loss_np"]\npoints = 6', '[groups."task2/loss_np"]\npoints = 10')
    text = text.replace('[groups."task2/grad_w1_np"]\npoints = 14', '[groups."task2/grad_w1_np"]\npoints = 10')
    path.write_text(text)
    return path


def build_reports(work: Path, count: int) -> Path:
    """A report folder of ``count`` reports made from three real gradings."""
    seed_class, output = work / "seed", work / "reports"
    seed_class.mkdir()
    for name, source in SOURCES.items():
        shutil.copytree(source, seed_class / name, ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    roster = work / "roster.csv"
    roster.write_text("Student,ID\n" + "".join(f"Student {i},{i}\n" for i in range(count + 5)))
    subprocess.run([*GRADER, "batch", str(seed_class), "-o", str(output), "-j", "2", "--roster", str(roster),
                    "--export", "canvas"], check=True, capture_output=True)
    seeds = [json.loads((output / f"{name}.json").read_text()) for name in SOURCES]
    for name in SOURCES:
        (output / f"{name}.json").unlink()
    for index in range(count):
        report = dict(seeds[index % len(seeds)], submission=f"student{index:04d}")
        (output / f"student{index:04d}.json").write_text(json.dumps(report, indent=2) + "\n")
    return output


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the report folder and print where it is")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-rescore-"))
    try:
        print(f"grading 3 submissions once, then copying their reports into {args.count} ...", flush=True)
        output = build_reports(work, args.count)
        rubrics = [new_rubric(work / "new.toml"), work / "packaged.toml"]
        shutil.copy(ROOT / "grader" / "assignment" / "rubric.toml", rubrics[1])
        times: list[float] = []
        cpus: list[float] = []
        for run in range(args.repeat):
            rubric = rubrics[run % 2]  # alternate, so every run really changes every score
            started, cpu_before = time.perf_counter(), _children_cpu()
            done = subprocess.run([*GRADER, "rescore", str(output), "--rubric", str(rubric)], capture_output=True,
                                  text=True)
            times.append(time.perf_counter() - started)
            cpus.append(_children_cpu() - cpu_before)
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
                return 1
            print(f"  run {run + 1}: {times[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU  "
                  f"({done.stdout.strip().splitlines()[-1][:60]}...)")
        median = statistics.median(times)
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s); "
              f"median CPU time {statistics.median(cpus):.2f} s")
        verdict = "ok" if median < TARGET_S else "OVER TARGET"
        print(f"rescore of {args.count} reports (fresh process, outputs rewritten): median {median:.2f} s "
              f"over {args.repeat} run(s); target < {TARGET_S:g} s: {verdict}")
        return 0 if median < TARGET_S else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
