"""The sandbox holds against hostile submissions, with and without bubblewrap.

Each test spawns a child from a module-wide warm Sandbox and makes it run a
small probe module through the harness protocol. A probe reports what it saw
by raising ``Report(json)``: the harness turns the exception into an error
reply whose message carries the JSON.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import sys
import tempfile
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from grader.sandbox import Child, ChildDied, ChildTimeout, Limits, Sandbox, SandboxUnavailable
from grader.sandbox import bubblewrap as bwrap_module
from grader.inside import wire

ROOT = os.geteuid() == 0
PROJECT = Path(__file__).resolve().parents[1]
SECRET_NAME, SECRET_VALUE = "NNGRADER_TEST_SECRET", "hunter2-" + uuid.uuid4().hex
BWRAP_PROBLEM = bwrap_module.probe(as_root=ROOT)

PROBE = textwrap.dedent('''
    import json, os, sys, time

    class Report(Exception):
        """Carries what the probe saw back to the test, as JSON."""

    def report(**facts):
        raise Report(json.dumps(facts))

    def identity():
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
        try:
            os.setuid(0)
            regained = True
        except OSError:
            regained = False
        report(uid=os.getuid(), gid=os.getgid(), groups=os.getgroups(), cwd=os.getcwd(),
               cap_eff=status["CapEff"].strip(), regained_root=regained)

    def environment():
        report(env=dict(os.environ))

    def descriptors():
        open_fds = []
        for fd in range(1024):
            try:
                os.fstat(fd)
                open_fds.append(fd)
            except OSError:
                pass
        grow = shrink = "allowed"
        try:
            os.ftruncate(4, 1 << 20)
        except OSError as exc:
            grow = exc.strerror
        try:
            os.ftruncate(4, 0)
        except OSError as exc:
            shrink = exc.strerror
        report(fds=open_fds, page=os.readlink("/proc/self/fd/4"), grow=grow, shrink=shrink)

    def garbage():
        import gc
        report(frozen=gc.get_freeze_count())

    def specialised():
        import dis
        import numpy as np, torch
        standard = set(dis.opname)
        def count(function):
            function = getattr(function, "__wrapped__", function)
            return sum(i.opname not in standard for i in dis.get_instructions(function, adaptive=True))
        report(call_impl=count(torch.nn.Module._call_impl), sgd_step=count(torch.optim.SGD.step),
               backward=count(torch.Tensor.backward), np_sum=count(np.sum))

    def imports():
        import math, random, itertools, functools, collections, copy, typing, statistics
        import numpy as np, numpy.linalg
        import torch, torch.nn as nn, torch.optim
        import torch.nn.functional as F
        net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        loss = F.cross_entropy(net(torch.ones(2, 3)), torch.tensor([0, 1]))
        loss.backward()
        optimizer.step()
        report(sqrt=math.sqrt(16.0), mean=statistics.mean([1, 2, 3]),
               norm=float(numpy.linalg.norm(np.ones(4))), loss=float(loss))

    def sleep_forever():
        while True:
            time.sleep(1)

    def nap(seconds):
        time.sleep(float(seconds))
        return float(seconds)

    def crash():
        os._exit(3)

    def seesaw():  # writes its progress page back and forth, to stretch the grader's wait
        while True:
            for started in (1, 2):
                os.pwrite(4, started.to_bytes(8, "little"), 0)
                time.sleep(0.02)

    def exit_3():
        os._exit(3)

    def segfault():
        import ctypes
        ctypes.string_at(0)

    def noisy_exit():
        sys.stderr.write("something went badly wrong\\n")
        sys.stderr.flush()
        os._exit(5)

    def start_daemon(marker):
        # classic double fork: the grandchild leaves the session and is orphaned
        middle = os.fork()
        if middle == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sleep", ["nngrader-daemon-%d" % int(marker), "1000"])
            os._exit(0)
        os.waitpid(middle, 0)
        return 1.0

    def try_read(path_number):
        path = PATHS[int(path_number)]
        try:
            with open(path, "rb") as handle:
                handle.read(10)
            report(read=True)
        except OSError as exc:
            report(read=False, error=type(exc).__name__)

    def try_list(path_number):
        try:
            names = os.listdir(PATHS[int(path_number)])
            report(listed=True, names=names[:20])
        except OSError as exc:
            report(listed=False, error=type(exc).__name__)

    def try_write(path_number):
        path = PATHS[int(path_number)]
        try:
            with open(path, "wb") as handle:
                handle.write(b"x")
            report(written=True)
        except OSError as exc:
            report(written=False, error=type(exc).__name__)

    def write_in_workdir():
        with open("scratch.txt", "w") as handle:
            handle.write("fine")
        report(content=open("scratch.txt").read())

    def memory_bomb():
        import numpy as np
        block = np.ones(8 * 1024**3 // 8)  # 8 GB
        return float(block[-1])

    def fork_bomb():
        count = 0
        try:
            while True:
                if os.fork() == 0:
                    while True:  # every process keeps trying
                        try:
                            os.fork()
                        except OSError:
                            time.sleep(0.01)
                count += 1
                if count > 10000:
                    report(forked=count, stopped=False)
        except OSError as exc:
            report(forked=count, stopped=True, error=type(exc).__name__)

    def connect(port):
        import socket
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
            report(connected=True)
        except OSError as exc:
            report(connected=False, error=type(exc).__name__)

    def kill_parent():
        try:
            os.kill(os.getppid(), 9)
            report(killed=True)
        except OSError as exc:
            report(killed=False, error=type(exc).__name__)

    def kill_everything():
        try:
            os.kill(-1, 9)  # every process this one may signal, except itself
        except ProcessLookupError:  # there is none
            pass
        report(survived=True)

    def garbage_reply():
        os.write(3, b"\\xff\\xff\\xff\\xff" + b"x" * 100)  # claims a 4 GB message
        time.sleep(30)

    def not_json_reply():
        os.write(3, b"\\x00\\x00\\x00\\x05{{{{{")
        time.sleep(30)
''')


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module", params=[True, False], ids=["bwrap", "plain"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    if request.param and BWRAP_PROBLEM:
        pytest.skip(f"bubblewrap unavailable: {BWRAP_PROBLEM}")
    os.environ[SECRET_NAME] = SECRET_VALUE  # the grader's environment must not leak
    try:
        with Sandbox(Limits(call_timeout_s=10.0), bubblewrap=request.param) as box:
            yield box
    finally:
        os.environ.pop(SECRET_NAME, None)


def paths_module(paths: list[str]) -> bytes:
    return (PROBE + f"\nPATHS = {paths!r}\n").encode()


def call(child: Child, function: str, *args: Any, timeout: float | None = None) -> dict[str, Any]:
    message = {"op": "call", "module": "probe", "function": function,
               "args": [[f"a{i}", wire.encode_value(arg)] for i, arg in enumerate(args)], "seed": 0}
    return child.request(message, timeout=timeout)


def report(child: Child, function: str, *args: Any, timeout: float | None = None) -> dict[str, Any]:
    reply = call(child, function, *args, timeout=timeout)
    assert not reply["ok"] and reply["error"]["type"] == "Report", reply
    facts: dict[str, Any] = json.loads(reply["error"]["message"].split(": ", 1)[1])
    return facts


def live_pids_of_uid(uid: int) -> list[int]:
    pids = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{name}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid and fields["State"].split()[0] not in ("Z", "X"):
            pids.append(int(name))
    return pids


def pids_with_marker(marker: str) -> list[int]:
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{name}/cmdline").read_bytes().startswith(marker.encode()):
                found.append(int(name))
        except OSError:
            continue
    return found


def assert_sandbox_works(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        assert child.request({"op": "ping"}) == {"ok": True}


# ---------------------------------------------------------------- the protocol works


def test_ping(sandbox: Sandbox) -> None:
    with sandbox.spawn({}) as child:
        assert child.alive
        assert child.request({"op": "ping"}) == {"ok": True}
    assert not child.alive


def test_import_and_call_student_module(sandbox: Sandbox) -> None:
    with sandbox.spawn({"numpy_net.py": b"def relu(h):\n    return h * 2\n"}) as child:
        assert child.request({"op": "import", "module": "numpy_net"}) == {"ok": True}
        reply = child.request({"op": "call", "module": "numpy_net", "function": "relu",
                               "args": [["h", wire.encode_value(np.array([-1.0, 0.5, 2.0]))]], "seed": 0})
        assert reply["ok"], reply
        value = wire.decode_value(reply["value"])
        np.testing.assert_array_equal(value.array, [-2.0, 1.0, 4.0])
        assert reply["mutated"] == []


def test_common_modules_import_after_the_privilege_drop(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        facts = report(child, "imports")
    assert facts["sqrt"] == 4.0 and facts["mean"] == 2 and facts["norm"] == 2.0
    assert np.isfinite(facts["loss"])


def test_layers_are_reported(sandbox: Sandbox) -> None:
    layers = sandbox.layers
    assert layers["private_workdir"] and layers["scrubbed_environment"] and layers["resource_limits"]
    assert layers["unprivileged_user"]
    if layers["bubblewrap"]:
        assert layers["strong"] and layers["network"] == "none" and layers["pid_namespace"]
        assert str(PROJECT) in layers["hidden"]
    else:
        assert not layers["strong"]
        assert layers["network"] == ("none" if layers["private_scratch"] else "host")  # a network namespace per child


def test_bubblewrap_required_but_missing_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap_module, "probe", lambda as_root: "bwrap is not on PATH")
    with pytest.raises(SandboxUnavailable):
        Sandbox(bubblewrap=True)


# ---------------------------------------------------------------- who the child is


@pytest.mark.skipif(not ROOT, reason="the grader is not root: children run as the grader's own user")
def test_child_runs_as_its_own_unprivileged_user(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as first, \
            sandbox.spawn({"probe.py": paths_module([])}) as second:
        one, two = report(first, "identity"), report(second, "identity")
    for facts in (one, two):
        assert facts["uid"] != 0 and facts["gid"] != 0 and facts["groups"] == []
        assert int(facts["cap_eff"], 16) == 0 and not facts["regained_root"]
    assert one["uid"] != two["uid"]


def test_environment_is_scrubbed(sandbox: Sandbox) -> None:
    assert os.environ[SECRET_NAME] == SECRET_VALUE
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        env = report(child, "environment")["env"]
    assert SECRET_NAME not in env and SECRET_VALUE not in json.dumps(env)
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "LANG", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                        "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"}


def test_only_its_socket_standard_streams_and_progress_page_are_open(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        facts = report(child, "descriptors")
    assert facts["fds"] == [0, 1, 2, 3, 4]
    assert facts["page"].startswith("/memfd:progress")  # sealed: the grader's reads of it can never fault
    assert facts["grow"] == facts["shrink"] == "Operation not permitted"


def test_the_zygote_heap_is_on_huge_pages_where_the_kernel_gives_them_on_request(sandbox: Sandbox) -> None:
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not thp.exists() or "[never]" in thp.read_text():
        pytest.skip("this kernel gives no transparent huge pages")
    glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "").split()
    if len(glibc) != 2 or tuple(int(n) for n in glibc[1].split(".")[:2]) < (2, 35):
        pytest.skip("glibc before 2.35 has no malloc.hugetlb tunable")
    assert sandbox._process is not None
    pids, zygote = [sandbox._process.pid], None
    while pids and zygote is None:  # bubblewrap, then the zygote it runs
        pid = pids.pop()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"zygote" in b" ".join(argv) and not argv[0].endswith(b"bwrap"):
            zygote = pid
        pids += [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert zygote is not None
    rollup = dict(line.split(":", 1) for line in Path(f"/proc/{zygote}/smaps_rollup").read_text().splitlines()[1:])
    assert int(rollup["AnonHugePages"].split()[0]) > 16 * 1024  # kB: most of malloc's heap, not none


def test_a_child_s_collector_leaves_the_zygote_s_objects_alone(sandbox: Sandbox) -> None:
    """The zygote's objects are frozen: a collection in a child neither frees nor marks them (both would copy pages)."""
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        facts = report(child, "garbage")
    assert facts["frozen"] > 100_000  # NumPy's, torch's and the harness's objects


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python specialises bytecode from 3.11 on")
def test_a_child_inherits_library_code_the_zygote_specialised(sandbox: Sandbox) -> None:
    """The warm-up ran the library calls submissions make often enough for Python to specialise them.

    None of these has run in the child itself: what is specialised was done
    once in the zygote, instead of again in every child.
    """
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        facts = report(child, "specialised")
    assert all(count > 0 for count in facts.values()), facts


# ---------------------------------------------------------------- how children end


def send_ahead(child: Child, *calls: tuple[str, float], timeout: float) -> None:
    """The probe's ``calls`` as one request, sent ahead (as the runner sends a submission's planned calls)."""
    body = {"op": "calls", "calls": [{"op": "call", "module": "probe", "function": function,
                                      "args": [["a0", wire.encode_value(arg)]] if arg is not None else [], "seed": 0}
                                     for function, arg in calls]}
    child.send(body, timeout=timeout, calls=len(calls))


def test_replies_to_calls_sent_ahead_come_together_and_each_call_has_its_own_timeout(sandbox: Sandbox) -> None:
    """Three calls of 0.4 s with a timeout of 1 s: 1.2 s in all, and no call ran out of time."""
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        send_ahead(child, ("nap", 0.4), ("nap", 0.4), ("nap", 0.4), timeout=1.0)
        started = time.monotonic()
        first = child.receive(timeout=1.0)
        held = time.monotonic() - started
        replies = [first, child.receive(timeout=1.0), child.receive(timeout=1.0)]
    assert [wire.decode_value(reply["value"]) for reply in replies] == [0.4, 0.4, 0.4]
    assert held > 1.0  # the first reply waited for the last call: one wake-up of the grader, not three


@pytest.mark.parametrize(("last", "error"), [("sleep_forever", ChildTimeout), ("crash", ChildDied)])
def test_a_call_sent_ahead_that_hangs_or_dies_is_the_one_named(sandbox: Sandbox, last: str, error: type) -> None:
    """The replies before it were held: the child says which call it was running."""
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        send_ahead(child, ("nap", 0.0), ("nap", 0.0), (last, None), timeout=1.0)
        with pytest.raises(error) as raised:
            child.receive(timeout=1.0)
    assert raised.value.running == 3


def test_a_child_writing_its_progress_back_and_forth_gets_one_timeout_per_call_sent(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        send_ahead(child, ("seesaw", None), ("nap", 0.0), timeout=0.5)
        started = time.monotonic()
        with pytest.raises(ChildTimeout):
            child.receive(timeout=0.5)
    assert time.monotonic() - started < 2 * 0.5 + 0.5 + 1.0  # two calls sent: at most two steps forward count


def test_endless_call_times_out_and_the_next_spawn_works(sandbox: Sandbox) -> None:
    child = sandbox.spawn({"probe.py": paths_module([])})
    started = time.monotonic()
    with pytest.raises(ChildTimeout, match="timed out after 1 s"):
        call(child, "sleep_forever", timeout=1.0)
    assert time.monotonic() - started < 10  # ended by the timeout (loose: a loaded machine is slow, not wrong)
    assert not child.alive
    with pytest.raises(ChildDied):
        child.request({"op": "ping"})
    child.close()
    assert_sandbox_works(sandbox)


def test_exit_code_is_reported(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        with pytest.raises(ChildDied, match="^exited with code 3$"):
            call(child, "exit_3")
    assert_sandbox_works(sandbox)


def test_segfault_is_reported(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        with pytest.raises(ChildDied, match=r"^killed by signal 11 \(SIGSEGV\)$"):
            call(child, "segfault")
    assert_sandbox_works(sandbox)


def test_stderr_tail_comes_with_the_death(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        with pytest.raises(ChildDied, match="exited with code 5") as died:
            call(child, "noisy_exit")
    assert "something went badly wrong" in died.value.stderr


def test_malformed_and_oversized_replies_kill_the_child(sandbox: Sandbox) -> None:
    for function in ("garbage_reply", "not_json_reply"):
        child = sandbox.spawn({"probe.py": paths_module([])})
        started = time.monotonic()
        with pytest.raises(ChildDied, match="sent a malformed reply"):
            call(child, function)
        assert time.monotonic() - started < 5
        assert not child.alive and child.exit is not None and child.exit.killed


def test_daemon_does_not_survive_close(sandbox: Sandbox) -> None:
    if sandbox.layers["process_sweep"] == "group":
        pytest.skip("neither root nor bubblewrap: only the child's process group is killed")
    marker = int(time.time() * 1000) % 10**9
    child = sandbox.spawn({"probe.py": paths_module([])})
    uid = report(child, "identity")["uid"]
    assert call(child, "start_daemon", marker)["ok"]
    deadline = time.monotonic() + 5
    while not pids_with_marker(f"nngrader-daemon-{marker}") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pids_with_marker(f"nngrader-daemon-{marker}"), "the daemon never started"
    child.close()
    assert pids_with_marker(f"nngrader-daemon-{marker}") == []
    if ROOT:
        assert live_pids_of_uid(uid) == []


# ---------------------------------------------------------------- what the child can touch


def test_child_cannot_read_the_project_or_other_children(sandbox: Sandbox) -> None:
    spec = importlib.util.find_spec("reference")
    assert spec is not None and spec.origin is not None
    reference_file = str(Path(spec.origin).parent / "numpy_net.py")
    with sandbox.spawn({"probe.py": paths_module([])}) as other:
        other_workdir = report(other, "identity")["cwd"]
        with sandbox.spawn({"probe.py": paths_module([reference_file, "/etc/shadow", other_workdir,
                                                       str(PROJECT)])}) as child:
            if ROOT:  # a separate uid per child
                assert not report(child, "try_list", 2)["listed"]
                assert not report(child, "try_read", 1)["read"]
            if sandbox.layers["bubblewrap"]:
                # absent, or inside a directory bubblewrap made only to hold the venv (a project under /tmp)
                assert report(child, "try_read", 0) in ({"read": False, "error": "FileNotFoundError"},
                                                       {"read": False, "error": "PermissionError"})
                listing = report(child, "try_list", 3)
                assert "reference" not in listing.get("names", []) and "grader" not in listing.get("names", [])


def test_child_cannot_write_outside_its_workdir(sandbox: Sandbox) -> None:
    name = f"nngrader-probe-{uuid.uuid4().hex}"
    targets = [str(PROJECT / name), f"/etc/{name}", f"/root/{name}", f"/{name}"]
    if sandbox.layers["bubblewrap"]:  # without a mount namespace, /tmp is the host's, writable by all
        targets += [f"/dev/shm/{name}", f"/var/tmp/{name}"]
        if sandbox.layers["per_child_user"]:  # else the zygote's private /tmp is the child's too
            targets.append(f"/tmp/{name}")
    with sandbox.spawn({"probe.py": paths_module(targets)}) as child:
        assert report(child, "write_in_workdir") == {"content": "fine"}
        workdir = report(child, "identity")["cwd"]
        for index, target in enumerate(targets):
            assert report(child, "try_write", index)["written"] is False, target
    for target in targets:
        assert not os.path.exists(target), target
    assert not os.path.exists(workdir) or sandbox.layers["bubblewrap"]  # removed after close


def test_no_network(sandbox: Sandbox) -> None:
    if sandbox.layers["network"] != "none":
        pytest.skip("without bubblewrap or namespaces the child shares the host's network")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with sandbox.spawn({"probe.py": paths_module([])}) as child:
            facts = report(child, "connect", float(port))
    assert facts["connected"] is False


# ---------------------------------------------------------------- resource attacks


def test_memory_bomb_is_contained(sandbox: Sandbox) -> None:
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        try:
            reply = call(child, "memory_bomb")
        except ChildDied:
            pass
        else:
            assert not reply["ok"] and reply["error"]["type"] == "MemoryError", reply
    assert_sandbox_works(sandbox)


def test_fork_bomb_is_stopped(sandbox: Sandbox) -> None:
    child = sandbox.spawn({"probe.py": paths_module([])})
    uid = report(child, "identity")["uid"]
    facts = report(child, "fork_bomb")
    assert facts["stopped"] and facts["forked"] < Limits().processes
    if sandbox.layers["per_child_user"]:
        assert 0 < len(live_pids_of_uid(uid)) <= Limits().processes
    child.close()
    if sandbox.layers["per_child_user"]:
        assert live_pids_of_uid(uid) == []
    assert_sandbox_works(sandbox)


# ---------------------------------------------------------------- the grader survives


def test_killing_the_parent_or_everything_spares_the_grader_and_zygote(sandbox: Sandbox) -> None:
    if sandbox.layers["process_sweep"] == "group":
        pytest.skip("neither root nor bubblewrap: the child runs as the grader's user, unconfined")
    zygote = sandbox._process
    assert zygote is not None
    with sandbox.spawn({"probe.py": paths_module([])}) as child:
        # as root: EPERM (another uid); in bubblewrap the zygote is PID 1, and the kernel drops the signal
        report(child, "kill_parent")
        assert report(child, "kill_everything") == {"survived": True}
    time.sleep(0.2)
    assert zygote.poll() is None and sandbox._process is zygote
    assert_sandbox_works(sandbox)


# ---------------------------------------------------------------- tight limits


TIGHT = Limits(call_timeout_s=5.0, cpu_s=1, file_size_mb=1, open_files=16, max_reply_bytes=100_000)
TIGHT_PROBE = textwrap.dedent('''
    import json, os

    class Report(Exception):
        pass

    def burn():
        while True:
            pass

    def big_file():
        try:
            with open("big.bin", "wb") as handle:
                handle.write(b"x" * (2 << 20))
        except OSError as exc:
            raise Report(json.dumps({"errno": exc.errno}))
        raise Report(json.dumps({"errno": 0}))

    def many_files():
        handles = []
        try:
            for index in range(100):
                handles.append(open("f%d" % index, "w"))
        except OSError as exc:
            raise Report(json.dumps({"errno": exc.errno, "opened": len(handles)}))
        raise Report(json.dumps({"errno": 0, "opened": len(handles)}))

    def big_reply():
        import numpy as np
        return np.ones(100_000)
''').encode()


@pytest.fixture(scope="module")
def secret_dir() -> Iterator[Path]:
    """Stands for the submissions folder and the report folder the grader hides.

    Not under /tmp, which the sandbox replaces anyway.
    """
    folder = Path(tempfile.mkdtemp(prefix="nngrader-hidden-", dir="/var/tmp"))
    (folder / "answers.txt").write_text("42\n")
    folder.chmod(0o755)
    (folder / "answers.txt").chmod(0o644)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def tight(secret_dir: Path) -> Iterator[Sandbox]:
    with Sandbox(TIGHT, hide=[secret_dir]) as box:
        yield box


def test_hidden_paths_are_invisible(tight: Sandbox, secret_dir: Path) -> None:
    if not tight.layers["bubblewrap"]:
        pytest.skip("hiding paths needs bubblewrap")
    assert str(secret_dir) in tight.layers["hidden"]
    paths = [str(secret_dir / "answers.txt"), str(secret_dir)]
    with tight.spawn({"probe.py": paths_module(paths)}) as child:
        assert report(child, "try_read", 0) == {"read": False, "error": "FileNotFoundError"}
        assert report(child, "try_list", 1) == {"listed": True, "names": []}


def test_cpu_limit_kills_a_busy_loop(tight: Sandbox) -> None:
    # The CPU limit's signal, not the wall clock: a call that outlives its timeout raises ChildTimeout instead.
    with tight.spawn({"probe.py": TIGHT_PROBE}) as child:
        with pytest.raises(ChildDied, match=r"killed by signal (9 \(SIGKILL\)|24 \(SIGXCPU\))") as died:
            call(child, "burn")
        assert not isinstance(died.value, ChildTimeout)


def test_file_size_and_open_file_limits(tight: Sandbox) -> None:
    with tight.spawn({"probe.py": TIGHT_PROBE}) as child:
        assert report(child, "big_file") == {"errno": 27}  # EFBIG
        facts = report(child, "many_files")
        assert facts["errno"] == 24 and facts["opened"] < 16  # EMFILE


def test_oversized_reply_kills_the_child(tight: Sandbox) -> None:
    with tight.spawn({"probe.py": TIGHT_PROBE}) as child:
        with pytest.raises(ChildDied, match=r"sent a malformed reply \(message of \d+ bytes exceeds the limit of 100000\)"):
            call(child, "big_reply")
        assert not child.alive


def test_children_work_in_parallel(tight: Sandbox) -> None:
    def work(_: int) -> list[dict[str, Any]]:
        replies = []
        for _ in range(5):
            with tight.spawn({"numpy_net.py": b"def relu(h):\n    return h * 2\n"}) as child:
                replies.append(child.request({"op": "call", "module": "numpy_net", "function": "relu",
                                              "args": [["h", wire.encode_value(np.ones(2))]], "seed": 0}))
        return replies

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [reply for replies in pool.map(work, range(4)) for reply in replies]
    assert len(results) == 20 and all(reply["ok"] and wire.decode_value(reply["value"]).array.tolist() == [2.0, 2.0]
                                      for reply in results)


def test_a_dead_zygote_is_detected_and_replaced(tight: Sandbox) -> None:
    child = tight.spawn({"probe.py": TIGHT_PROBE})
    assert tight._process is not None
    os.killpg(tight._process.pid, 9)  # as if the zygote crashed
    tight._process.wait()
    deadline = time.monotonic() + 5
    with pytest.raises(ChildDied):  # its children die with it (PID namespace, or parent-death signal)
        while time.monotonic() < deadline:
            child.request({"op": "ping"})
            time.sleep(0.05)
    assert not child.alive
    child.close()
    assert_sandbox_works(tight)  # a new zygote


# ---------------------------------------------------------------- the mount plan (no sandbox: milliseconds)


ARITY = {"--ro-bind": 2, "--bind": 2, "--symlink": 2, "--dev": 1, "--proc": 1, "--tmpfs": 1, "--dir": 1,
         "--remount-ro": 1, "--perms": 1, "--size": 1}


def mounts_of(plan: bwrap_module.MountPlan) -> list[tuple[str, ...]]:
    """The plan's bwrap options as (option, its arguments...), without the --perms/--size modifiers."""
    arguments, ops, index = plan.arguments(), [], 0
    while index < len(arguments):
        name = arguments[index]
        count = ARITY[name]
        ops.append((name, *arguments[index + 1:index + 1 + count]))
        index += 1 + count
    return [op for op in ops if op[0] not in ("--perms", "--size")]


def plan_for(tmp_path: Path, *, hidden: list[Path], exposed: list[Path]) -> bwrap_module.MountPlan:
    worker = tmp_path / "inside"
    worker.mkdir(exist_ok=True)
    for path in [*hidden, *exposed]:
        if path.suffix != ".txt":
            path.mkdir(parents=True, exist_ok=True)
    return bwrap_module.MountPlan(hidden=tuple(hidden), exposed=tuple(exposed), worker=worker)


@pytest.fixture
def plan_root() -> Iterator[Path]:
    """A folder outside /tmp (which the plan replaces as a whole), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="nngrader-plan-", dir="/var/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_mount_plan_hides_the_project_but_binds_its_venv_back_on_top(plan_root: Path) -> None:
    project = plan_root / "project"
    venv = project / ".venv"
    ops = mounts_of(plan_for(plan_root, hidden=[project], exposed=[venv]))
    assert ops.index(("--tmpfs", str(project))) < ops.index(("--ro-bind", str(venv), str(venv)))
    assert ("--remount-ro", str(project)) in ops
    assert ops[-1] == ("--remount-ro", "/")


def test_mount_plan_covers_a_hidden_folder_inside_an_exposed_one_after_binding_it(plan_root: Path) -> None:
    site = plan_root / "site-packages"
    installed_grader = site / "grader"
    ops = mounts_of(plan_for(plan_root, hidden=[installed_grader], exposed=[site]))
    assert ops.index(("--ro-bind", str(site), str(site))) < ops.index(("--tmpfs", str(installed_grader)))


def test_mount_plan_replaces_a_hidden_file_by_an_empty_one(plan_root: Path) -> None:
    answers = plan_root / "answers.txt"
    answers.write_text("42")
    ops = mounts_of(plan_for(plan_root, hidden=[answers], exposed=[]))
    assert ("--ro-bind", "/dev/null", str(answers)) in ops


def test_mount_plan_opens_folders_other_users_cannot_enter(plan_root: Path) -> None:
    """/root is 0700: covered, and the Python installation under it bound back, so child uids can import."""
    locked = plan_root / "locked"
    python = locked / "python"
    python.mkdir(parents=True)
    locked.chmod(0o700)
    ops = mounts_of(plan_for(plan_root, hidden=[], exposed=[python]))
    assert ops.index(("--tmpfs", str(locked))) < ops.index(("--ro-bind", str(python), str(python)))


def test_mount_plan_mounts_the_worker_alone_and_private_folders(plan_root: Path) -> None:
    ops = mounts_of(plan_for(plan_root, hidden=[], exposed=[]))
    assert ("--ro-bind", str(plan_root / "inside"), str(bwrap_module.WORKER_PARENT / bwrap_module.WORKER_PACKAGE)) in ops
    for private in ("/tmp", "/run", "/dev/shm"):
        assert ("--tmpfs", private) in ops
    assert ("--remount-ro", "/tmp") not in ops and ("--remount-ro", "/run") in ops
    binds = [op for op in ops if op[0] == "--ro-bind" and op[1] != "/dev/null"]
    assert {op[1] for op in binds} >= {str(p) for p in bwrap_module.SYSTEM_PATHS if p.is_dir() and not p.is_symlink()}


def test_mount_plan_mounts_shallow_paths_first(plan_root: Path) -> None:
    project = plan_root / "a" / "project"
    deep = project / "b" / "c" / ".venv"
    ops = mounts_of(plan_for(plan_root, hidden=[project, plan_root / "a"], exposed=[deep]))
    mounted = [op[-1] for op in ops if op[0] in ("--tmpfs", "--dir", "--ro-bind") and op[1] != "/dev/null"]
    positions = {path: index for index, path in enumerate(mounted)}
    for path, index in positions.items():  # every parent that is mounted comes before its children
        for parent in Path(path).parents:
            assert positions.get(str(parent), -1) < index


def test_mount_plan_build_hides_the_project_and_what_is_asked(plan_root: Path) -> None:
    secret = plan_root / "reports"
    secret.mkdir()
    plan = bwrap_module.MountPlan.build(hide=[secret, plan_root / "missing", Path("/usr")], worker=plan_root)
    assert {PROJECT / "grader", PROJECT / "reference", secret} <= set(plan.hidden)
    assert Path("/usr") not in plan.hidden and plan_root / "missing" not in plan.hidden
    assert not any(other in path.parents for path in plan.exposed for other in plan.exposed)
