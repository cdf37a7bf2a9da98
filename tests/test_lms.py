"""The TA's day: LMS downloads in, gradebook and exports out, who failed and why, copies flagged.

Pure pieces (archives, layouts, roster, exports, outcomes, copy leads) are
tested on small files at the speed of functions. One Canvas "Download
Submissions" folder (flat files, a late zip, the untouched template, an
import error, a copy, and four hostile archives) is graded once for the
module through the command line; the other tests read that run's outputs.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import jsonschema
import pytest

from conftest import REFERENCE, ROOT, SUBMISSIONS, TEMPLATE, assemble
from grader.batch import archives, copies, exports, gradebook, layouts, outcomes, roster
from grader.batch.run import Entry, discover
from grader.cli import main

SCHEMA = json.loads((ROOT / "grader" / "schema" / "report.schema.json").read_text())


# ---------------------------------------------------------------- archives


def _zip(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def _tar(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            bundle.addfile(info)
    return path


UNSAFE = {
    "dotdot.zip": (lambda p: _zip(p, {"hw/numpy_net.py": b"", "../../escaped.py": b"x = 1\n"}), "outside the archive"),
    "absolute.zip": (lambda p: _zip(p, {"/tmp/absolute_escape.py": b"x = 1\n"}), "absolute path"),
    "symlink.zip": (lambda p: _zip(p, {"a.py": b""}, links={"numpy_net.py": "/etc/passwd"}), "symbolic link"),
    "bomb.zip": (lambda p: _zip(p, {"numpy_net.py": b"0" * (60 << 20)}), "zip bomb"),
    "dotdot.tar.gz": (lambda p: _tar(p, {"../escaped.py": b"x = 1\n"}), "outside the archive"),
    "symlink.tar.gz": (lambda p: _tar(p, {}, links={"numpy_net.py": "../../reference/numpy_net.py"}), "link"),
    "many.zip": (lambda p: _zip(p, {f"f{i}.py": b"" for i in range(archives.MAX_FILES + 1)}), "more than"),
}


@pytest.mark.parametrize("name", sorted(UNSAFE))
def test_an_unsafe_archive_is_refused_with_a_one_line_reason_and_writes_nothing(tmp_path, name):
    make, reason = UNSAFE[name]
    archive = make(tmp_path / name)
    destination = tmp_path / "out" / "unpacked"
    with pytest.raises(archives.ArchiveError) as refused:
        archives.unpack(archive, destination)
    assert reason in str(refused.value) and "\n" not in str(refused.value)
    assert not destination.exists()  # what was written before the refusal is gone
    assert not list(tmp_path.rglob("escaped.py")) and not Path("/tmp/absolute_escape.py").exists()


def test_a_safe_archive_is_unpacked_and_its_single_top_folder_looked_through(tmp_path):
    archive = _zip(tmp_path / "hw2.zip", {"hw2/numpy_net.py": b"x = 1\n", "hw2/torch_net.py": b"y = 2\n",
                                          "__MACOSX/hw2/._numpy_net.py": b"junk"})
    archives.unpack(archive, tmp_path / "out")
    root = archives.submission_root(tmp_path / "out")
    assert root.name == "hw2" and sorted(p.name for p in root.iterdir()) == ["numpy_net.py", "torch_net.py"]
    assert archives.archive_stem("hw2.tar.gz") == "hw2" and archives.is_archive(Path("HW.ZIP"))


# ---------------------------------------------------------------- layouts


def _arrange(directory: Path, tmp_path: Path, layout: str = "auto") -> tuple[str, dict[str, Entry]]:
    found, entries = layouts.arrange(discover(directory), directory=directory, layout=layout,
                                     staging=tmp_path / "staging")
    return found, {entry.name: entry for entry in entries}


def test_canvas_files_are_grouped_per_student_with_id_late_flag_and_original_names(tmp_path):
    folder = tmp_path / "download"
    folder.mkdir()
    (folder / "smithbob_1001_5001_numpy_net.py").write_text("a = 1\n")
    (folder / "smithbob_1001_5001_torch_net-1.py").write_text("b = 2\n")  # resubmitted: Canvas adds -1
    _zip(folder / "leeann_LATE_1002_5002_hw2.zip", {"hw2/numpy_net.py": b"c = 3\n"})
    found, entries = _arrange(folder, tmp_path)
    assert found == "canvas" and sorted(entries) == ["leeann", "smithbob"]
    bob, ann = entries["smithbob"], entries["leeann"]
    assert sorted(p.name for p in bob.path.iterdir()) == ["numpy_net.py", "torch_net.py"]
    assert bob.student == layouts.Student(id="1001", late=False, files=(
        "smithbob_1001_5001_numpy_net.py", "smithbob_1001_5001_torch_net-1.py"))
    assert ann.student.late and ann.student.id == "1002" and (ann.path / "numpy_net.py").read_text() == "c = 3\n"


def test_moodle_and_gradescope_downloads_name_their_students(tmp_path):
    moodle = tmp_path / "moodle"
    (moodle / "Ann Lee_731_assignsubmission_file_").mkdir(parents=True)
    (moodle / "Ann Lee_731_assignsubmission_file_" / "numpy_net.py").write_text("a = 1\n")
    (moodle / "Ann Lee_731_assignsubmission_onlinetext_").mkdir()
    (moodle / "Ann Lee_731_assignsubmission_onlinetext_" / "onlinetext.html").write_text("<p>hi</p>")
    found, entries = _arrange(moodle, tmp_path / "m")
    assert found == "moodle" and list(entries) == ["Ann Lee"]
    assert entries["Ann Lee"].student.id == "731" and [p.name for p in entries["Ann Lee"].path.iterdir()] == [
        "numpy_net.py"]

    gradescope = tmp_path / "gradescope"
    (gradescope / "submission_9001").mkdir(parents=True)
    (gradescope / "submission_9001" / "hw.ipynb").write_text("{}")
    (gradescope / "submission_metadata.yml").write_text(
        "submission_9001:\n  :submitters:\n  - :name: Bo Chen\n    :sid: '42'\n    :email: bo@example.edu\n")
    found, entries = _arrange(gradescope, tmp_path / "g")
    assert found == "gradescope" and list(entries) == ["Bo Chen"]
    assert entries["Bo Chen"].student.email == "bo@example.edu" and entries["Bo Chen"].student.id == "42"


# ---------------------------------------------------------------- roster, exports, outcomes, copies


def test_the_roster_finds_missing_students_and_submissions_not_on_it():
    students = roster.parse_roster("Student,ID,SIS User ID,SIS Login ID,Section\n"
                                   "Points Possible,,,,\n"
                                   "Bob Smith,1001,s1,bsmith,A\nAnn Lee,1002,s2,alee,B\nZed Gone,1003,s3,zgone,B\n")
    found = roster.match_roster(students, {"smithbob": {"id": "1001"}, "alee": None, "stranger": None})
    assert {name: s.name for name, s in found.students.items()} == {"smithbob": "Bob Smith", "alee": "Ann Lee"}
    assert [s.name for s in found.missing] == ["Zed Gone"] and found.unknown == ("stranger",)
    with pytest.raises(roster.RosterError, match="names no name, id or email column"):
        roster.parse_roster("colour,size\nred,3\n")


def test_the_lms_exports_have_the_columns_each_lms_imports():
    rows = [gradebook.GradebookRow("alice", "graded", 87.5, 100.0, student_id="1001", full_name="Alice Liddell",
                                   login="alice"),
            gradebook.GradebookRow("=evil()", "not implemented", 0.0, 100.0, student_id="1002"),
            gradebook.GradebookRow("Zed Gone", gradebook.MISSING, student_id="1003", email="z@example.edu")]
    assert exports.canvas_csv(rows, assignment="HW2 (4242)", points=100) == (
        "Student,ID,SIS User ID,SIS Login ID,Section,HW2 (4242)\n"
        "Points Possible,,,,,100\n"
        "'=evil(),1002,,,,0\n"
        "Alice Liddell,1001,,alice,,87.5\n"
        "Zed Gone,1003,,,,\n")
    moodle = exports.moodle_csv(rows, points=100).splitlines()
    assert moodle[0] == "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Feedback comments"
    assert moodle[2] == "Participant 1001,Alice Liddell,,graded,87.5,100,autograder: 87.5 / 100 (graded)"
    assert moodle[3] == "Participant 1003,Zed Gone,z@example.edu,missing,,100,no submission"


def _report(*messages: tuple[str, str]) -> dict:
    checks = [{"id": f"task1/f/c{i}", "function": "f", "status": status, "message": message}
              for i, (status, message) in enumerate(messages)]
    return {"status": "graded", "tasks": [{"id": "task1", "checks": checks}]}


def test_outcomes_tell_not_implemented_from_import_errors_and_timeouts():
    assert outcomes.classify(_report(("error", "relu is not implemented yet: it raises NotImplementedError"),
                                     ("error", "Net is missing: torch_net.py does not define it"))).status == \
        outcomes.NOT_IMPLEMENTED
    imported = outcomes.classify(_report(("pass", "ok"), ("error", "numpy_net.py could not be imported: "
                                                          "ModuleNotFoundError: No module named 'sklearn'")))
    assert imported.status == outcomes.IMPORT_ERROR and "No module named 'sklearn'" in imported.why
    timed = outcomes.classify(_report(("pass", "ok"), ("error", "train_np: timed out after 2 s")))
    assert timed == outcomes.Outcome(outcomes.TIMED_OUT, "timed out in f")
    assert outcomes.classify(_report(("pass", "ok"), ("fail", "wrong"))).status == outcomes.GRADED
    assert outcomes.classify(None).status == outcomes.MISSING


def test_copies_ignore_comments_layout_and_the_template():
    solution = (REFERENCE / "numpy_net.py").read_text()
    disguised = "# all my own work\n" + solution.replace("    ", "  ").replace("\n\n", "\n")
    template = copies.template_sources()
    renamed = solution.replace("h = ", "hidden = ").replace("(h)", "(hidden)").replace("probs", "p")
    found = copies.find_copies({"alice": solution, "mallory": disguised, "carol": renamed,
                                "t1": "\n".join(template), "t2": "\n".join(template)}, template=template)
    assert found.identical == (("alice", "mallory"),)  # two untouched templates are no lead
    assert {(p.first, p.second) for p in found.similar} == {("alice", "carol"), ("carol", "mallory")}
    assert all(p.share > 0.9 for p in found.similar)
    again = copies.find_copies({"alice": solution, "bob": solution, "carol": renamed}, template=template)
    assert again.identical == (("alice", "bob"),)  # fingerprinted once, compared for each name
    assert {(p.first, p.second) for p in again.similar} == {("alice", "carol"), ("bob", "carol")}


# ---------------------------------------------------------------- a Canvas class, graded once

IMPORT_ERROR = "import sklearn_is_not_installed_here\nfrom _correct_numpy_net import *  # noqa: F403\n"


def build_canvas_download(root: Path) -> Path:
    """Canvas's "Download Submissions", unzipped: flat files named login[_LATE]_userid_submissionid_name."""
    folder = root / "submissions"
    folder.mkdir()
    shutil.copy(REFERENCE / "numpy_net.py", folder / "alice_1001_9001_numpy_net.py")
    shutil.copy(REFERENCE / "torch_net.py", folder / "alice_1001_9002_torch_net.py")
    bob = assemble(SUBMISSIONS / "one_bug" / "loss_np", root / "bob-work")
    _zip(folder / "bob_LATE_1002_9003_hw2.zip", {f"hw2/{p.name}": p.read_bytes() for p in bob.iterdir()})
    for module in ("numpy_net", "torch_net"):
        shutil.copy(TEMPLATE / f"{module}.py", folder / f"carol_1003_9004_{module}.py")
    dave = assemble(SUBMISSIONS / "one_bug" / "relu", root / "dave-work")
    (dave / "numpy_net.py").write_text(IMPORT_ERROR)
    _zip(folder / "dave_1004_9005_dave.zip", {p.name: p.read_bytes() for p in dave.iterdir()})
    copied = "# written alone at 3am\n" + (REFERENCE / "numpy_net.py").read_text().replace("    ", "  ")
    (folder / "mallory_1006_9006_numpy_net.py").write_text(copied)
    shutil.copy(REFERENCE / "torch_net.py", folder / "mallory_1006_9006_torch_net.py")
    for login, user, name in (("eve", 1007, "dotdot.zip"), ("frank", 1008, "absolute.zip"),
                              ("gina", 1009, "symlink.zip"), ("hank", 1010, "bomb.zip")):
        UNSAFE[name][0](folder / f"{login}_{user}_9{user}_{name}")
    return folder


ROSTER = ("Student,ID,SIS User ID,SIS Login ID,Section\n"
          "Alice Liddell,1001,,alice,A\nBob Builder,1002,,bob,A\nCarol Danvers,1003,,carol,B\n"
          "Dave Bowman,1004,,dave,B\nZed Absent,1099,,zed,B\n")
HOSTILE_ARCHIVES = {"eve": "outside the archive", "frank": "absolute path", "gina": "symbolic link",
                    "hank": "zip bomb"}


@pytest.fixture(scope="module")
def canvas_class(tmp_path_factory):
    """The download graded once through the command line: (output folder, exit code, stdout)."""
    root = tmp_path_factory.mktemp("canvas")
    folder = build_canvas_download(root)
    (root / "roster.csv").write_text(ROSTER)
    rubric = root / "rubric.toml"
    rubric.write_text((ROOT / "grader" / "assignment" / "rubric.toml").read_text().replace(
        "call_timeout_s = 10.0", "call_timeout_s = 2.0"))
    output = root / "reports"
    with pytest.MonkeyPatch.context() as patch:
        out = io.StringIO()
        patch.setattr("sys.stdout", out)
        code = main(["batch", str(folder), "-o", str(output), "-j", "2", "--rubric", str(rubric),
                     "--roster", str(root / "roster.csv"), "--export", "canvas", "--export", "moodle",
                     "--assignment", "HW2 (4242)"])
    return output, code, out.getvalue()


def _reports(output: Path) -> dict[str, dict]:
    return {path.name[: -len(".json")]: json.loads(path.read_text()) for path in output.glob("*.json")}


def test_a_canvas_download_is_graded_one_submission_per_student(canvas_class):
    output, code, stdout = canvas_class
    reports = _reports(output)
    assert code == 0 and "layout: canvas" in stdout
    assert sorted(reports) == ["alice", "bob", "carol", "dave", "eve", "frank", "gina", "hank", "mallory"]
    for report in reports.values():
        jsonschema.validate(report, SCHEMA)
    assert reports["alice"]["score"] == 100 and reports["alice"]["student"]["id"] == "1001"
    assert reports["bob"]["student"]["late"] is True and not reports["alice"]["student"]["late"]
    assert 0 < reports["bob"]["score"] < 100  # its zip's top folder was looked through


def test_hostile_archives_are_refused_with_a_reason_and_the_rest_graded(canvas_class):
    reports = _reports(canvas_class[0])
    for name, reason in HOSTILE_ARCHIVES.items():
        assert reports[name]["status"] == "error" and reason in reports[name]["error"], name
    assert not list(canvas_class[0].parent.rglob("escaped.py"))
    assert reports["mallory"]["score"] == 100


def test_the_gradebook_says_who_failed_why_and_who_is_missing(canvas_class):
    output = canvas_class[0]
    rows = {row["name"]: row for row in gradebook.read_gradebook(output / "grades.csv")}
    assert rows["alice"]["status"] == "graded" and rows["alice"]["student_id"] == "1001"
    assert rows["bob"]["late"] == "late" and rows["alice"]["late"] == "on time"
    assert rows["carol"]["status"] == "not implemented" and rows["dave"]["status"] == "import error"
    assert rows["Zed Absent"]["status"] == "missing" and rows["Zed Absent"]["score"] == ""
    assert "not on the roster: eve, frank, gina, hank, mallory" in canvas_class[2]
    canvas = (output / exports.CANVAS_FILE).read_text().splitlines()
    assert canvas[:2] == ["Student,ID,SIS User ID,SIS Login ID,Section,HW2 (4242)", "Points Possible,,,,,100"]
    assert "Alice Liddell,1001,,alice,A,100" in canvas and "Zed Absent,1099,,zed,B," in canvas
    moodle = (output / exports.MOODLE_FILE).read_text()
    assert ",Alice Liddell,,graded,100,100," in moodle and "Participant" not in moodle  # not Moodle's ids


def test_the_class_page_lists_every_student_hints_copies_and_links_readable_reports(canvas_class):
    output = canvas_class[0]
    page = (output / "summary.html").read_text()
    assert '<table id="students">' in page and page.count('href="pages/') == 9
    assert "sklearn_is_not_installed_here is not installed in the grading environment" in page and "not implemented" in page and "Zed Absent" in page
    assert "Most frequent hints" in page and "Possible copies" in page and "alice, mallory" in page
    assert "<script" not in page and page.count("<rect") == 10
    bob = (output / "pages" / "bob.html").read_text()
    assert "task2/loss_np" in bob and "<b>late</b>" in bob and 'href="../summary.html"' in bob


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_the_class_page_renders_in_a_headless_browser(canvas_class, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium here (Debian: apt-get install chromium)")
    page = (canvas_class[0] / "summary.html").as_uri()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "summary.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,1600", page], capture_output=True,
                   timeout=120, check=False)
    assert shot.exists() and shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = subprocess.run([*flags, "--dump-dom", page], capture_output=True, text=True, timeout=120).stdout
    assert '<table id="students">' in dom and ">alice</a>" in dom and "Zed Absent" in dom


def test_report_pages_written_during_a_batch_are_kept_and_pages_of_vanished_entries_removed(tmp_path):
    from grader.batch import report_page

    report_page.write_report_page(tmp_path, "alice", _report(("pass", "ok")))
    written = tmp_path / "pages" / "alice.html"
    os.utime(written, (0, 0))
    (tmp_path / "pages" / "gone.html").write_text("an entry no longer in the class")
    report_page.write_report_pages(tmp_path, {"alice": _report(("pass", "ok")), "bob": _report(("fail", "wrong")),
                                              "carol": None}, current={"alice"})
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == ["alice.html", "bob.html"]
    assert written.stat().st_mtime == 0  # written already from this report: not rendered again
    assert "wrong" in (tmp_path / "pages" / "bob.html").read_text()


_FIND_COPIES = """
import sys
from grader.batch import copies
source = open(sys.argv[1]).read()
found = copies.find_copies({"ann": source, "ben": source.replace("    ", "  ") + "# mine"})
print(found.identical, "matplotlib" in sys.modules)
print("-- end of the copies --", file=sys.stderr, flush=True)
import matplotlib
print(type(matplotlib.__path__).__name__, hasattr(matplotlib, "use"))
"""


def test_copies_are_found_without_loading_matplotlib_or_its_warnings(tmp_path):
    """copydetect loads matplotlib only for its own report: a batch never imports it, and never prints its warnings."""
    (tmp_path / "not-a-folder").write_text("")
    home = tmp_path / "not-a-folder" / "home"  # no one can write there, not even root
    environment = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                   "XDG_CACHE_HOME": str(home / ".cache")}
    environment.pop("MPLCONFIGDIR", None)
    done = subprocess.run([sys.executable, "-c", _FIND_COPIES, str(REFERENCE / "numpy_net.py")], env=environment,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["(('ann', 'ben'),) False", "list True"]  # later, the real matplotlib
    assert done.stderr.startswith("-- end of the copies --")  # nothing from matplotlib before


def test_a_copydetect_that_needs_matplotlib_when_it_loads_gets_the_real_one(tmp_path):
    fake = tmp_path / "copydetect"
    fake.mkdir()
    (fake / "__init__.py").write_text("import matplotlib\nBACKEND = matplotlib.get_backend()\n"
                                      "CodeFingerprint = compare_files = None\n")
    script = ("import sys; from grader.batch import copies; module = copies._import_copydetect(); "
              "print(module.__file__ == sys.argv[1], bool(module.BACKEND))")
    done = subprocess.run([sys.executable, "-c", script, str(fake / "__init__.py")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
                               "MPLCONFIGDIR": str(tmp_path / "mpl")}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_copies_found_meanwhile_equal_copies_found_at_once_and_failures_reach_the_caller(tmp_path, monkeypatch):
    folders = {name: assemble(REFERENCE, tmp_path / name) for name in ("ann", "ben")}
    assert copies.find_copies_meanwhile(folders)() == copies.find_copies(copies.submission_sources(folders),
                                                                          template=copies.template_sources())

    def broken(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(copies, "find_copies", broken)
    with pytest.raises(OSError, match="disk gone"):
        copies.find_copies_meanwhile(folders)()
