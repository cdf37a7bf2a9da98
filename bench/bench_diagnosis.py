"""How often a failing submission's hints name its mistake, and how often they name a wrong one.

    .venv/bin/python bench/bench_diagnosis.py [--verbose]

Grades, in one session, every buggy submission under
``tests/submissions/buggy/`` (one mistake each: a sample holds the definitions
it changes, completed with the reference by ``tests/conftest.py``'s
``assemble``; ``manifest.toml`` declares the hints that name the mistake, by
their names in ``grader.assignment.hints.HINTS``) and
the correct ones (``reference/`` and ``tests/submissions/correct/``). Prints:

- the diagnosis rate: share of buggy submissions with at least one failing
  check whose hint names the mistake (target >= 90%);
- the wrong-hint rate: share of buggy submissions with a hint that names
  another mistake (target <= 5%);
- hints given to correct submissions (target 0), and each correct
  submission's score (100);
- the same two rates for the held-out samples alone (``held_out = true``:
  written after the hints, to see how they generalise);
- the share of failing checks of buggy submissions that carry any hint;
- the grading time per submission.

A script, not a test (``tests/test_diagnosis.py`` holds the exact expectations).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import assemble  # noqa: E402
from grader.assignment import hints  # noqa: E402
from grader.grading import GradingOptions, grade_many  # noqa: E402

BUGGY = ROOT / "tests" / "submissions" / "buggy"
CORRECT = [ROOT / "reference", *sorted(p for p in (ROOT / "tests" / "submissions" / "correct").iterdir() if p.is_dir())]
TARGET_NAMED, TARGET_WRONG = 0.90, 0.05


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="print every hint of every buggy submission")
    args = parser.parse_args(argv)

    manifest = tomllib.loads((BUGGY / "manifest.toml").read_text())
    names = sorted(manifest)
    options = GradingOptions()
    with tempfile.TemporaryDirectory() as folder:
        paths = [assemble(BUGGY / name, Path(folder) / name) for name in names] + CORRECT
        sandbox = options.open_sandbox()
        started = time.perf_counter()
        try:
            reports = grade_many(paths, options, sandbox=sandbox)
        finally:
            sandbox.close()
        seconds = time.perf_counter() - started

    named, wrong = [], []
    failing = hinted = 0
    print(f"{'submission':28} {'named':6} {'wrong':6} hints given (names)")
    for name, report in zip(names, reports):
        expected = set(manifest[name]["hints"])
        given = [(check.id, hints.identify(check.hint) or f"?{check.hint}")
                 for check in report.checks if check.status != "pass" and check.hint]
        failing += sum(check.status != "pass" for check in report.checks)
        hinted += len(given)
        found = {hint for _, hint in given}
        is_named, others = bool(found & expected), sorted(found - expected)
        named += [name] if is_named else []
        wrong += [name] if others else []
        flag = " (held out)" if manifest[name].get("held_out") else ""
        print(f"{name + flag:28} {'yes' if is_named else 'NO':6} {', '.join(others) or '-':6} {', '.join(sorted(found)) or '(none)'}")
        if args.verbose:
            for check_id, hint in given:
                print(f"    {check_id}: {hint}")
    correct_hints = 0
    for path, report in zip(CORRECT, reports[len(names):]):
        given = [check for check in report.checks if check.hint]
        correct_hints += len(given)
        print(f"correct {path.name:20} score {report.score:g}/{report.max_score:g}, hints {len(given)}")
        for check in given:
            print(f"    {check.id}: {check.hint}")

    total = len(names)
    named_rate, wrong_rate = len(named) / total, len(wrong) / total
    print()
    print(f"diagnosis rate: {len(named)}/{total} = {named_rate:.0%} (target >= {TARGET_NAMED:.0%})"
          + (f"; not named: {', '.join(sorted(set(names) - set(named)))}" if len(named) < total else ""))
    print(f"wrong-hint rate: {len(wrong)}/{total} = {wrong_rate:.0%} (target <= {TARGET_WRONG:.0%})"
          + (f"; {', '.join(wrong)}" if wrong else ""))
    held = [name for name in names if manifest[name].get("held_out")]
    if held:
        print(f"held out: {len(set(held) & set(named))}/{len(held)} named, {len(set(held) & set(wrong))}/{len(held)} "
              f"with a wrong hint")
    print(f"failing checks of buggy submissions with a hint: {hinted}/{failing} = {hinted / max(failing, 1):.0%}")
    print(f"hints on correct submissions: {correct_hints} (target 0)")
    print(f"grading time: {seconds / len(paths) * 1000:.0f} ms per submission ({len(paths)} in {seconds:.1f} s, one session)")
    met = named_rate >= TARGET_NAMED and wrong_rate <= TARGET_WRONG and correct_hints == 0
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
