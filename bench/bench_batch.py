"""Benchmark batch mode against one fresh ``grader grade`` process per submission.

    .venv/bin/python bench/bench_batch.py [--count 300] [--jobs 2] [--fresh 3] [--keep]

Builds a class in a temporary folder: ``--count`` copies of ``reference/``
(folder submissions, all correct) plus a few wrong ones (the sample
submission, the untouched template, the hard-coded sample). Grades it with
``grader batch -j JOBS`` in a subprocess while sampling, every 50 ms, the
memory of the whole process tree through ``/proc`` (sum of RSS; and sum of
PSS every 0.5 s, which counts pages the forked children share once). Then
grades ``--fresh`` of the same submissions with one fresh ``grader grade``
process each. Prints the per-submission time of both, their ratio, the
batch's wall time (and how it splits into worker start-up and steady state)
and the peak memory, each against its target.

It also times the numerics alone, just before and just after the batch: the
reference's own functions, called in this process with exactly the arguments
the checks of one submission pass (:class:`InProcessRunner`), with no
sandbox, encoding or check, in a warm process (the fastest of a few rounds).
That is the yardstick for a machine whose speed varies (a shared virtual
machine). What the batch costs beyond it is the grader's overhead and what
the same calls cost more in a freshly forked process (cold caches, copied
pages); ``bench_breakdown.py`` times the calls inside the children to tell
the two apart. A script, not a test.

It measures the checkout it belongs to: its ``grader`` processes run in that
folder, which ``python -m`` puts first on the module path. So a copy in a
worktree (``git worktree add --detach /tmp/old HEAD~1``) measures the old
version, whichever folder it is started from.
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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRONG = {
    "wrong_sample": ROOT / "examples" / "sample_submission",
    "wrong_template": ROOT / "student_template",
    "wrong_hardcoded.py": ROOT / "tests" / "submissions" / "hardcoded.py",
}
PAGE = os.sysconf("SC_PAGE_SIZE")
TARGET_RATIO, TARGET_WALL_S, TARGET_PEAK_BYTES = 20.0, 25.0, 2 << 30
TARGET_STEADY_S = 0.080  # per correct submission, with -j 2


def build_class(directory: Path, count: int) -> int:
    """``count`` correct folder submissions and the wrong ones; returns how many entries."""
    for index in range(count):
        target = directory / f"student{index:04d}"
        target.mkdir()
        for module in ("numpy_net.py", "torch_net.py"):
            shutil.copy(ROOT / "reference" / module, target / module)
    for name, source in WRONG.items():
        if source.is_dir():
            shutil.copytree(source, directory / name)
        elif source.exists():
            shutil.copy(source, directory / name)
    return sum(1 for _ in directory.iterdir())


# ---------------------------------------------------------------- memory of a process tree


def _tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, frontier = [root], [root]
    while frontier:
        frontier = [child for pid in frontier for child in parents.get(pid, [])]
        found += frontier
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


@dataclass
class MemorySampler:
    """Samples a process tree's memory in a thread until :meth:`stop`."""

    root: int
    interval_s: float = 0.05
    pss_every: int = 10
    peak_rss: int = 0
    peak_pss: int = 0
    peak_processes: int = 0
    samples: int = 0
    root_cpu_s: float = 0.0  # the batch's main process alone, as last seen
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = _tree(self.root)
            self.root_cpu_s = max(self.root_cpu_s, _cpu_s(self.root))
            self.peak_rss = max(self.peak_rss, sum(map(_rss, pids)))
            self.peak_processes = max(self.peak_processes, len(pids))
            if self.samples % self.pss_every == 0:
                self.peak_pss = max(self.peak_pss, sum(map(_pss, pids)))
            self.samples += 1
            self._stop.wait(self.interval_s)


# ---------------------------------------------------------------- the numerics alone


class InProcessRunner:
    """Calls the functions of ``folder`` (the reference) in this process as the sandbox would, timing only the calls.

    Arguments are converted exactly as the harness converts them (float64
    arrays, float32 tensors), a repeated call is answered from the first
    reply unless ``fresh`` (as :class:`grader.runner.SubmissionRunner` does),
    and answers go through the wire encoding so that the checks read them
    as usual. ``seconds`` sums the CPU time of the calls alone.
    """

    def __init__(self, folder: Path = ROOT / "reference") -> None:
        import importlib.util

        from grader.runner import TORCH_FUNCTIONS

        self.torch_functions = TORCH_FUNCTIONS
        self.modules = {}
        for name in ("numpy_net", "torch_net"):
            spec = importlib.util.spec_from_file_location(f"_bench_{name}", folder / f"{name}.py")
            assert spec is not None and spec.loader is not None
            self.modules[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(self.modules[name])
        self.seconds = 0.0
        self._memo: dict[str, object] = {}

    def call(self, function: str, *args: tuple[str, object], fresh: bool = False) -> object:
        from grader.inside import harness, wire
        from grader.runner import encode_argument

        torch = function in self.torch_functions
        encoded = [encode_argument(value, tensor=torch) for _, value in args]
        key = json.dumps([function, encoded])
        if key in self._memo and not fresh:
            return self._memo[key]
        values = [harness._to_argument(wire.decode_value(value)) for value in encoded]
        module = self.modules["torch_net" if torch else "numpy_net"]
        harness._seed(0)
        started = time.process_time()
        result = harness._net_probe(module.Net, *values) if function == "Net" else getattr(module, function)(*values)
        self.seconds += time.process_time() - started
        self._memo[key] = answer = wire.decode_value(wire.encode_value(result))
        return answer

    def close(self) -> None:
        pass


def numerics_per_submission(rounds: int = 5) -> float:
    """CPU seconds of the reference's own calls for one submission (the fastest of ``rounds``)."""
    sys.path.insert(0, str(ROOT))
    import torch

    from grader.checks import run_checks
    from grader.rubric import load_rubric

    torch.set_num_threads(1)  # as in the sandbox
    rubric, best = load_rubric(), float("inf")
    for _ in range(rounds + 1):  # the first round pays torch's first use
        runner = InProcessRunner()
        [results] = run_checks([runner], rubric)
        failing = [result.id for result in results if result.status != "pass"]
        if failing:
            raise SystemExit(f"the reference fails in process: {', '.join(failing)}")
        best = min(best, runner.seconds)
    return best


# ---------------------------------------------------------------- the two ways of grading


@dataclass
class BatchRun:
    wall_s: float
    entries: int
    first_report_s: float  # worker start-up, roughly
    last_report_s: float
    report_durations: list[float]
    memory: MemorySampler
    exit_code: int
    cpu_s: float  # user + system time of the whole process tree

    @property
    def per_submission_s(self) -> float:
        return self.wall_s / self.entries

    @property
    def steady_per_submission_s(self) -> float:
        return (self.last_report_s - self.first_report_s) / max(self.entries - 1, 1)


def run_batch(directory: Path, output: Path, jobs: int, entries: int) -> BatchRun:
    command = [sys.executable, "-m", "grader", "batch", str(directory), "-o", str(output), "-j", str(jobs)]
    cpu_before = _children_cpu_s()
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    memory = MemorySampler(process.pid).start()
    report_times: list[float] = []
    tail: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:  # not a terminal: one "[k/n] name: score" line per report
        if line.startswith("["):
            report_times.append(time.monotonic() - started)
        tail = (tail + [line])[-30:]
    code = process.wait()
    wall = time.monotonic() - started
    memory.stop()
    if code != 0:
        sys.stdout.write("".join(tail))
    durations = [json.loads(p.read_text())["duration_s"] for p in output.glob("*.json")]
    return BatchRun(wall_s=wall, entries=entries, first_report_s=report_times[0] if report_times else wall,
                    last_report_s=report_times[-1] if report_times else wall, report_durations=durations,
                    memory=memory, exit_code=code, cpu_s=_children_cpu_s() - cpu_before)


def _children_cpu_s() -> float:
    """CPU time of every reaped descendant (each process's own children are counted when it reaps them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_fresh(submissions: list[Path], output: Path) -> list[float]:
    """Seconds per submission, each graded by its own fresh ``grader grade`` process."""
    times = []
    for submission in submissions:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "grader", "grade", str(submission), "-o",
                        str(output / f"{submission.name}.json")], check=True, capture_output=True, cwd=ROOT)
        times.append(time.monotonic() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="correct submissions (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="batch workers (default 2)")
    parser.add_argument("--fresh", type=int, default=3,
                        help="submissions graded by fresh processes (default 3; 0 skips the comparison)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary class and reports")
    args = parser.parse_args(argv)

    workspace = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        directory, output, fresh_output = workspace / "class", workspace / "reports", workspace / "fresh"
        directory.mkdir()
        fresh_output.mkdir()
        entries = build_class(directory, args.count)
        print(f"class: {args.count} correct + {entries - args.count} wrong submissions in {directory}")

        numerics_before = numerics_per_submission()  # the machine's speed drifts: the yardstick brackets the batch
        batch = run_batch(directory, output, args.jobs, entries)
        numerics_after = numerics_per_submission()
        fresh = run_fresh(sorted(directory.iterdir())[: args.fresh], fresh_output)
        fresh_each = statistics.fmean(fresh) if fresh else None
        ratio = fresh_each / batch.per_submission_s if fresh_each is not None else None
        mib = 1 << 20

        print(f"batch -j {args.jobs}: {entries} submissions in {batch.wall_s:.1f} s (exit code {batch.exit_code})")
        print(f"  per submission (wall / count):           {batch.per_submission_s * 1000:7.0f} ms")
        print(f"  first report after (worker start-up):    {batch.first_report_s:7.1f} s")
        print(f"  steady state, per submission:            {batch.steady_per_submission_s * 1000:7.0f} ms "
              f"({args.jobs} workers)")
        print(f"  grading time inside a worker (median):   {statistics.median(batch.report_durations) * 1000:7.0f} ms")
        print(f"  CPU per submission, whole process tree:  {batch.cpu_s / entries * 1000:7.0f} ms "
              f"(main process alone: {batch.memory.root_cpu_s:.1f} s in all)")
        print(f"  peak memory, sum of RSS over the tree:   {batch.memory.peak_rss / mib:7.0f} MiB "
              f"({batch.memory.peak_processes} processes, {batch.memory.samples} samples)")
        print(f"  peak memory, sum of PSS (every 0.5 s):   {batch.memory.peak_pss / mib:7.0f} MiB")
        if fresh_each is not None and ratio is not None:
            print(f"fresh `grader grade` per submission:       {fresh_each * 1000:7.0f} ms "
                  f"(n={len(fresh)}: {', '.join(f'{t:.1f}' for t in fresh)} s)")
            print(f"ratio fresh / batch per submission:        {ratio:7.1f}x")
        numerics = (numerics_before + numerics_after) / 2
        steady_cpu = batch.steady_per_submission_s * min(args.jobs, os.cpu_count() or 1)
        print(f"numerics alone (the reference's calls of one submission, in process, CPU): "
              f"{numerics_before * 1000:.0f} ms just before the batch, {numerics_after * 1000:.0f} ms just after")
        print(f"  steady state x cores in use:             {steady_cpu * 1000:7.0f} ms per submission, "
              f"of which {(steady_cpu - numerics) * 1000:.0f} ms beyond the numerics")
        print()
        correct_wall = batch.wall_s * args.count / entries
        steady = batch.steady_per_submission_s
        checks = [] if ratio is None else [
            (f"batch >= {TARGET_RATIO:g}x faster per submission", ratio >= TARGET_RATIO, f"{ratio:.1f}x")]
        checks += [
            (f"steady state <= {TARGET_STEADY_S * 1000:g} ms per submission with -j {args.jobs}",
             steady <= TARGET_STEADY_S, f"{steady * 1000:.0f} ms"),
            (f"{args.count} correct in < {TARGET_WALL_S:g} s", correct_wall < TARGET_WALL_S,
             f"{correct_wall:.1f} s (pro rata of {batch.wall_s:.1f} s for {entries})"),
            (f"peak < {TARGET_PEAK_BYTES >> 30} GiB (sum of RSS)", batch.memory.peak_rss < TARGET_PEAK_BYTES,
             f"{batch.memory.peak_rss / mib:.0f} MiB"),
        ]
        for label, met, value in checks:
            print(f"{'MET   ' if met else 'MISSED'} {label}: {value}")
        return 0 if batch.exit_code == 0 else 1
    finally:
        if args.keep:
            print(f"kept {workspace}")
        else:
            shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
