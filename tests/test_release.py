"""``grader release``: the student kit holds no answer, and its self-check says what ``grader check`` says."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import case_sets, cases, expected
from grader.grading import grade
from grader.release import ReleaseContext, release
from grader.rubric import load_rubric

from conftest import REFERENCE, ROOT, SUBMISSIONS, TEMPLATE, assemble

RUN_SELFCHECK = Path(__file__).with_name("kit") / "run_selfcheck.py"
SECRET = "a course secret for the release test\n"
TEXT_SUFFIXES = {".py", ".md", ".json", ".toml", ".txt"}

_SAMPLE_REPORT = json.loads((ROOT / "grader" / "schema" / "sample_report.json").read_text())
# the visible checks' points (the rubric splits each group's points over its cases, in ten-thousandths)
VISIBLE_POINTS = round(sum(check["max_score"] for task in _SAMPLE_REPORT["tasks"] for check in task["checks"]
                           if check["visibility"] == "visible"), 4)


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """``grader release OUT`` through the real command line, with a course secret set."""
    out = tmp_path_factory.mktemp("release")
    secret = out.parent / "secret.txt"
    secret.write_text(SECRET)
    done = subprocess.run([sys.executable, "-m", "grader", "release", str(out / "course"), "--secret-file", str(secret)],
                          capture_output=True, text=True, timeout=600, cwd=out)
    assert done.returncode == 0, done.stderr
    return out / "course"


@pytest.fixture(scope="module")
def kit(released) -> Path:
    return released / "student"


def kit_texts(kit: Path) -> dict[str, str]:
    """Every file of the kit folder and of the zip, as text (all of them are text)."""
    texts = {}
    for path in sorted(kit.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            texts[f"folder:{path.relative_to(kit)}"] = path.read_text("utf-8")
    with zipfile.ZipFile(kit.with_suffix(".zip")) as bundle:
        for name in bundle.namelist():
            texts[f"zip:{name}"] = bundle.read(name).decode("utf-8")
    return texts


# ---------------------------------------------------------------- what the kit holds


def test_the_zip_holds_exactly_the_folder(kit):
    folder = {str(p.relative_to(kit.parent)): p.read_bytes() for p in kit.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    with zipfile.ZipFile(kit.with_suffix(".zip")) as bundle:
        assert {name: bundle.read(name) for name in bundle.namelist()} == folder
    assert {"student/README.md", "student/numpy_net.py", "student/torch_net.py", "student/check.py",
            "student/pyproject.toml", "student/nn_selfcheck/data.json"} <= set(folder)


def test_the_kit_holds_the_template_and_the_handout_unchanged(kit):
    for name in ("numpy_net.py", "torch_net.py", "README.md"):
        assert (kit / name).read_bytes() == (TEMPLATE / name).read_bytes()


def _function_bodies(source: str) -> dict[str, str]:
    """Every function's body (docstring removed), unparsed: name -> normalised code."""
    bodies = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body = body[1:]
            if body:
                bodies[node.name] = "\n".join(ast.unparse(statement) for statement in body)
    return bodies


# Answer-holding code: the reference, and the grader modules that compute answers or hold hidden inputs.
SECRET_SOURCES = [REFERENCE / "numpy_net.py", REFERENCE / "torch_net.py",
                  ROOT / "grader" / "assignment" / "expected.py", ROOT / "grader" / "assignment" / "hints.py",
                  ROOT / "grader" / "assignment" / "cases.py", ROOT / "grader" / "assignment" / "case_sets.py"]


def test_no_file_of_the_kit_holds_reference_or_answer_code(kit):
    given = set()  # what the template itself hands out (dropout_masks): public by design
    for name in ("numpy_net.py", "torch_net.py"):
        given |= set(_function_bodies((TEMPLATE / name).read_text()).values())
    secret = {}
    for path in SECRET_SOURCES:
        for name, body in _function_bodies(path.read_text()).items():
            if body not in given and body.count("\n") + len(body) > 40:  # skip one-liners like "return self._x"
                secret[f"{path.name}:{name}"] = body
    assert len(secret) > 20
    texts = kit_texts(kit)
    flat = {name: re.sub(r"\s+", "", text) for name, text in texts.items()}
    for name, text in texts.items():
        if name.endswith(".py"):
            found = set(_function_bodies(text).values())
            assert not found & set(secret.values()), f"{name} holds the code of {[k for k, v in secret.items() if v in found]}"
    for label, body in secret.items():
        squeezed = re.sub(r"\s+", "", body)
        assert not any(squeezed in text for text in flat.values()), f"the kit holds the code of {label}"
    for name, text in texts.items():
        assert not re.search(r"^\s*(from|import)\s+reference\b", text, re.MULTILINE), name


def test_no_file_of_the_kit_holds_the_hidden_case_seeds(kit):
    lines = [line.strip() for line in (ROOT / "grader" / "assignment" / "cases.py").read_text().splitlines()]
    seeds = [line for line in lines if re.search(r"_hidden\w*\(|default_rng\(\d", line) and len(line) > 15]
    assert len(seeds) > 20
    for name, text in kit_texts(kit).items():
        for line in seeds:
            assert line not in text, f"{name} holds the hidden case line {line!r}"
        assert not re.search(r"\b(20[1-2]|2[1-7]\d)\b,\s*\(\d+,", text), name  # "201, (5, 7, 3)"


def _case_values(case_set: case_sets.CaseSet, *, visible: bool) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, expected values) of the hidden (or visible) cases, every finite non-integer number of them."""
    inputs, outputs = [], []
    for case in {id(c): c for items in case_set.lists().values() for c in items if c.visible == visible}.values():
        for field in dataclasses.fields(case):
            value = getattr(case, field.name)
            if isinstance(value, np.ndarray):
                inputs.append(value.ravel())
        if isinstance(case, cases.ArrayCase):
            outputs += [expected.relu(case).ravel(), expected.softmax(case).ravel()]
        elif isinstance(case, cases.NetCase):
            outputs += [expected.forward(case), expected.grad_w1(case).ravel(), expected.grad_w2(case).ravel(),
                        np.array([expected.loss(case)])]
        else:
            outputs += [part.ravel() for part in expected.train(case)]

    def informative(parts: list[np.ndarray]) -> np.ndarray:
        values = np.concatenate(parts)
        return values[np.isfinite(values) & (values != np.round(values))]

    return informative(inputs), informative(outputs)


NUMBER = re.compile(r"-?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+")


def test_no_file_of_the_kit_holds_a_hidden_input_or_expected_value(kit):
    numbers = np.array(sorted({float(m) for text in kit_texts(kit).values() for m in NUMBER.findall(text)}))
    assert len(numbers) > 100  # the visible cases' values and answers are there
    rubric = load_rubric()
    for case_set in (case_sets.default_case_set(), case_sets.draw_case_set(SECRET.strip().encode(), rubric)):
        inputs, outputs = _case_values(case_set, visible=False)
        assert len(inputs) > 200 and len(outputs) > 200
        # softmax([1000, 1001, 999]) == softmax([1, 2, 3]) reordered: a hidden value that a visible case
        # also produces is public anyway.
        public = np.concatenate(_case_values(case_set, visible=True))
        outputs = np.setdiff1d(outputs, public)
        leaked = np.intersect1d(numbers, np.concatenate([inputs, outputs]))
        assert leaked.size == 0, f"hidden values in the kit: {leaked[:5]}"
        # The hidden inputs are float32 numbers: a copy printed with float32 precision is a leak too.
        leaked32 = np.intersect1d(numbers.astype(np.float32), inputs.astype(np.float32))
        assert leaked32.size == 0, f"hidden inputs (as float32) in the kit: {leaked32[:5]}"
        # And so is one printed to 6 significant digits, as messages print numbers.
        printed = {f"{v:.6g}" for v in np.concatenate([inputs, outputs])}
        assert not printed & {f"{v:.6g}" for v in numbers}


def test_the_kit_never_mentions_the_secret_nor_the_case_set(kit):
    """Not even the fingerprint: with it, a weak secret could be guessed offline."""
    fingerprints = [case_sets.default_case_set().fingerprint,
                    case_sets.draw_case_set(SECRET.strip().encode(), load_rubric()).fingerprint]
    for name, text in kit_texts(kit).items():
        assert SECRET.strip() not in text, name
        assert not any(f.split(":")[1] in text for f in fingerprints), name


# ---------------------------------------------------------------- the self-check


def run_kit(kit: Path, *arguments: str | Path) -> list[dict]:
    done = subprocess.run([sys.executable, str(RUN_SELFCHECK), str(kit), *map(str, arguments)],
                          capture_output=True, text=True, timeout=600, cwd=kit.parent)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def checks_of(report: dict) -> list[tuple]:
    return [(c["id"], c["status"], c["score"], c["max_score"], c["message"], c["hint"])
            for task in report["tasks"] for c in task["checks"]]


def grader_check(path: Path, options, sandbox) -> list[tuple]:
    report = grade(path, dataclasses.replace(options, visible_only=True), sandbox=sandbox)
    return checks_of(report.to_json())


@pytest.fixture(scope="module")
def three_runs(kit, tmp_path_factory) -> tuple[Path, dict, dict, dict]:
    """The self-check of the reference (copied as a submission), the kit's own template and the sample."""
    reference = tmp_path_factory.mktemp("submissions") / "reference"
    reference.mkdir()
    for name in ("numpy_net.py", "torch_net.py"):
        shutil.copy(REFERENCE / name, reference / name)
    return (reference, *run_kit(kit, reference, kit, ROOT / "examples" / "sample_submission"))


def test_the_self_check_gives_the_reference_full_marks_the_template_not_implemented_and_the_sample_the_graders_messages(
        three_runs, options, sandbox):
    reference, on_reference, on_template, on_sample = three_runs
    sample = ROOT / "examples" / "sample_submission"

    assert on_reference["report"]["score"] == on_reference["report"]["max_score"] == pytest.approx(VISIBLE_POINTS)
    assert {c[1] for c in checks_of(on_reference["report"])} == {"pass"}
    assert checks_of(on_reference["report"]) == grader_check(reference, options, sandbox)

    template = checks_of(on_template["report"])
    assert template and all(status == "error" and "is not implemented yet" in message
                            for _, status, _, _, message, _ in template)
    assert template == grader_check(TEMPLATE, options, sandbox)

    sample_checks = checks_of(on_sample["report"])
    assert sample_checks == grader_check(sample, options, sandbox)
    assert sum(1 for c in sample_checks if c[1] == "fail") >= 4 and any(c[5] for c in sample_checks)
    assert "of 100 points" in on_sample["closing"]


def test_the_result_shows_as_a_short_table(three_runs):
    result = three_runs[3]
    assert result["repr"].count("\n") < 30 and f"{VISIBLE_POINTS:g}" in result["repr"]
    assert result["html"].startswith("<p><b>") and result["html"].count("<tr>") == 1 + len(checks_of(result["report"]))
    assert "hint:" in result["html"]


@pytest.fixture
def quick_kit(kit, tmp_path) -> Path:
    """A copy of the kit whose calls time out after 2 s (as the grader's test options do)."""
    copy = tmp_path / "student"
    shutil.copytree(kit, copy)
    data = json.loads((copy / "nn_selfcheck" / "data.json").read_text())
    data["call_timeout_s"] = 2.0
    (copy / "nn_selfcheck" / "data.json").write_text(json.dumps(data))
    return copy


def test_a_hang_or_a_crash_in_student_code_costs_its_checks_only(quick_kit, tmp_path, options, sandbox):
    submission = assemble(SUBMISSIONS / "broken" / "hang_and_crash", tmp_path / "hang_and_crash")
    [result] = run_kit(quick_kit, submission)
    checks = {c[0]: c for c in checks_of(result["report"])}
    assert checks["task1/relu/visible"][1:2] == ("error",) and "timed out after 2 s" in checks["task1/relu/visible"][4]
    assert "exited with code 3" in checks["task1/softmax/visible"][4]
    assert {c[1] for name, c in checks.items() if not name.startswith(("task1/relu", "task1/softmax"))} == {"pass"}
    assert checks_of(result["report"]) == grader_check(submission, options, sandbox)


def test_the_running_kernel_is_checked_and_survives_a_hang_and_a_crash(quick_kit, tmp_path, options, sandbox):
    """Colab: the functions defined in the running kernel, served by a fork of it."""
    submission = assemble(SUBMISSIONS / "broken" / "hang_and_crash", tmp_path / "hang_and_crash")
    first, second = run_kit(quick_kit, "--kernel", submission / "numpy_net.py", submission / "torch_net.py")
    assert checks_of(first["report"]) == checks_of(second["report"])
    by_id = {c[0]: c for c in checks_of(first["report"])}
    assert "timed out after 2 s" in by_id["task1/relu/visible"][4]
    assert "exited with code 3" in by_id["task1/softmax/visible"][4]
    graded = {c[0]: c[1] for c in grader_check(submission, options, sandbox)}
    assert {name: c[1] for name, c in by_id.items()} == graded


def test_a_missing_function_in_the_kernel_is_named(quick_kit, tmp_path):
    only_numpy = tmp_path / "cells.py"
    only_numpy.write_text((REFERENCE / "numpy_net.py").read_text())
    first, _ = run_kit(quick_kit, "--kernel", only_numpy)
    by_id = {c[0]: c for c in checks_of(first["report"])}
    assert by_id["task1/relu/visible"][1] == "pass"
    assert by_id["task1/Net/x1_mask"][4] == "Net is missing: your notebook does not define it"


def test_check_py_runs_from_another_folder_and_a_missing_path_is_one_line(kit, tmp_path):
    done = subprocess.run([sys.executable, str(kit / "check.py")], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"student: 0 / {VISIBLE_POINTS:g}" in done.stdout and "is not implemented yet" in done.stdout
    assert f"These are the visible checks only ({VISIBLE_POINTS:g} of 100 points)" in done.stdout
    done = subprocess.run([sys.executable, str(kit / "check.py"), "nope"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and done.stderr == "nn-selfcheck: error: nope: no such file or folder\n"


# ---------------------------------------------------------------- bad input


def test_release_refuses_a_non_empty_folder_without_force(released):
    done = subprocess.run([sys.executable, "-m", "grader", "release", str(released)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == f"grader: error: {released}: not empty (use --force to write into it anyway)\n"


def test_force_writes_into_a_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("kept")
    calls = []

    def writer(out, context):
        calls.append(out)
        return []

    release(tmp_path, force=True, context=ReleaseContext(), writers=[writer])
    assert calls == [tmp_path] and (tmp_path / "notes.txt").read_text() == "kept"


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_release_with_an_unusable_secret_file_is_a_one_line_error(tmp_path, make):
    secret = tmp_path / "secret"
    if make == "directory":
        secret.mkdir()
    done = subprocess.run([sys.executable, "-m", "grader", "release", str(tmp_path / "out"), "--secret-file",
                           str(secret)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"grader: error: {secret}: cannot read the secret file")
    assert not (tmp_path / "out").exists()


def test_the_data_codec_round_trips_exactly_and_keeps_hint_order():
    from grader.release.kit.nn_selfcheck import datafile

    case = cases.FORWARD[0]
    value = {"second hint": np.array([[0.1, 1 / 3]]), "first hint": (np.float64(2 / 7), None, [1, "x"])}
    encoded = json.loads(json.dumps(datafile.encode(value, lambda v: None)))
    decoded = datafile.decode(encoded, lambda uid: None)
    assert list(decoded) == ["second hint", "first hint"]
    assert decoded["second hint"].tolist() == [[0.1, 1 / 3]] and not decoded["second hint"].flags.writeable
    assert decoded["first hint"] == (2 / 7, None, [1, "x"])
    key = datafile.call_key("hints", "grad", (case, "dw1"), {}, lambda v: "c0" if v is case else None)
    assert json.loads(key) == ["hints", "grad", [{"case": "c0"}, "dw1"], {}]
