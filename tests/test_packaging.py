"""The wheel holds the whole package tree: every module the grader imports, its data files, the sandbox's side."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

PACKAGES = ("grader", "reference", "student_template")
DATA = {"grader/assignment/rubric.toml", "grader/schema/report.schema.json", "grader/schema/sample_report.json",
        "grader/sandbox/README.md", "student_template/README.md"}
# grader release's templates: every file git tracks under them (the package data "templates/*/*")
DATA |= set(subprocess.run(["git", "ls-files", "grader/release/templates"], capture_output=True, text=True,
                           cwd=ROOT, check=True).stdout.split())


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory) -> set[str]:
    """The file list of the wheel built from this checkout's sdist, as a release is (offline: the venv's setuptools).

    Building through the sdist also proves the sdist complete, and leaves out
    whatever a stale ``build/`` folder in the checkout holds.
    """
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "deprecat" not in (done.stdout + done.stderr).lower()  # license metadata and the like
    [wheel] = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _tree() -> set[str]:
    """Every source file of the packages in the checkout (what git tracks, __pycache__ aside)."""
    listed = subprocess.run(["git", "ls-files", *PACKAGES], capture_output=True, text=True, cwd=ROOT, check=True)
    return {name for name in listed.stdout.split() if name.endswith(".py")} | DATA


def test_the_wheel_holds_every_file_of_the_package_tree_and_nothing_else(wheel_files):
    packaged = {name for name in wheel_files if ".dist-info/" not in name}
    assert _tree() - packaged == set(), "missing from the wheel"
    assert packaged - _tree() == set(), "in the wheel but not in the package tree"
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in wheel_files)


def test_the_wheel_holds_the_sandboxs_side_and_every_module_the_grader_imports(wheel_files):
    assert {"grader/inside/zygote.py", "grader/inside/harness.py", "grader/inside/wire.py"} <= wheel_files
    for name in sorted(n for n in wheel_files if n.startswith("grader/") and n.endswith(".py")):
        if "/release/kit/" in name:  # the student kit's sources: they import nn_selfcheck, not grader
            continue
        for module in _imported_modules(name):
            if module.split(".")[0] not in PACKAGES:
                continue
            candidates = {module.replace(".", "/") + ".py", module.replace(".", "/") + "/__init__.py"}
            assert candidates & wheel_files, f"{name} imports {module}, which the wheel lacks"


def _imported_modules(name: str) -> set[str]:
    """Absolute names of the project modules ``name`` imports (relative imports resolved)."""
    package = name.split("/")[:-1]  # the package a relative import starts from
    found = set()
    for node in ast.walk(ast.parse((ROOT / name).read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names
                      if (ROOT / module.replace(".", "/") / alias.name).is_dir()
                      or (ROOT / (module.replace(".", "/") + f"/{alias.name}.py")).exists()}
    return found
