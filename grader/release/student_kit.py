"""The student kit: ``OUT_DIR/student/`` and ``OUT_DIR/student.zip``.

What a student gets: the template (``numpy_net.py``, ``torch_net.py``), the
handout (``README.md``) and a self-check, the ``nn-selfcheck`` distribution
(``pip install ./student``, or ``python check.py`` without installing).

The self-check runs the grader's own visible checks, so its messages and
hints are the grader's by construction:

- the grader's checking code is copied word for word into
  ``nn_selfcheck/_grader/`` (:data:`MIRRORED`; ``grader.`` imports renamed);
- what must stay with the course is replaced by data: ``assignment/cases``,
  ``expected`` and ``hints`` become look-ups in ``nn_selfcheck/data.json``,
  which holds the visible cases and every answer the visible checks asked
  for, recorded while the reference is graded on the visible checks
  (:func:`export_data`; whatever cases and hints the assignment defines flow
  in without listing them here, as long as a hint depends on the case and not
  on the student's answer; public text constants of both modules are copied);
- the sandbox becomes a child process with a deadline per call
  (``kit/nn_selfcheck/_grader/sandbox``).

The kit holds no reference code, no hidden case, no hidden expected value
and no seed: ``tests/test_release.py`` scans every file for them.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from .. import __version__
from ..assignment import cases, expected, hints
from ..grading import GradingOptions, grade
from ..rubric import Tolerance
from . import ReleaseContext, ReleaseError
from .kit.nn_selfcheck import datafile

GRADER_DIR = Path(__file__).resolve().parents[1]
KIT_SOURCE = Path(__file__).resolve().parent / "kit"
PACKAGE = "nn_selfcheck"
STUDENT = "student"
# The grader's modules the self-check runs word for word (relative to grader/; globs allowed).
MIRRORED = (
    "compare.py", "report.py", "runner.py", "submission.py", "summary.py", "junit.py",
    "safe_text.py", "formatting.py", "notebook.py",
    "inside/__init__.py", "inside/wire.py", "inside/harness.py", "inside/notebook_runtime.py",
    "checks/__init__.py", "checks/collect.py", "checks/rehearse.py", "sandbox/errors.py",
    "assignment/checks/*.py", "assignment/state.py",
)
TEMPLATE_FILES = ("numpy_net.py", "torch_net.py", "README.md")
RECORDED_MODULES = (expected, hints)  # what the checks ask about a case; replaced by recorded answers
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: the same release gives the same zip

PYPROJECT = f"""\
# The self-check of the two-layer network homework. Install: pip install ./student
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "nn-selfcheck"
version = "{__version__}"
description = "Self-check for the two-layer network homework: the grader's visible checks, offline"
readme = "README.md"
# No tomllib or other 3.11-only code: 3.10 works (Colab and most course images have 3.10 or later).
requires-python = ">=3.10"
# torch is deliberately not listed: your homework environment has it already, and pip
# would otherwise download a multi-GB build. The NumPy checks run without it.
dependencies = [
    "numpy>=1.25",
    "pytest>=8.4",            # collects the grader's checks (a pytest suite)
    "rich>=13",               # the grader's terminal summary
    "nbformat>=5.9",          # reading .ipynb files
]

[project.scripts]
nn-selfcheck = "nn_selfcheck.__main__:main"

[tool.setuptools]
py-modules = []  # the template files beside this file are yours, not part of the package

[tool.setuptools.packages.find]
include = ["nn_selfcheck*"]

[tool.setuptools.package-data]
nn_selfcheck = ["data.json"]
"""


def write(out_dir: Path, context: ReleaseContext) -> list[Path]:
    """Write ``out_dir/student/`` and ``out_dir/student.zip`` (replacing earlier ones)."""
    files = kit_files(export_data(context))
    folder = Path(out_dir) / STUDENT
    if folder.exists():
        shutil.rmtree(folder)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    archive = Path(out_dir) / f"{STUDENT}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            info = zipfile.ZipInfo(f"{STUDENT}/{name}", date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, content)
    return [folder, archive]


# ---------------------------------------------------------------- files


def kit_files(data: dict[str, Any]) -> dict[str, bytes]:
    """Every file of the kit, by path inside ``student/``, in a stable order."""
    files: dict[str, bytes] = {}
    template = resources.files("student_template")
    for name in TEMPLATE_FILES:
        files[name] = template.joinpath(name).read_bytes()
    files["pyproject.toml"] = PYPROJECT.encode()
    for path in sorted(KIT_SOURCE.rglob("*.py")):
        if "__pycache__" not in path.parts:
            files[path.relative_to(KIT_SOURCE).as_posix()] = path.read_bytes()
    for relative, source in mirrored_sources().items():
        files[f"{PACKAGE}/_grader/{relative}"] = source.encode()
    files[f"{PACKAGE}/_grader/_tolerance.py"] = _tolerance_module().encode()
    files[f"{PACKAGE}/data.json"] = (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode()
    return dict(sorted(files.items()))


def mirrored_sources() -> dict[str, str]:
    """The grader's modules the kit runs, with ``grader.`` imports renamed; path (under grader/) -> source."""
    sources: dict[str, str] = {}
    for pattern in MIRRORED:
        matches = sorted(GRADER_DIR.glob(pattern))
        if not matches:
            raise ReleaseError(f"grader/{pattern}: missing from the installed grader")
        for path in matches:
            sources[path.relative_to(GRADER_DIR).as_posix()] = rename_imports(path.read_text("utf-8"))
    return sources


_GRADER_IMPORT = re.compile(r"^(\s*)(from|import)\s+grader(?=[\s.])", re.MULTILINE)


def rename_imports(source: str) -> str:
    """``from grader.x import y`` -> ``from nn_selfcheck._grader.x import y`` (relative imports stay)."""
    return _GRADER_IMPORT.sub(rf"\1\2 {PACKAGE}._grader", source)


def _tolerance_module() -> str:
    return ('"""The grader\'s tolerance, copied at release from grader/rubric.py."""\n\n'
            "from __future__ import annotations\n\nfrom dataclasses import dataclass\n\n\n"
            + inspect.getsource(Tolerance))


# ---------------------------------------------------------------- data


def export_data(context: ReleaseContext) -> dict[str, Any]:
    """The self-check's ``data.json``: visible cases, recorded answers, points and tolerances.

    The reference is graded on the visible checks while every public function
    of :mod:`~grader.assignment.expected` and :mod:`~grader.assignment.hints`
    records what it returned for a visible case; hidden cases are never run
    nor recorded. The release stops if the reference does not pass.
    """
    lists = cases.case_lists()  # visible cases are the same in every case set
    uids: dict[int, str] = {}
    specs: dict[str, Any] = {}
    for items in lists.values():
        for case in items:
            if case.visible and id(case) not in uids:
                uids[id(case)] = uid = f"c{len(uids)}"
                specs[uid] = {"kind": type(case).__name__,
                              "fields": {f.name: datafile.encode(getattr(case, f.name), _no_case)
                                         for f in dataclasses.fields(case)}}

    def case_uid(value: Any) -> str | None:
        return uids.get(id(value)) if dataclasses.is_dataclass(value) and not isinstance(value, type) else None

    answers: dict[str, Any] = {}
    reference = _reference_folder()
    with _recording(answers, case_uid):
        report = grade(reference, GradingOptions(rubric=context.rubric, visible_only=True))
    failing = [check.id for check in report.checks if check.status != "pass"]
    if failing or not report.checks:
        raise ReleaseError(f"the reference does not pass its visible checks ({', '.join(failing) or 'none ran'})")
    groups: dict[str, dict[str, Any]] = {}
    for check in report.checks:
        group_id = check.id.rsplit("/", 1)[0]
        tolerance = context.rubric.group(group_id).tolerance
        group = groups.setdefault(group_id, {"points": 0.0, "checks": 0, "shares": [], "rtol": tolerance.rtol,
                                             "atol": tolerance.atol})
        group["points"] += check.max_score
        group["checks"] += 1
        group["shares"].append(check.max_score)  # each visible check's points, in suite order
    return {
        "format": datafile.FORMAT,
        "grader": __version__,
        "total": context.rubric.total,
        "task_titles": context.rubric.task_titles,
        "call_timeout_s": context.rubric.limits.call_timeout_s,
        "groups": groups,
        "lists": {name: [uids[id(c)] for c in items if c.visible] for name, items in lists.items()},
        "cases": specs,
        "answers": dict(sorted(answers.items())),
        "constants": {module.__name__.rsplit(".", 1)[1]: _constants(module) for module in RECORDED_MODULES},
    }


def _constants(module: Any) -> dict[str, Any]:
    """The public text and number constants of a module (hint texts that checks may name directly)."""
    return {name: value for name, value in sorted(vars(module).items())
            if not name.startswith("_") and isinstance(value, (str, int, float)) and not isinstance(value, bool)}


def _no_case(value: Any) -> None:
    return None


def _reference_folder() -> Path:
    spec = find_spec("reference")
    if spec is None or not spec.submodule_search_locations:
        raise ReleaseError("the reference solution is not installed: cannot record the visible answers")
    return Path(list(spec.submodule_search_locations)[0])


@contextmanager
def _recording(answers: dict[str, Any], case_uid: Callable[[Any], str | None]) -> Iterator[None]:
    """Replace the public functions of :data:`RECORDED_MODULES` by recorders for the duration."""
    originals: list[tuple[Any, str, Any]] = []

    def recorder(module: str, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            if any(case_uid(value) for value in (*args, *kwargs.values())):
                answers[datafile.call_key(module, name, args, kwargs, case_uid)] = datafile.encode(result, case_uid)
            return result

        return record

    for module in RECORDED_MODULES:
        short = module.__name__.rsplit(".", 1)[1]
        for name, value in list(vars(module).items()):
            if name.startswith("_") or isinstance(value, type) or not callable(value):
                continue
            if getattr(value, "__module__", None) != module.__name__:
                continue
            originals.append((module, name, value))
            setattr(module, name, recorder(short, name, value))
    try:
        yield
    finally:
        for module, name, value in originals:
            setattr(module, name, value)
