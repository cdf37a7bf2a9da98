"""Where one correct submission's grading time goes, process by process.

    .venv/bin/python bench/bench_breakdown.py [--count 20]

Grades ``--count`` copies of ``reference/`` with one warm sandbox (one
worker, as each batch worker does) and reads the CPU time of every process
involved from ``/proc``: the grader's own process (the checks, encoding,
comparisons, messages), the zygote (forking and sweeping children) and the
children it reaped (confinement, the calls, exit). Then it times one round
trip of a call that computes nothing (``nop``, added to a copy of the
reference), and the numerics alone: the reference's calls of one submission
in this process (``bench_batch.numerics_per_submission``). What the
children cost beyond the numerics is the price of a fresh sandboxed process
per submission. A script, not a test; the machine's speed varies, so compare
figures from one run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from bench_batch import numerics_per_submission  # noqa: E402
from process_cpu import cpu_of_tree, reaped_page_faults  # noqa: E402
from grader.grading import GradingOptions, grade_many  # noqa: E402
from grader.runner import SubmissionRunner  # noqa: E402
from grader.sandbox import Sandbox  # noqa: E402
from grader.submission import load_submission  # noqa: E402

NOP = "\n\ndef nop(x):\n    return 0.0\n"


def round_trip(sandbox: Sandbox, folder: Path, calls: int = 300) -> tuple[float, float]:
    """Wall and grader CPU seconds per call of a function that computes nothing."""
    with SubmissionRunner(sandbox, load_submission(folder), timeout_s=10) as run:
        run.call("nop", ("x", np.ones(3)))
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            run.call("nop", ("x", np.ones(3)), fresh=True)
        return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20, help="reference copies to grade (default 20)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workspace:
        paths = []
        for index in range(args.count + 2):  # two to warm up
            paths.append(Path(workspace) / f"student{index:03d}")
            shutil.copytree(ROOT / "reference", paths[-1], ignore=shutil.ignore_patterns("__pycache__"))
        nop = Path(workspace) / "nop"
        shutil.copytree(ROOT / "reference", nop, ignore=shutil.ignore_patterns("__pycache__"))
        (nop / "numpy_net.py").write_text((nop / "numpy_net.py").read_text() + NOP)

        options = GradingOptions()
        sandbox = options.open_sandbox()
        try:
            grade_many(paths[:2], options, sandbox=sandbox)
            assert sandbox._process is not None
            before = cpu_of_tree(sandbox._process.pid)
            zygote = next(pid for pid, (name, _, _) in before.items() if name.startswith("python"))
            faults = reaped_page_faults(zygote)
            wall, cpu = time.perf_counter(), time.process_time()
            reports = grade_many(paths[2:], options, sandbox=sandbox)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            after = cpu_of_tree(sandbox._process.pid)
            faults = reaped_page_faults(zygote) - faults
            call_wall, call_cpu = round_trip(sandbox, nop)
        finally:
            sandbox.close()
        assert all(report.score == report.max_score for report in reports), "the reference must pass"
    each = 1000 / args.count
    print(f"{args.count} reference copies, one warm sandbox ({sandbox.layers['mode']})")
    print(f"  wall per submission:                    {wall * each:6.0f} ms")
    print(f"  grader process CPU:                     {cpu * each:6.0f} ms")
    pythons = [pid for pid, (name, _, _) in after.items() if pid in before and name.startswith("python")]
    for role, pid in zip(("zygote", "its uid killer"), pythons):  # the zygote first, then what it started
        _, own, reaped = after[pid]
        print(f"  {role + ' own CPU:':<40}{(own - before[pid][1]) * each:6.1f} ms"
              f"   children it reaped: {(reaped - before[pid][2]) * each:6.1f} ms")
    print(f"  page faults per child:                  {faults / args.count:6.0f}   (mostly copies of the zygote's pages)")
    print(f"  one call's round trip (nop):            {call_wall * 1e6:6.0f} us wall, {call_cpu * 1e6:.0f} us of it "
          "grader CPU")
    print(f"  numerics alone, in process:             {numerics_per_submission() * 1000:6.0f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
