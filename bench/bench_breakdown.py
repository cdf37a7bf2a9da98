"""Where one correct submission's grading time goes, process by process.

    .venv/bin/python bench/bench_breakdown.py [--count 20]

Grades ``--count`` copies of ``reference/`` with one warm sandbox (one
worker, as each batch worker does) and reads the CPU time of every process
involved from ``/proc``: the grader's own process (the checks, encoding,
comparisons, messages), the zygote (forking and sweeping children) and the
children it reaped (confinement, the calls, exit). Then it times one round
trip of a call that computes nothing (``nop``, added to a copy of the
reference), and the numerics alone: the reference's calls of one submission
in this process (``bench_batch.numerics_per_submission``).

Last, it reads the same calls' time from inside the children: copies of the
reference whose entry points add up their own CPU time (``CLOCK``, appended
to each file) are graded through the same runner and check suite, and an
extra call after the checks reads the sum and the child's CPU so far. So the
child's CPU splits into its start (fork, confinement, files, imports), the
student's functions and the rest of its calls (the harness: arguments,
seeding, the check for modified arguments, replies), and its exit. Each
child alternates with the same clocked calls made in this process, so that
both see the same moments of the machine: what a freshly forked process
(cold caches, copied pages) costs the numerics. Inside a child the CPU clock
advances by scheduler ticks (2 to 4 ms: its CPU limit, ``RLIMIT_CPU``, arms
the process-wide CPU timer, which the clock then reads), so these figures
are means over the copies. A script, not a test; the machine's speed
varies, so compare figures from one run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_batch import InProcessRunner, numerics_per_submission  # noqa: E402
from process_cpu import cpu_of_tree, reaped_page_faults  # noqa: E402
from grader.checks import run_checks  # noqa: E402
from grader.grading import GradingOptions, grade_many  # noqa: E402
from grader.rubric import load_rubric  # noqa: E402
from grader.runner import SubmissionRunner  # noqa: E402
from grader.sandbox import Sandbox  # noqa: E402
from grader.submission import load_submission  # noqa: E402

NOP = "\n\ndef nop(x):\n    return 0.0\n"

# Appended to a reference file: its entry points add their CPU time to one sum per process (outermost calls
# only: Net.forward also runs inside train_torch), and bench_clock() returns (that sum, the process's CPU now,
# its CPU when the last of the two files had been imported).
CLOCK = """

def _bench_timed(function):
    import functools, sys, time
    clock = sys.modules.setdefault("_bench_clock", type(sys)("_bench_clock"))
    if not hasattr(clock, "inside"):
        clock.inside, clock.depth = 0.0, 0
    clock.imported = time.process_time()

    @functools.wraps(function)
    def timed(*args, **kwargs):
        clock.depth += 1
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            clock.depth -= 1
            if clock.depth == 0:
                clock.inside += time.process_time() - started
    return timed


for _name in ("relu", "softmax", "forward_np", "loss_np", "grad_w1_np", "grad_w2_np", "train_np",
              "forward_torch", "grad_w1_torch", "train_torch"):
    if _name in globals():
        globals()[_name] = _bench_timed(globals()[_name])
if "Net" in globals():
    Net.__init__, Net.forward = _bench_timed(Net.__init__), _bench_timed(Net.forward)


def bench_clock():
    import sys, time
    clock = sys.modules["_bench_clock"]
    return clock.inside, time.process_time(), clock.imported
"""


def round_trip(sandbox: Sandbox, folder: Path, calls: int = 300) -> tuple[float, float]:
    """Wall and grader CPU seconds per call of a function that computes nothing."""
    with SubmissionRunner(sandbox, load_submission(folder), timeout_s=10) as run:
        run.call("nop", ("x", np.ones(3)))
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            run.call("nop", ("x", np.ones(3)), fresh=True)
        return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls


class _ClockedRunner(SubmissionRunner):
    """Reads the child's clocks (``bench_clock``) after the checks, just before the child is closed."""

    readings: list[tuple[float, float, float]] = []

    def close(self) -> None:
        if self._child is not None:
            self.readings.append(self.call("bench_clock"))
        super().close()


@dataclass(frozen=True)
class ChildClock:
    """Mean CPU seconds per child, read inside it, and of the same calls in this process."""

    imported: float  # once both files are imported
    inside: float  # in the student's functions
    last_call: float  # up to its last call
    reaped: float  # in all, exit included
    in_process: float  # the same clocked calls in this process, alternated with the children


def inside_the_child(sandbox: Sandbox, folder: Path, count: int) -> ChildClock:
    """Grade ``folder`` (the reference with ``CLOCK`` appended to both files) ``count`` times, reading clocks."""
    rubric, submission = load_rubric(), load_submission(folder)
    torch.set_num_threads(1)  # as in the sandbox
    run_checks([_ClockedRunner(sandbox, submission, timeout_s=10)], rubric)  # warm-up
    run_checks([InProcessRunner(folder)], rubric)
    _ClockedRunner.readings = []
    assert sandbox._process is not None
    zygote = _zygote(sandbox._process.pid)
    reaped, in_process = 0.0, 0.0
    for _ in range(count):
        before = cpu_of_tree(sandbox._process.pid)[zygote][2]
        [results] = run_checks([_ClockedRunner(sandbox, submission, timeout_s=10)], rubric)
        reaped += cpu_of_tree(sandbox._process.pid)[zygote][2] - before
        assert all(result.status == "pass" for result in results), "the clocked reference must pass"
        sys.modules["_bench_clock"].inside = 0.0  # this process's sum, from the InProcessRunner's modules
        run_checks([InProcessRunner(folder)], rubric)
        in_process += sys.modules["_bench_clock"].inside
    inside, last_call, imported = (sum(column) / count for column in zip(*_ClockedRunner.readings))
    return ChildClock(imported=imported, inside=inside, last_call=last_call, reaped=reaped / count,
                      in_process=in_process / count)


def _zygote(root: int) -> int:
    return next(pid for pid, (name, _, _) in cpu_of_tree(root).items() if name.startswith("python"))


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
        clocked = Path(workspace) / "clocked"
        shutil.copytree(ROOT / "reference", clocked, ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("numpy_net.py", "torch_net.py"):
            (clocked / name).write_text((clocked / name).read_text() + CLOCK)

        options = GradingOptions()
        sandbox = options.open_sandbox()
        try:
            grade_many(paths[:2], options, sandbox=sandbox)
            assert sandbox._process is not None
            before = cpu_of_tree(sandbox._process.pid)
            zygote = _zygote(sandbox._process.pid)
            faults = reaped_page_faults(zygote)
            wall, cpu = time.perf_counter(), time.process_time()
            reports = grade_many(paths[2:], options, sandbox=sandbox)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            after = cpu_of_tree(sandbox._process.pid)
            faults = reaped_page_faults(zygote) - faults
            call_wall, call_cpu = round_trip(sandbox, nop)
            child = inside_the_child(sandbox, clocked, args.count)
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
    print(f"  one child's CPU, timed inside it:       {child.reaped * 1000:6.0f} ms as reaped:")
    print(f"    up to its imports (fork, confinement, files, the two imports): {child.imported * 1000:5.1f} ms")
    print(f"    the student's functions:                                      {child.inside * 1000:5.1f} ms "
          f"(the same calls in this process, alternated: {child.in_process * 1000:.1f} ms)")
    print(f"    the rest of its calls (harness: arguments, seeding, replies):  "
          f"{(child.last_call - child.imported - child.inside) * 1000:5.1f} ms")
    print(f"    after its last call (the clock's own call, exit):              "
          f"{(child.reaped - child.last_call) * 1000:5.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
