"""Attacks on the sandbox layer itself (issue 10, breaks 3, 4, 5, 11, 12), each with an exact expectation.

Every attack runs with and without bubblewrap (as root: own uid per child).
The last test checks that nothing of a child uid is left on the machine:
no process, file, kernel key or System V IPC object, after this module and
``test_attacks.py`` (which runs before it).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import ROOT, SUBMISSIONS, assemble, short_timeout_options
from grader.grading import grade
from grader.inside import wire
from grader.inside.sweep import remove_tree
from grader.sandbox import Child, Limits, Sandbox
from grader.sandbox import bubblewrap as bwrap
from grader.sandbox.uids import BLOCK_COUNT, BLOCK_SIZE, FIRST_UID, LOCK_DIRECTORIES

ATTACKS = SUBMISSIONS / "attacks_sandbox"
AS_ROOT = os.geteuid() == 0
BWRAP_PROBLEM = bwrap.probe(as_root=AS_ROOT)
CHILD_UIDS = range(FIRST_UID, FIRST_UID + BLOCK_SIZE * BLOCK_COUNT)
X86_64 = platform.machine() == "x86_64"
OTHERS: set[int] = set()  # child uids of other graders running on this machine (see the last test)

PROBE = textwrap.dedent('''
    import ctypes, errno, json, os, re

    class Report(Exception):
        """Carries what the probe saw back to the test, as JSON."""

    def report(**facts):
        raise Report(json.dumps(facts))

    libc = ctypes.CDLL(None, use_errno=True)

    def _syscall(number, *args):
        result = libc.syscall(number, *args)
        return result, ctypes.get_errno() if result == -1 else 0

    def kernel_channels():
        """Try every kernel object that outlives a process (x86-64 numbers)."""
        facts = {}
        facts["add_key"] = _syscall(248, b"user", b"nngrader-key", b"secret", 6, -4)  # KEY_SPEC_USER_KEYRING
        facts["keyctl"] = _syscall(250, 0, -4, 0)  # KEYCTL_GET_KEYRING_ID of the user keyring
        facts["shmget"] = _syscall(29, 0, 400 << 20, 0o1000 | 0o666)  # IPC_PRIVATE, IPC_CREAT
        facts["semget"] = _syscall(64, 0, 1, 0o1000 | 0o666)
        facts["msgget"] = _syscall(68, 0, 0o1000 | 0o666)
        facts["unshare_user"] = [libc.unshare(0x10000000), ctypes.get_errno()]
        facts["unshare_net"] = [libc.unshare(0x40000000), ctypes.get_errno()]
        facts["clone3"] = _syscall(435, 0, 0)
        pid = os.fork()  # plain forks and threads still work
        if pid == 0:
            os._exit(0)
        facts["fork"] = os.waitpid(pid, 0)[1]
        report(**facts)

    def scan_memory():
        """Every token after NNGRADER-VICTIM- anywhere in this process's readable anonymous memory."""
        pattern = re.compile(rb"NNGRADER-VICTIM-([0-9a-f]{32})")
        found = set()
        for line in open("/proc/self/maps"):
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and not fields[5].startswith("[heap")):
                continue  # file-backed: the process's own code and data files
            start, end = (int(x, 16) for x in fields[0].split("-"))
            for offset in range(start, end, 8 << 20):
                size = min(8 << 20, end - offset)
                try:
                    chunk = ctypes.string_at(offset, size)
                except Exception:
                    continue
                found.update(match.group(1).decode() for match in pattern.finditer(chunk))
        report(tokens=sorted(found))

    def vandalise_workroot():
        """Lock the folders above its working folder that hold other children's (break 11, ordinary user)."""
        done = []
        folder = os.getcwd()
        for _ in range(3):
            folder = os.path.dirname(folder)
            try:
                os.chmod(folder, 0)
                done.append(folder)
            except OSError:
                pass
            if folder == "/tmp":
                break
        report(locked=done)

    def where_am_i():
        report(cwd=os.getcwd(), tmp=os.environ.get("TMPDIR"), uid=os.getuid())
''')


def probe_files(extra: str = "") -> dict[str, bytes]:
    return {"probe.py": (PROBE + extra).encode()}


def call(child: Child, function: str, *args: Any) -> dict[str, Any]:
    message = {"op": "call", "module": "probe", "function": function,
               "args": [[f"a{i}", wire.encode_value(arg)] for i, arg in enumerate(args)], "seed": 0}
    reply = child.request(message, timeout=60)
    assert not reply["ok"] and reply["error"]["type"] == "Report", reply
    facts: dict[str, Any] = json.loads(reply["error"]["message"].split(": ", 1)[1])
    return facts


@pytest.fixture(scope="module", params=["bubblewrap", "no bubblewrap"])
def box(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """A sandbox with bubblewrap where it works, then one without it."""
    if request.param == "bubblewrap" and BWRAP_PROBLEM:
        pytest.skip(f"bubblewrap unavailable: {BWRAP_PROBLEM}")
    with Sandbox(Limits(call_timeout_s=60.0), bubblewrap=request.param == "bubblewrap") as sandbox:
        yield sandbox


def grade_attack(attack: str, destination: Path, sandbox: Sandbox):
    return grade(assemble(ATTACKS / attack, destination / attack), short_timeout_options(), sandbox=sandbox)


def assert_full_marks(report) -> None:
    assert report.status == "graded"
    assert [c for c in report.checks if c.status != "pass"] == []
    assert report.score == report.max_score


# ---------------------------------------------------------------- break 3: poisoning later students


def test_a_deep_tree_and_a_full_tmp_cost_nothing_to_later_students(box: Sandbox, tmp_path: Path) -> None:
    """The attacker fills its /tmp and builds a 1,500-deep chain; it is graded honestly, and so is the next."""
    assert_full_marks(grade_attack("poison_tmp", tmp_path, box))
    for _ in range(2):  # the next students of this worker
        assert_full_marks(grade(ROOT / "reference", short_timeout_options(), sandbox=box))
    assert [name for name in os.listdir("/tmp") if name.startswith("nngrader-poison")] == []


def test_the_scratch_space_of_a_child_is_bounded_and_private(box: Sandbox) -> None:
    with box.spawn(probe_files()) as child:
        facts = call(child, "where_am_i")
    assert facts["cwd"] == facts["tmp"] and facts["cwd"].startswith("/tmp/child-")
    assert not os.path.exists(facts["cwd"])  # the host's /tmp never held it
    assert box.layers["private_scratch"] and box.layers["seccomp"]


def test_a_failed_spawn_restarts_the_zygote(box: Sandbox) -> None:
    """Remove the zygote's own folder under it (as a vandal would): the next spawn still works."""
    with box.spawn(probe_files()) as child:
        call(child, "where_am_i")
    assert box._process is not None
    zygote_root = _zygote_root(box)
    for folder in zygote_root.glob("zygote-*"):
        folder.rename(folder.with_name("moved-away"))  # its children's folders can no longer be made
    with box.spawn(probe_files()) as child:
        assert call(child, "where_am_i")["cwd"].startswith("/tmp/child-")


def _zygote_root(box: Sandbox) -> Path:
    """Where the zygote makes its folder, seen from the host (through /proc when it runs in bubblewrap)."""
    assert box._process is not None
    if not box.layers["bubblewrap"]:
        assert box._scratch is not None
        return box._scratch / "work"
    children = Path(f"/proc/{box._process.pid}/task/{box._process.pid}/children").read_text().split()
    return Path(f"/proc/{children[0]}/root/tmp")


def test_removing_a_deep_tree_needs_no_recursion(tmp_path: Path) -> None:
    """Where there is no private namespace (an ordinary user without bubblewrap), folders are walked."""
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    top = tmp_path / "tree"
    path = top
    for depth in range(1500):
        path.mkdir()
        (path / "f").write_text("x")
        if depth % 300 == 0:
            (path / "link").symlink_to(tmp_path)
        path = path / "d"
    (top / "d" / "d").chmod(0)
    remove_tree(str(top))
    assert not top.exists() and outside.read_text() == "keep"


# ---------------------------------------------------------------- break 4: the previous student's code


def test_a_child_cannot_find_the_previous_submission_in_memory(box: Sandbox) -> None:
    token = uuid.uuid4().hex
    victim = "".join(f"# NNGRADER-VICTIM-{token} line {i}\n" for i in range(1200))  # about 60 KB
    for _ in range(2):
        with box.spawn({"victim.py": victim.encode(), **probe_files()}) as child:
            assert child.request({"op": "import", "module": "victim"}) == {"ok": True}
    with box.spawn(probe_files()) as child:
        tokens = call(child, "scan_memory")["tokens"]
    assert token not in tokens


# ---------------------------------------------------------------- break 5 and 12: channels through the kernel


@pytest.mark.skipif(not X86_64, reason="the probe uses x86-64 system call numbers")
def test_no_keys_no_ipc_objects_no_namespaces(box: Sandbox) -> None:
    with box.spawn(probe_files()) as child:
        facts = call(child, "kernel_channels")
    eperm = 1
    for name in ("add_key", "keyctl", "shmget", "semget", "msgget", "unshare_user", "unshare_net"):
        assert facts[name] == [-1, eperm], name
    assert facts["clone3"] == [-1, 38]  # ENOSYS: the C library falls back to clone, whose flags are checked
    assert facts["fork"] == 0


def test_user_keyring_carries_nothing_between_runs() -> None:
    """Two separate runs hand out the same first uid; a key from the first must not reach the second."""
    if not X86_64:
        pytest.skip("the probe uses x86-64 system call numbers")
    for _ in range(2):
        with Sandbox(Limits(call_timeout_s=60.0), bubblewrap=False) as sandbox:
            with sandbox.spawn(probe_files()) as child:
                assert call(child, "kernel_channels")["add_key"] == [-1, 1]
    assert _key_users() & set(CHILD_UIDS) - _uids_of_other_graders() == set()


# ---------------------------------------------------------------- break 12: what each mode guarantees


@pytest.mark.parametrize("flag,mode", [([], "root + bubblewrap"), (["--no-bubblewrap"], "root, no bubblewrap")])
def test_every_run_says_what_its_sandbox_guarantees(flag: list[str], mode: str, tmp_path: Path) -> None:
    if not AS_ROOT:
        pytest.skip("the expected modes are those of root")
    if not flag and BWRAP_PROBLEM:
        pytest.skip(f"bubblewrap unavailable: {BWRAP_PROBLEM}")
    result = subprocess.run([sys.executable, "-m", "grader", "grade", str(ROOT / "reference"), "-o",
                             str(tmp_path / "r.json"), *flag], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sandbox: {mode} (")
    assert ("--require-sandbox" in lines[0]) is bool(flag)  # a weak mode says how to insist on the strong one
    assert json.loads((tmp_path / "r.json").read_text())["sandbox"]["mode"] == mode


def test_root_in_a_container_without_mount_namespaces_still_grades(tmp_path: Path) -> None:
    """Root without CAP_SYS_ADMIN (Docker's default): no private /tmp, said so, and grading works."""
    if not AS_ROOT or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv")
    result = subprocess.run(["setpriv", "--bounding-set=-sys_admin", sys.executable, "-m", "grader", "grade",
                             str(ROOT / "reference"), "-o", str(tmp_path / "r.json")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "NO private /tmp or network per child" in result.stderr.splitlines()[0]
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["score"] == written["max_score"] and not written["sandbox"]["private_scratch"]


# ---------------------------------------------------------------- issue 11: the grader's Python environment


PACKAGE = "nngrader_probe_package"


def _install_probe_package(site: Path) -> Path:
    """A small pure-Python package the zygote never imports; it needs the standard library beyond it too."""
    package = site / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("import colorsys, sqlite3\nSCALE = 1.0\n")
    return package


def _venv_outside(where: Path) -> Path:
    """A virtual environment at ``where`` that finds NumPy, torch and the grader through a .pth file."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True, timeout=120)
    site = next(where.glob("lib/python3*/site-packages"))
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "nngrader-test.pth").write_text("\n".join([*ours, str(ROOT)]) + "\n")
    return where / "bin" / "python"


@pytest.mark.parametrize("layout", ["venv in the project", "venv outside", "venv in the submissions folder",
                                    "venv in the output folder"])
@pytest.mark.parametrize("flag", [[], ["--no-bubblewrap"]], ids=["bubblewrap", "no bubblewrap"])
def test_student_code_imports_the_graders_packages_wherever_they_live(layout: str, flag: list[str],
                                                                      tmp_path: Path) -> None:
    if not flag and BWRAP_PROBLEM:
        pytest.skip(f"bubblewrap unavailable: {BWRAP_PROBLEM}")
    submissions, output = tmp_path / "class", tmp_path / "out"
    submissions.mkdir()
    output.mkdir()
    if layout == "venv in the project":
        if Path(sys.prefix).resolve().parent != ROOT:
            pytest.skip("the tests do not run from a virtual environment inside the project")
        python = Path(sys.executable)
        site = Path(next(p for p in sys.path if p.startswith(sys.prefix) and p.endswith("site-packages")))
    else:
        home = {"venv outside": tmp_path / "env", "venv in the submissions folder": submissions / ".venv",
                "venv in the output folder": output / ".venv"}[layout]
        python = _venv_outside(home)
        site = next(home.glob("lib/python3*/site-packages"))
    sample = submissions / "alice"
    sample.mkdir()
    for module in ("numpy_net", "torch_net"):
        source = (ROOT / "reference" / f"{module}.py").read_text()
        (sample / f"{module}.py").write_text(source + f"\nimport {PACKAGE}  # not preloaded by the zygote\n")
    installed = _install_probe_package(site)
    try:
        result = subprocess.run([str(python), "-m", "grader", "grade", str(sample), "-o", str(output / "a.json"),
                                 *flag], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    finally:
        shutil.rmtree(installed)
    assert result.returncode == 0, result.stderr
    written = json.loads((output / "a.json").read_text())
    failing = [c["id"] for t in written["tasks"] for c in t["checks"] if c["status"] != "pass"]
    assert failing == [] and written["score"] == written["max_score"], [c["message"] for t in written["tasks"] for c in t["checks"]][:2]


# ---------------------------------------------------------------- an ordinary user (break 11, user modes)


TEST_USER = "nngrader-test"
USER_DRIVER = textwrap.dedent('''
    import json, sys
    from grader.sandbox import Limits, Sandbox
    sys.path.insert(0, sys.argv[2])
    from test_attacks_sandbox import call, probe_files

    results = {}
    with Sandbox(Limits(call_timeout_s=60.0), bubblewrap=sys.argv[1] == "bubblewrap") as box:
        results["mode"] = box.layers["mode"]
        with box.spawn(probe_files()) as child:
            results["locked"] = call(child, "vandalise_workroot")["locked"]
        results["later"] = []
        for _ in range(3):  # the next students of this zygote
            with box.spawn(probe_files()) as child:
                results["later"].append(call(child, "where_am_i")["uid"])
    print(json.dumps(results))
''')


@pytest.fixture(scope="module")
def ordinary_user() -> Iterator[tuple[list[str], Path]]:
    """A command prefix that runs as an unprivileged user, with a Python that user can read; and a folder of theirs.

    The user is created for the test if it does not exist (and removed afterwards). Their Python is the
    system's interpreter in a virtual environment that finds this checkout's packages through a .pth file.
    """
    if not AS_ROOT or shutil.which("setpriv") is None or shutil.which("useradd") is None:
        pytest.skip("needs root, setpriv and useradd to act as an ordinary user")
    system_python = Path(f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}")
    if not system_python.exists():
        pytest.skip(f"no {system_python}: the checkout's packages need the same Python version")
    created = subprocess.run(["id", TEST_USER], capture_output=True).returncode != 0
    if created:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER],
                       check=True, capture_output=True)
    home = Path(tempfile.mkdtemp(prefix="nngrader-user-"))
    try:
        subprocess.run([str(system_python), "-m", "venv", "--without-pip", str(home / "env")], check=True, timeout=120)
        site = next((home / "env").glob("lib/python3*/site-packages"))
        ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
        (site / "nngrader-test.pth").write_text("\n".join([*ours, str(ROOT)]) + "\n")
        (home / "work").mkdir()
        shutil.copy(Path(__file__), home / "test_attacks_sandbox.py")
        shutil.copy(Path(__file__).parent / "conftest.py", home / "conftest.py")
        subprocess.run(["chown", "-R", f"{TEST_USER}:", str(home)], check=True)
        home.chmod(0o755)
        prefix = ["setpriv", f"--reuid={TEST_USER}", f"--regid={TEST_USER}", "--clear-groups",
                  "env", "-i", "PATH=/usr/bin:/bin", f"HOME={home / 'work'}", str(home / "env" / "bin" / "python")]
        probe = subprocess.run([*prefix, "-c", "import numpy, torch, grader"], capture_output=True, text=True,
                               cwd=home, timeout=120)
        if probe.returncode != 0:
            pytest.skip(f"the ordinary user cannot import this checkout's packages: {probe.stderr[-300:]}")
        yield prefix, home
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if created:
            subprocess.run(["userdel", TEST_USER], capture_output=True)


@pytest.mark.parametrize("mode", ["bubblewrap", "no bubblewrap"])
def test_an_ordinary_users_children_cannot_lock_the_zygote_out(ordinary_user, mode: str) -> None:
    prefix, home = ordinary_user
    if mode == "bubblewrap" and bwrap.probe(as_root=False) is not None:
        pytest.skip("bubblewrap does not run for an ordinary user here")
    driver = home / "driver.py"
    driver.write_text(USER_DRIVER)
    result = subprocess.run([*prefix, str(driver), mode, str(home)], capture_output=True, text=True,
                            cwd=home, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    facts = json.loads(result.stdout.splitlines()[-1])
    uid = int(subprocess.run(["id", "-u", TEST_USER], capture_output=True, text=True).stdout)
    assert facts["later"] == [uid, uid, uid]
    if mode == "bubblewrap":
        assert facts["mode"] == "user + bubblewrap"
        assert facts["locked"] == ["/tmp"]  # its own private /tmp: the zygote's folders are out of its sight
    else:  # it locks the zygote's folder (no sandbox in this mode); the failed spawn restarts the zygote
        assert facts["mode"] == "user, no bubblewrap"
        assert any("/zygote-" in folder for folder in facts["locked"])


@pytest.mark.parametrize("flag,mode", [([], "user + bubblewrap"), (["--no-bubblewrap"], "user, no bubblewrap")])
def test_an_ordinary_user_grades_with_full_marks_and_is_told_the_mode(ordinary_user, flag: list[str],
                                                                     mode: str) -> None:
    prefix, home = ordinary_user
    if not flag and bwrap.probe(as_root=False) is not None:
        pytest.skip("bubblewrap does not run for an ordinary user here")
    output = home / "work" / f"r{len(flag)}.json"
    result = subprocess.run([*prefix, "-m", "grader", "grade", str(ROOT / "reference"), "-o", str(output), *flag],
                            capture_output=True, text=True, cwd=home, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.splitlines()[0].startswith(f"sandbox: {mode} (")
    written = json.loads(output.read_text())
    assert written["score"] == written["max_score"] and written["sandbox"]["mode"] == mode


# ---------------------------------------------------------------- nothing of a child uid remains


def _key_users() -> set[int]:
    try:
        lines = Path("/proc/key-users").read_text().splitlines()
    except OSError:
        return set()
    return {int(line.split(":")[0]) for line in lines if line.strip()}


def _ipc_owners() -> set[int]:
    owners: set[int] = set()
    for kind in ("shm", "sem", "msg"):
        try:
            rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
        except OSError:
            continue
        header = rows[0].split()
        for row in rows[1:]:
            fields = dict(zip(header, row.split()))
            owners.update(int(fields[key]) for key in ("uid", "cuid") if key in fields)
    return owners


def _uids_of_other_graders() -> set[int]:
    """Child uids of the blocks that another live process holds (a grader running beside the tests)."""
    directory = next((d for d in LOCK_DIRECTORIES if d.is_dir()), None)
    if directory is None:
        return set()
    inodes = {}
    for lock in directory.glob("block-*.lock"):
        inodes[lock.stat().st_ino] = int(lock.stem.split("-")[1])
    others: set[int] = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[4].isdigit() and int(fields[4]) != os.getpid():
            block = inodes.get(int(fields[5].rsplit(":", 1)[-1]))
            if block is not None:
                others.update(range(FIRST_UID + block * BLOCK_SIZE, FIRST_UID + (block + 1) * BLOCK_SIZE))
    return others


def _files_of_child_uids() -> list[str]:
    found = []
    for top in ("/tmp", "/var/tmp", "/dev/shm"):
        for folder, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(folder, name)
                try:
                    if os.lstat(path).st_uid in CHILD_UIDS and os.lstat(path).st_uid not in OTHERS:
                        found.append(path)
                except OSError:
                    pass
    return found


def _processes_of_child_uids() -> list[int]:
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
            if uid in CHILD_UIDS and uid not in OTHERS:
                pids.append(int(entry))
        except OSError:
            pass
    return pids


@pytest.mark.skipif(not AS_ROOT, reason="child uids of their own exist only when the grader runs as root")
def test_zz_nothing_of_a_child_uid_remains_on_the_machine() -> None:
    """Runs last in this module (and after test_attacks.py): no process, file, key or IPC object is left.

    Uids of blocks held by another live process (another grader on this machine) are left out.
    """
    OTHERS.clear()
    OTHERS.update(_uids_of_other_graders())
    deadline = time.monotonic() + 5
    while _processes_of_child_uids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_of_child_uids() == []
    assert _files_of_child_uids() == []
    assert _key_users() & set(CHILD_UIDS) - OTHERS == set()
    assert _ipc_owners() & set(CHILD_UIDS) - OTHERS == set()
