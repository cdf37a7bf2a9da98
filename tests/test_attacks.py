"""The attack suite: hostile submissions, each graded with an exact expectation.

For every attack: the grader survives, the report is its own, the score is
exactly what the code honestly earns, no process of the submission is left
running, and no file outside its sandbox changed. SECURITY.md explains which
layer stops which attack.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, assemble, short_timeout_options
from grader.grading import grade

ATTACKS = SUBMISSIONS / "attacks"
NUMPY_GROUPS = {"task1/relu", "task1/softmax", "task1/forward_np", "task2/loss_np", "task2/grad_w1_np",
                "task3/grad_w2_np", "task3/train_np", "task3/agreement"}
TORCH_GROUPS = {"task1/Net", "task1/forward_torch", "task2/grad_w1_torch", "task3/train_torch", "task3/agreement"}

# attack -> {group that loses its points: (status of its checks, text in their messages)}
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "exit_in_call": {"task1/forward_np": ("error", "forward_np raised SystemExit: 3"),
                     "task1/relu": ("error", "relu: the process exited with code 0")},
    # the reason ("the process exited with code 7") is in the report's warnings, once: see test_attack
    "os_exit_at_import": {g: ("error", "not run: torch_net.py could not be imported (see above)") for g in TORCH_GROUPS},
    "infinite_loop_ignoring_signals": {"task3/train_torch": ("error", "timed out after 2 s"),
                                       "task3/agreement": ("error", "timed out after 2 s")},
    "memory_bomb": {"task3/grad_w2_np": ("error", "grad_w2_np")},
    "fork_flood": {"task1/softmax": ("error", "softmax")},
    "daemon": {},
    "segfault": {"task2/grad_w1_np": ("error", "killed by signal 11 (SIGSEGV)")},
    "stdout_flood": {"task1/forward_torch": ("error", "File too large")},
    "fake_report": {"task1/relu": ("fail", "max abs error")},
    "monkeypatch_numpy": {"task2/grad_w1_np": ("fail", "max abs error")},
    "lying_array": {"task1/forward_np": ("fail", "max abs error")},
    "steal_expected": {"task2/grad_w1_np": ("fail", "")},
    "read_reference": {g: ("fail", "") for g in NUMPY_GROUPS},
    "kill_parent": {"task1/relu": ("fail", "returned None")},  # Linux's kill(-1) spares the caller
    "vandal": {},
    "env_secrets": {"task1/relu": ("fail", "max abs error")},
    "network": {},
}


# Without bubblewrap the child still runs as its own unprivileged user with
# resource limits, but sees the host's files and network: these attacks then
# succeed. That is what --require-sandbox is for (SECURITY.md).
SUCCEEDS_WITHOUT_BUBBLEWRAP = {"read_reference": {}}


def test_every_attack_has_an_expectation():
    from test_attacks_data import DATA_ATTACKS  # the data-level attacks are graded there

    assert {p.name for p in ATTACKS.iterdir()} == set(EXPECTED) | set(DATA_ATTACKS)


def sandbox_processes(sandbox) -> list[int]:
    """Processes running as one of ``sandbox``'s child user ids: none may outlive its submission."""
    uids = sandbox.child_uids
    assert uids is not None, "the attack suite runs as root (per-child user ids)"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid in uids:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def fingerprint(*roots: Path) -> dict[str, str]:
    """Content hashes of every file under ``roots`` (skipping the venv)."""
    prints = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if ".venv" in path.parts or "__pycache__" in path.parts or not path.is_file() or path.is_symlink():
                continue
            prints[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return prints


@pytest.fixture
def world(tmp_path):
    """Files the attack must not touch: another submission, earlier reports, the project itself."""
    other = tmp_path / "submissions" / "bob"
    other.mkdir(parents=True)
    (other / "numpy_net.py").write_text("def relu(h):\n    return h\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "bob.json").write_text(json.dumps({"score": 12}))
    roots = (tmp_path / "submissions", tmp_path / "reports", ROOT / "reference", ROOT / "grader",
             ROOT / "student_template")
    before = fingerprint(*roots)
    yield tmp_path
    assert fingerprint(*roots) == before, "a file outside the sandbox changed"


def check_honest(report, attack: str, *, bubblewrap: bool = True) -> None:
    """The report is graded and every group scores exactly what the code honestly earns."""
    assert report.status == "graded"
    expected = EXPECTED[attack] if bubblewrap else SUCCEEDS_WITHOUT_BUBBLEWRAP.get(attack, EXPECTED[attack])
    losing = {check.id.rsplit("/", 1)[0] for check in report.checks if check.score < check.max_score}
    assert losing == set(expected), report.checks
    for check in report.checks:
        group = check.id.rsplit("/", 1)[0]
        if group in expected:
            status, text = expected[group]
            assert check.status == status, check
            assert text in check.message, check
        else:
            assert check.status == "pass", check
    honest = sum(c.max_score for c in report.checks if c.id.rsplit("/", 1)[0] not in expected)
    assert report.score == pytest.approx(honest)


@pytest.fixture
def decoy_reference(tmp_path):
    """A world-readable copy of the reference outside the project, where a TA's checkout could be."""
    root = Path("/srv") / f"nngrader-decoy-{os.getpid()}"
    try:
        (root / "reference").mkdir(parents=True)
    except OSError:
        pytest.skip("cannot create a decoy under /srv here")
    try:
        (root / "reference" / "numpy_net.py").write_text((ROOT / "reference" / "numpy_net.py").read_text())
        for path in (root, root / "reference", root / "reference" / "numpy_net.py"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_sandbox_sees_no_copy_of_the_reference_anywhere_on_the_machine(decoy_reference, world, sandbox,
                                                                          options):
    if not sandbox.layers.get("bubblewrap"):
        pytest.skip("without bubblewrap the host's files are visible (SECURITY.md)")
    report = grade_attack("read_reference", world / "incoming", sandbox, options)
    check_honest(report, "read_reference")


def grade_attack(attack: str, destination: Path, sandbox, options):
    path = assemble(ATTACKS / attack, destination / attack)
    return grade(path, options, sandbox=sandbox)


@pytest.fixture(scope="module", params=["bubblewrap", "no bubblewrap"])
def any_sandbox(request, sandbox, options):
    """The session's sandbox (with bubblewrap where it works), then one without it."""
    if request.param == "bubblewrap":
        if not sandbox.layers.get("bubblewrap"):
            pytest.skip("bubblewrap is not available here")
        yield sandbox
        return
    with short_timeout_options(bubblewrap=False).open_sandbox() as plain:
        yield plain


@pytest.mark.parametrize("attack", sorted(set(EXPECTED) - {"fake_report", "env_secrets", "network"}))
def test_attack(attack, world, any_sandbox, options):
    report = grade_attack(attack, world / "incoming", any_sandbox, options)
    check_honest(report, attack, bubblewrap=any_sandbox.layers["bubblewrap"])
    if attack == "os_exit_at_import":
        assert len(report.warnings) == 1 and "exited with code 7" in report.warnings[0], report.warnings
    assert sandbox_processes(any_sandbox) == []


def test_fake_report_cannot_replace_the_real_one(world):
    submission = assemble(ATTACKS / "fake_report", world / "incoming" / "fake_report")
    output = world / "out" / "report.json"
    output.parent.mkdir()
    output.write_text("{}")  # an earlier run's report, for the attack to find
    result = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(submission), "-o", str(output), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    written = json.loads(output.read_text())
    assert printed == written and written["submission"] == "fake_report"
    assert written["score"] < 100 and written["tasks"]
    from grader.report import Report, TaskResult, CheckResult  # rebuild to reuse check_honest

    report = Report(
        submission=written["submission"], status=written["status"], environment={}, duration_s=0,
        tasks=tuple(TaskResult(t["id"], t["title"], tuple(
            CheckResult(**{k: c[k] for k in ("id", "function", "status", "score", "max_score", "visibility",
                                             "message", "hint")}) for c in t["checks"])) for t in written["tasks"]),
    )
    check_honest(report, "fake_report")


def test_secrets_in_the_graders_environment_do_not_leak(world, monkeypatch):
    monkeypatch.setenv("NNGRADER_TEST_TOKEN", "nngrader-secret-" + os.urandom(8).hex())
    options = short_timeout_options()
    with options.open_sandbox() as sandbox:
        report = grade_attack("env_secrets", world / "incoming", sandbox, options)
    check_honest(report, "env_secrets")


def test_no_network_even_to_the_hosts_loopback(world, sandbox, options):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[bytes] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                accepted.append(connection.recv(16))
            except OSError:
                continue

    stop = threading.Event()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        sample = world / "network_sample"
        sample.mkdir()
        source = (ATTACKS / "network" / "numpy_net.py").read_text().replace("PORT = 0", f"PORT = {port}")
        (sample / "numpy_net.py").write_text(source)
        report = grade(assemble(sample, world / "incoming" / "network"), options, sandbox=sandbox)
    finally:
        stop.set()
        thread.join()
        listener.close()
    if not sandbox.layers.get("network") == "none":
        pytest.skip("this sandbox shares the host's network (no bubblewrap)")
    assert accepted == []
    check_honest(report, "network")


def test_require_sandbox_refuses_without_the_strong_layer(tmp_path):
    """With no bwrap on PATH, --require-sandbox grades nothing and says why in one line."""
    venv_bin = Path(sys.executable).parent
    result = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(ROOT / "reference"), "--require-sandbox",
         "-o", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=300, env={"PATH": str(venv_bin), "HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "bwrap" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_reports_record_the_layers_in_force(sandbox, options):
    report = grade(ROOT / "reference", options, sandbox=sandbox)
    assert report.sandbox == sandbox.layers
    assert report.sandbox["strong"] is bool(sandbox.layers.get("bubblewrap") and sandbox.layers.get("unprivileged_user"))
