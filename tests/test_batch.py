"""Batch mode: every entry gets a report, the gradebook has every row, nothing is lost or redone.

One class folder mixes correct, wrong, broken and hostile submissions, a
notebook, a file that is not a submission and a hidden folder. It is graded
once for the module (two warm workers, a 2 s call timeout so that the hanging
sample costs little); the other tests reuse or copy that run's outputs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import nbformat
import pytest

from conftest import REFERENCE, ROOT, SUBMISSIONS, TEMPLATE, assemble, short_timeout_options
from grader.batch import class_summary, gradebook
from grader.batch import run as batch
from grader.cli import main
from grader.rubric import load_rubric

SCHEMA = json.loads((ROOT / "grader" / "schema" / "report.schema.json").read_text())
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "mallory", "notes.txt"]

HOSTILE = '''"""Looks around, tries to forge a report and to kill its parent, then reports what it saw."""
import os
import signal

from _correct_numpy_net import *  # noqa: F403

SEEN = {}
for label, folder in (("class", __CLASS__), ("reports", __REPORTS__)):
    try:
        SEEN[label] = sorted(os.listdir(folder))
    except OSError as exc:
        SEEN[label] = type(exc).__name__
try:
    with open(os.path.join(__REPORTS__, "forged.json"), "w") as handle:
        handle.write('{"score": 100}')
    SEEN["forged"] = "written"
except OSError as exc:
    SEEN["forged"] = type(exc).__name__
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError as exc:
    SEEN["kill"] = type(exc).__name__


def relu(h):
    raise RuntimeError(f"seen: {SEEN}")
'''


def short_timeout_rubric(path: Path) -> Path:
    """The packaged rubric with a 2 s call timeout, as a file for ``--rubric``."""
    text = (ROOT / "grader" / "assignment" / "rubric.toml").read_text()
    assert "call_timeout_s = 10.0" in text
    path.write_text(text.replace("call_timeout_s = 10.0", "call_timeout_s = 2.0"))
    return path


def notebook_of(sources: list[str], path: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    cells = [source.replace("from __future__ import annotations\n", "") for source in sources]
    notebook.cells = [nbformat.v4.new_markdown_cell("# Homework 2")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(notebook, str(path))
    return path


def build_class(root: Path) -> tuple[Path, Path]:
    """A class folder (and where its reports go) holding every kind of entry."""
    directory, output = root / "class", root / "class-reports"
    directory.mkdir()
    shutil.copytree(REFERENCE, directory / "alice")                                    # correct
    shutil.copytree(TEMPLATE, directory / "bob")                                       # not started
    assemble(SUBMISSIONS / "one_bug" / "loss_np", directory / "carol")                 # one bug
    assemble(SUBMISSIONS / "broken" / "hang_in_train", directory / "dave")             # hangs
    shutil.copy(SUBMISSIONS / "hardcoded.py", directory / "erin.py")                   # visible answers only
    notebook_of([(REFERENCE / "numpy_net.py").read_text(), (REFERENCE / "torch_net.py").read_text()],
                directory / "frank.ipynb")                                             # a notebook
    assemble(SUBMISSIONS / "one_bug" / "grad_w1_np", directory / "grace")              # one bug
    mallory = assemble(SUBMISSIONS / "one_bug" / "relu", directory / "mallory")        # hostile
    hostile = HOSTILE.replace("__CLASS__", repr(str(directory))).replace("__REPORTS__", repr(str(output)))
    (mallory / "numpy_net.py").write_text(hostile)
    (directory / "notes.txt").write_text("grading notes, not a submission\n")          # not a submission
    (directory / ".git").mkdir()                                                       # hidden: ignored
    (directory / ".git" / "numpy_net.py").write_text("raise SystemExit\n")
    return directory, output


def batch_argv(directory: Path, output: Path, rubric: Path, *extra: str) -> list[str]:
    return ["batch", str(directory), "-o", str(output), "-j", "2", "--rubric", str(rubric), *extra]


def reports_in(output: Path) -> dict[str, dict]:
    return {path.name[:-len(".json")]: json.loads(path.read_text()) for path in output.glob("*.json")}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """The class graded once, uninterrupted: (directory, output, rubric file, exit code)."""
    root = tmp_path_factory.mktemp("batch")
    directory, output = build_class(root)
    rubric = short_timeout_rubric(root / "rubric.toml")
    code = main(batch_argv(directory, output, rubric))
    return directory, output, rubric, code


# ---------------------------------------------------------------- one full run


def test_every_entry_gets_a_valid_report(graded_class):
    directory, output, _, code = graded_class
    assert code == 0
    reports = reports_in(output)
    assert sorted(reports) == NAMES  # .git is not a submission
    for name, report in reports.items():
        jsonschema.validate(report, SCHEMA)
        assert report["submission"] == name
        assert len([c for t in report["tasks"] for c in t["checks"]]) == 59


def test_each_kind_of_submission_gets_its_own_grade(graded_class):
    reports = reports_in(graded_class[1])
    assert reports["alice"]["score"] == 100 and reports["frank"]["score"] == 100  # folder and notebook
    assert reports["bob"]["status"] == "graded" and reports["bob"]["score"] == 0

    def losing(name: str) -> set[str]:
        return {c["id"].rsplit("/", 1)[0] for t in reports[name]["tasks"] for c in t["checks"]
                if c["score"] < c["max_score"]}

    assert "task2/loss_np" in losing("carol") and "task1/relu" not in losing("carol")
    assert "task2/grad_w1_np" in losing("grace") and "task2/loss_np" not in losing("grace")
    hung = {c["id"]: c for t in reports["dave"]["tasks"] for c in t["checks"]}
    assert "timed out after 2 s" in hung["task3/train_np/x1"]["message"]
    assert hung["task1/forward_np/x1"]["status"] == "pass"
    erin = [c for t in reports["erin"]["tasks"] for c in t["checks"]]
    assert all(c["status"] == "pass" for c in erin if c["visibility"] == "visible")
    assert not any(c["status"] == "pass" for c in erin if c["visibility"] == "hidden" and c["function"] != "Net")
    notes = reports["notes.txt"]
    assert notes["status"] == "error" and "not a submission" in notes["error"]


def test_a_hostile_submission_sees_no_other_submission_and_forges_nothing(graded_class):
    directory, output, _, _ = graded_class
    reports = reports_in(output)
    mallory = {c["id"]: c for t in reports["mallory"]["tasks"] for c in t["checks"]}
    message = mallory["task1/relu/visible"]["message"]
    assert "seen:" in message
    assert "'forged': 'written'" not in message and not (output / "forged.json").exists()
    assert reports["mallory"]["sandbox"]["unprivileged_user"]
    if reports["mallory"]["sandbox"]["strong"]:  # bubblewrap hides the class and the reports
        assert "alice" not in message and "grades.csv" not in message
    assert mallory["task1/softmax/visible"]["status"] == "pass"  # it broke only its own relu
    assert reports["alice"]["score"] == 100


def test_the_gradebook_has_a_row_per_submission(graded_class):
    output = graded_class[1]
    rows = {row["name"]: row for row in gradebook.read_gradebook(output / batch.GRADEBOOK)}
    assert sorted(rows) == NAMES
    assert list(next(iter(rows.values()))) == ["name", "score", "max_score", "task1", "task2", "task3", "status"]
    assert rows["alice"] == {"name": "alice", "score": "100", "max_score": "100", "task1": "30", "task2": "30",
                             "task3": "40", "status": "graded"}
    assert rows["notes.txt"]["status"] == "error" and rows["notes.txt"]["score"] == "0"
    reports = reports_in(output)
    for name, row in rows.items():
        assert float(row["score"]) == pytest.approx(reports[name]["score"])


def test_the_class_summary_page_is_self_contained_with_a_histogram(graded_class):
    page = (graded_class[1] / batch.SUMMARY_PAGE).read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and page.count("<rect") == 10
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "task2/grad_w1_np/h2" in page and "notes.txt" in page and "not a submission" in page


# ---------------------------------------------------------------- re-runs


def test_a_rerun_grades_nothing_and_force_regrades_everything(graded_class, tmp_path, capsys):
    directory, output, rubric, _ = graded_class
    copy = tmp_path / "reports"
    shutil.copytree(output, copy)
    before = {path.name: path.stat().st_mtime_ns for path in copy.glob("*.json")}
    capsys.readouterr()

    assert main(batch_argv(directory, copy, rubric)) == 0
    out = capsys.readouterr().out
    assert f"{len(NAMES)} submission(s): {len(NAMES)} up to date, 0 to grade" in out and "[1/" not in out
    assert {path.name: path.stat().st_mtime_ns for path in copy.glob("*.json")} == before
    assert gradebook.read_gradebook(copy / batch.GRADEBOOK) == gradebook.read_gradebook(output / batch.GRADEBOOK)

    assert main(batch_argv(directory, copy, rubric, "--force")) == 0
    out = capsys.readouterr().out
    assert f"0 up to date, {len(NAMES)} to grade" in out
    assert f"[{len(NAMES)}/{len(NAMES)}]" in out  # plain progress lines when not on a terminal
    assert all(path.stat().st_mtime_ns != before[path.name] for path in copy.glob("*.json"))
    assert gradebook.read_gradebook(copy / batch.GRADEBOOK) == gradebook.read_gradebook(output / batch.GRADEBOOK)


def test_a_report_is_stale_when_the_submission_rubric_or_grader_changes(tmp_path):
    options = short_timeout_options()
    folder = shutil.copytree(REFERENCE, tmp_path / "alice")
    config = batch.config_fingerprint(options)
    report = {"schema_version": 1, "submission": "alice", "status": "graded", "config_hash": config,
              "content_hash": batch.entry_identity(folder).removeprefix("content:")}
    assert batch.is_up_to_date(report, name="alice", identity=batch.entry_identity(folder), config=config)

    (folder / "numpy_net.py").write_text((folder / "numpy_net.py").read_text() + "\n# edited\n")
    assert not batch.is_up_to_date(report, name="alice", identity=batch.entry_identity(folder), config=config)

    rubric = load_rubric()
    changed = dataclasses.replace(rubric, limits=dataclasses.replace(rubric.limits, cpu_s=rubric.limits.cpu_s + 1))
    assert batch.config_fingerprint(dataclasses.replace(options, rubric=changed)) != config
    assert batch.config_fingerprint(dataclasses.replace(options, visible_only=True)) != config
    assert batch.config_fingerprint(short_timeout_options()) == config  # but stable otherwise

    grader_failure = {**report, "internal_errors": [{"check": "batch", "traceback": "..."}]}
    assert not batch.is_up_to_date(grader_failure, name="alice", identity=batch.entry_identity(folder),
                                   config=config)


# ---------------------------------------------------------------- interruptions and crashes


def _descendants(pid: int) -> set[int]:
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), set()).add(int(stat.parent.name))
    found, frontier = set(), {pid}
    while frontier:
        frontier = set().union(*(children.get(p, set()) for p in frontier)) - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_an_interrupted_batch_resumes_to_the_same_gradebook(graded_class, tmp_path, how):
    directory, output, rubric, _ = graded_class
    resumed = tmp_path / "reports"
    command = [sys.executable, "-m", "grader", *batch_argv(directory, resumed, rubric)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(resumed.glob("*.json")):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.02)
    tree = _descendants(process.pid)
    process.send_signal(how)
    process.wait(timeout=60)

    kept = {path.name: path.stat().st_mtime_ns for path in resumed.glob("*.json")}
    assert 1 <= len(kept) < len(NAMES)  # stopped partway
    for path in resumed.glob("*.json"):
        json.loads(path.read_text())  # every report on disk is whole
    if how == signal.SIGINT:
        assert process.returncode == 130 and "interrupted" in process.stderr.read()
        rows = gradebook.read_gradebook(resumed / batch.GRADEBOOK)
        assert sorted(row["name"] for row in rows) == NAMES
        assert {row["status"] for row in rows if row["name"] + ".json" not in kept} == {"missing"}
    time.sleep(0.5)
    stop = time.monotonic() + 20  # workers and sandboxes go down with the batch
    while any(_alive(pid) for pid in tree) and time.monotonic() < stop:
        time.sleep(0.1)
    assert not [pid for pid in tree if _alive(pid)]

    assert main(batch_argv(directory, resumed, rubric)) == 0
    assert {name: resumed.joinpath(name).stat().st_mtime_ns for name in kept} == kept  # not graded again
    assert gradebook.read_gradebook(resumed / batch.GRADEBOOK) == gradebook.read_gradebook(output / batch.GRADEBOOK)
    assert (resumed / batch.GRADEBOOK).read_bytes() == (output / batch.GRADEBOOK).read_bytes()


def crashing_worker(connection, options_blob, require_strong):
    """A pool worker whose process dies while it grades an entry named ``a_crash``."""
    from grader import grading
    from grader.batch import pool as workers

    real_grade_many = grading.grade_many

    def grade_many(paths, options, *, sandbox=None, on_start=None, on_report=None):
        reports = []
        for index, path in enumerate(paths):
            if on_start is not None:
                on_start(index)
            if Path(path).name == "a_crash":
                os._exit(3)
            reports.extend(real_grade_many([path], options, sandbox=sandbox))
            if on_report is not None:
                on_report(index, reports[-1])
        return reports

    grading.grade_many = grade_many
    workers.serve(connection, options_blob, require_strong)


def test_a_crashing_worker_costs_only_its_submission(tmp_path):
    directory = tmp_path / "class"
    directory.mkdir()
    for name in ("a_crash", "alice"):
        shutil.copytree(REFERENCE, directory / name)
    shutil.copy(SUBMISSIONS / "hardcoded.py", directory / "erin.py")
    output = tmp_path / "reports"
    options = short_timeout_options()
    result = batch.grade_batch(directory=directory, output=output, options=options, jobs=1,
                               worker=crashing_worker)
    reports = reports_in(output)
    assert sorted(reports) == ["a_crash", "alice", "erin"]
    crashed = reports["a_crash"]
    jsonschema.validate(crashed, SCHEMA)
    assert crashed["status"] == "error" and "worker exited with code 3" in crashed["error"]
    assert crashed["max_score"] == 100 and crashed["internal_errors"]
    assert reports["alice"]["score"] == 100 and reports["erin"]["status"] == "graded"  # a new worker took over
    assert result.failures == ["a_crash"] and not result.complete
    identity = batch.entry_identity(directory / "a_crash")
    assert not batch.is_up_to_date(crashed, name="a_crash", identity=identity,
                                   config=batch.config_fingerprint(options))


# ---------------------------------------------------------------- pieces, without workers


def test_discovery_skips_hidden_entries_and_the_report_folder(tmp_path):
    (tmp_path / "alice.py").write_text("")
    (tmp_path / "bob").mkdir()
    (tmp_path / "carol.ipynb").write_text("")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "reports").mkdir()
    entries = batch.discover(tmp_path, exclude=[tmp_path / "reports"])
    assert [(e.name, e.path.name) for e in entries] == [("alice", "alice.py"), ("bob", "bob"),
                                                        ("carol", "carol.ipynb")]
    (tmp_path / "alice").mkdir()
    clash = batch.discover(tmp_path, exclude=[tmp_path / "reports"])[0]
    assert clash.name == "alice" and clash.conflict == "alice, alice.py are all named 'alice'; rename all but one"


def test_a_missing_folder_or_bad_jobs_is_a_one_line_usage_error(capsys, tmp_path):
    assert main(["batch", "no/such/class"]) == 2
    assert capsys.readouterr().err == "grader: error: no/such/class: no such file or folder\n"
    assert main(["batch", str(tmp_path), "-j", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_gradebook_is_exact_and_safe_in_a_spreadsheet():
    rows = [gradebook.row_from_report("=cmd()", {"status": "graded", "score": 87.5, "max_score": 100,
                                                  "tasks": [{"id": "task1", "score": 33.33333}]}),
            gradebook.row_from_report("bob", None)]
    assert gradebook.gradebook_csv(rows) == ("name,score,max_score,task1,status\n"
                                             "'=cmd(),87.5,100,33.3333,graded\n"
                                             "bob,,,,missing\n")


def test_the_class_summary_counts_and_escapes():
    check = {"id": "task1/relu/visible", "status": "pass", "score": 1.0, "max_score": 1.0}
    reports = {
        name: {"status": "graded", "score": score, "max_score": 100.0,
               "tasks": [{"id": "task1", "title": "Forward pass", "score": score, "max_score": 100.0,
                          "checks": [{**check, "status": "pass" if score else "fail"}]}]}
        for name, score in (("a", 100.0), ("b", 95.0), ("c", 0.0))
    }
    reports["<script>"] = {"status": "error", "error": "<b>not a submission</b>", "tasks": []}
    summary = class_summary.summarise(reports)
    assert summary.graded == 3 and summary.not_graded == (("<script>", "<b>not a submission</b>"),)
    assert [b.count for b in summary.histogram()] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 2]
    assert summary.checks[0].rate == pytest.approx(2 / 3)
    page = class_summary.render_html(summary)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;" in page
