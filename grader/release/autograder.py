"""The release's grading artefacts: Gradescope's ``autograder.zip`` and GitHub Classroom's workflows.

The Gradescope bundle needs the grader's own wheel and the versions it was
tested with: ``--wheel`` gives a built one; otherwise it is built from the
source checkout this grader runs from (``pip wheel``, offline, no build
isolation); an installed grader without ``--wheel`` skips the bundle and
says so. The constraints are the checkout's ``constraints.txt`` or, for
an installed grader, the installed versions of everything it depends on.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from . import ReleaseContext, ReleaseError
from .classroom import write_classroom
from .gradescope_zip import write_gradescope

PROJECT = Path(__file__).resolve().parents[2]  # the checkout, when the grader runs from one
DISTRIBUTION = "nn-autograder"


def write_gradescope_bundle(out_dir: Path, context: ReleaseContext) -> list[Path]:
    """``OUT_DIR/gradescope/autograder.zip`` (the course secret inside, if one is set)."""
    secret = None if context.secret is None else context.secret.decode("utf-8", "surrogateescape")
    if context.wheel is None and not (PROJECT / "pyproject.toml").is_file():
        print("grader release: gradescope/autograder.zip skipped: this grader is installed, not a source checkout; "
              "pass --wheel nn_autograder-*.whl (from `python -m build`) to write it", file=sys.stderr)
        return []
    with tempfile.TemporaryDirectory(prefix="nngrader-release-") as scratch:
        wheel = context.wheel or _build_wheel(Path(scratch))
        constraints = PROJECT / "constraints.txt"
        if not (PROJECT / "pyproject.toml").is_file() or not constraints.is_file():
            constraints = Path(scratch) / "constraints.txt"
            constraints.write_text(installed_constraints())
        if not Path(wheel).is_file():
            raise ReleaseError(f"--wheel {wheel}: no such file")
        try:
            return [write_gradescope(out_dir, wheel=Path(wheel), constraints=constraints, secret=secret)]
        except ValueError as exc:  # not a grader wheel
            raise ReleaseError(f"--wheel {exc}") from None


def write_classroom_workflows(out_dir: Path, context: ReleaseContext) -> list[Path]:
    """``OUT_DIR/classroom/``: the student repository's and the course repository's workflows."""
    return write_classroom(out_dir)


def _build_wheel(destination: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(destination), str(PROJECT)], capture_output=True, text=True)
    wheels = sorted(destination.glob("nn_autograder-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no wheel was written"])[-1]
        raise ReleaseError(f"gradescope: could not build the grader wheel ({last})")
    return wheels[0]


def installed_constraints() -> str:
    """``name==version`` for the grader's dependencies as installed here, recursively (no extras)."""
    pins: dict[str, str] = {}
    todo = [DISTRIBUTION]
    while todo:
        name = todo.pop()
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = distribution.metadata["Name"]
        if key in pins:
            continue
        pins[key] = distribution.version
        for requirement in distribution.requires or []:
            if "extra ==" in requirement:
                continue
            todo.append(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
    pins.pop(metadata.distribution(DISTRIBUTION).metadata["Name"], None)
    return "".join(f"{name}=={version}\n" for name, version in sorted(pins.items(), key=lambda kv: kv[0].lower()))
