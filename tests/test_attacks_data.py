"""Data-level attacks: what a submission sends or is named can never break grading or earn points.

Each attack is graded with an exact expectation: the report is graded, the
grader never fails (no internal error), every group scores exactly what the
code honestly earns, and every text the student controls reaches the JSON
report, the terminal, Markdown, the gradebook and the HTML page only as
safe text (grader/safe_text.py). The attacks on file names and special files
are built in ``tmp_path`` (git cannot hold a FIFO).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import stat
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from conftest import REFERENCE, ROOT, SUBMISSIONS, assemble
from grader.assignment import cases
from grader.batch import run as batch
from grader.checks import run_checks
from grader.compare import CheckFailed
from grader.gradescope import results_json
from grader.inside.wire import ArrayValue
from grader.report import write_report
from grader.rubric import load_rubric
from grader.runner import MEMO_MAX_ELEMENTS, SubmissionRunner
from grader.safe_text import UNSAFE
from grader.submission import SubmissionError, load_submission, submission_name
from grader.summary import markdown_summary, print_summary

ATTACKS = SUBMISSIONS / "attacks"
FORGED = "\\x1b[2J\\x1b[H\\x1b[32mtask1 30 / 30\\x1b[0m\\r\\n\\x9b2J\\u202eorez\\u202c\\x07"  # as shown: escaped
VISIBLE_SOFTMAX = "softmax(z = [1, 2, 3])"  # the group's first check: its message stands for the group


def line_of(attack: str, text: str, module: str = "numpy_net.py") -> int:
    """The line of ``text`` in an attack's file (so that expectations follow edits of the file)."""
    lines = (ATTACKS / attack / module).read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if text in line)


def expectations() -> dict[str, dict[str, tuple[str, str]]]:
    """attack -> {group that loses its points: (status, the exact message of its first check)}."""
    huge_line = line_of("huge_text", "raise ValueError(HUGE)")
    huge_where = "x" * (200 - len(f"numpy_net.py, line {huge_line}, in ") - 1) + "…"  # a location: 200 at most
    return {
        # 1: lone surrogates in the message (and in a type name, which Python itself refuses)
        "lone_surrogate": {
            "task1/relu": ("error", "relu raised ValueError: \\ud800 and \\udcff "
                                    f"(numpy_net.py, line {line_of('lone_surrogate', 'raise ValueError')}, in relu)"),
            "task1/softmax": ("error", "softmax raised UnicodeEncodeError: 'utf-8' codec can't encode character "
                                       "'\\ud800' in position 0: surrogates not allowed (numpy_net.py, line "
                                       f"{line_of('lone_surrogate', 'return type(')}, in softmax)"),
        },
        # 7: ESC sequences, C1 controls, bidi overrides in the message, the location and a type name
        "terminal_forgery": {
            "task1/relu": ("error", f"relu raised ValueError: {FORGED}\\x00 (numpy_net.py, line "
                                    f"{line_of('terminal_forgery', 'raise ValueError')}, in {FORGED})"),
            "task1/softmax": ("fail", f"{VISIBLE_SOFTMAX}: returned a {FORGED}, expected an array of shape (3,)"),
        },
        # 8: 8 MB in the message (the harness's own cap lifted), the location and a type name
        "huge_text": {
            "task1/relu": ("error", "relu raised " + "x" * 499 + f"… (numpy_net.py, line {huge_line}, in {huge_where})"),
            "task1/softmax": ("fail", f"{VISIBLE_SOFTMAX}: returned a " + "x" * 119 + "…, expected an array of shape (3,)"),
        },
        # 9: replies the grader cannot decode
        "undecodable_replies": {
            "task1/relu": ("error", "relu: the process sent a malformed reply (malformed message: an integer of 401 "
                                    "digits)"),
            "task1/softmax": ("error", "softmax: returned a value the grader cannot read (malformed shape (at most 32 "
                                       "dimensions of at most 1000000 each))"),
            "task1/forward_np": ("error", "forward_np: the process sent a malformed reply (malformed message: an "
                                          "integer of 5000 digits)"),
        },
        # 6: train_np and train_torch both return w1 + 1, w2 + 1: they agree, on nothing
        "points_for_nothing": {
            "task3/train_np": ("fail", "train_np(x1, y1, masks dropout_masks(100, 4, 0.4, seed=0)): w1: max abs error "
                                       "1.0e+00 at [0, 3] (tolerance 1.3e-05); got 1.4, expected 0.40164"),
            "task3/train_torch": ("fail", "train_torch(x1, y1, masks dropout_masks(100, 4, 0.4, seed=0)): w1: max abs "
                                          "error 1.0e+00 at [0, 3] (tolerance 1.3e-05); got 1.4, expected 0.40164"),
            "task3/agreement": ("fail", "train_np (x1, y1, masks dropout_masks(100, 4, 0.4, seed=0)): the weights do "
                                        "not move the way training on this case moves them (off by 1977% of the "
                                        "change); NumPy and torch agreeing earns points only for a training"),
        },
    }


DATA_ATTACKS = ("lone_surrogate", "terminal_forgery", "huge_text", "undecodable_replies", "points_for_nothing")


def assert_safe(text: str, where: str) -> None:
    """No control character, ESC, lone surrogate or bidi override in ``text`` (line breaks allowed)."""
    bad = UNSAFE.search(text.replace("\n", ""))
    assert bad is None, f"{where}: unsafe character {bad.group()!r} at {bad.start()}"
    text.encode("utf-8")  # strict: no surrogate survives


def strings_of(data) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [s for key, value in data.items() for s in strings_of(key) + strings_of(value)]
    if isinstance(data, list):
        return [s for item in data for s in strings_of(item)]
    return []


def console_text(report, **options) -> str:
    """What ``grader grade`` prints, on a terminal without colours (so any ESC would be the student's)."""
    buffer = io.StringIO()
    print_summary(report, show_passing=False,
                  console=Console(file=buffer, force_terminal=True, color_system=None, width=400, **options))
    return buffer.getvalue()


def test_the_data_attacks_are_the_new_sample_folders():
    assert set(DATA_ATTACKS) == set(expectations()) and all((ATTACKS / name).is_dir() for name in DATA_ATTACKS)


@pytest.mark.parametrize("attack", DATA_ATTACKS)
def test_data_attack_costs_only_its_own_points_and_every_output_is_safe(grade_sample, tmp_path, attack):
    report = grade_sample(ATTACKS / attack)
    expected = expectations()[attack]
    assert report.status == "graded" and report.internal_errors == []
    losing = {check.id.rsplit("/", 1)[0] for check in report.checks if check.score < check.max_score}
    assert losing == set(expected)
    for group, (status, message) in expected.items():
        checks = [check for check in report.checks if check.id.startswith(group + "/")]
        assert all(check.status == status for check in checks), checks
        assert checks[0].message == message
    honest = sum(c.max_score for c in report.checks if c.id.rsplit("/", 1)[0] not in expected)
    assert report.score == pytest.approx(honest)
    # every output: the JSON report (written and read back), the terminal, Markdown, Gradescope
    path = tmp_path / "report.json"
    write_report(report, path)
    data = json.loads(path.read_bytes().decode("utf-8"))
    assert data["score"] == pytest.approx(honest) and path.stat().st_size < 64_000
    for text in strings_of(data):
        assert_safe(text, "report.json")
    assert_safe(console_text(report), "terminal")
    assert_safe(markdown_summary(report), "markdown")
    for text in strings_of(results_json(report)):
        assert_safe(text, "gradescope")


def test_a_forged_screen_stays_text_on_the_terminal(grade_sample):
    report = grade_sample(ATTACKS / "terminal_forgery")
    shown = console_text(report)
    assert "\x1b" not in shown and "\x9b" not in shown and "\r" not in shown
    assert f"in {FORGED})" in shown  # the TA sees what the student wrote, as text
    assert "terminal_forgery: 91 / 100" in shown
    markdown = markdown_summary(report)
    assert "\\x1b\\[2J" in markdown and "\x1b" not in markdown


def test_markup_and_html_in_names_and_messages_stay_text(tmp_path, grade_sample):
    folder = assemble(ATTACKS / "terminal_forgery", tmp_path / "[bold red]x <img src=y>")
    report = grade_sample(folder, assemble_it=False)
    shown = console_text(report)
    assert "[bold red]x <img src=y>: 91 / 100" in shown  # rich markup is not interpreted
    assert "## \\[bold red\\]x &lt;img src=y&gt;: 91 / 100" in markdown_summary(report)


def test_grader_grade_writes_a_report_for_a_lone_surrogate_from_another_folder(tmp_path):
    """The issue's one line: ``grader grade`` exited 1 with a traceback and wrote no report."""
    submission = assemble(ATTACKS / "lone_surrogate", tmp_path / "submission")
    run = subprocess.run([sys.executable, "-m", "grader", "grade", str(submission), "-o", "out.json"],
                         cwd=tmp_path, capture_output=True, text=True, errors="strict", timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "\\ud800 and \\udcff" in run.stdout
    assert json.loads((tmp_path / "out.json").read_text("utf-8"))["score"] == 91


# ---------------------------------------------------------------- 2, 10: names and special files


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def make_zero_device(path: Path) -> Path:
    """A character device like /dev/zero (needs root; skipped otherwise)."""
    try:
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return path


def load_in_time(path: Path, seconds: float = 20.0):
    """load_submission(path) in a thread: a hang fails the test instead of stalling the suite."""
    outcome: list[object] = []

    def load() -> None:
        try:
            outcome.append(load_submission(path))
        except BaseException as exc:  # noqa: BLE001: the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"loading {path} blocked for {seconds} s"
    return outcome[0]


@pytest.mark.parametrize("make, kind", [(make_fifo, "a FIFO"), (make_zero_device, "a character device")])
def test_special_files_are_refused_never_read(tmp_path, make, kind):
    entry = make(tmp_path / "x.py")
    error = load_in_time(entry)
    assert isinstance(error, SubmissionError) and str(error) == f"{entry}: is {kind}, not a regular file"
    folder = assemble(REFERENCE, tmp_path / "folder")
    (folder / "numpy_net.py").unlink()
    make(folder / "numpy_net.py")
    error = load_in_time(folder)
    assert isinstance(error, SubmissionError)
    assert str(error) == f"{folder / 'numpy_net.py'}: is {kind}, not a regular file"


def test_a_file_that_grows_past_the_limit_is_refused(tmp_path, monkeypatch):
    from grader import submission

    monkeypatch.setattr(submission, "MAX_BYTES", 100)
    big = tmp_path / "big.py"
    big.write_bytes(b"#" * 101)
    with pytest.raises(SubmissionError, match=r"big.py: larger than 0 MiB"):
        load_submission(big)


def test_names_that_are_not_utf8_hash_and_show_as_escapes(tmp_path):
    folder = assemble(REFERENCE, tmp_path / "folder")
    before = load_submission(folder).content_hash
    Path(os.fsdecode(os.fsencode(folder) + b"/\xff.py")).write_bytes(b"x = 1\n")  # a name git keeps as it is
    loaded = load_submission(folder)
    assert loaded.content_hash != before and os.fsdecode(b"\xff.py") in loaded.files
    assert submission_name(Path(os.fsdecode(b"/class/\xff\x1b[2J.py"))) == "\\xff\\x1b[2J"
    error = load_in_time(Path(os.fsdecode(os.fsencode(tmp_path) + b"/\xff.py")))
    assert str(error) == f"{tmp_path}/\\xff.py: no such file or folder"


def reference_as_one_file() -> bytes:
    """The reference's two modules as one ``.py`` file holding every name."""
    parts = [(REFERENCE / f"{module}.py").read_text().replace("from __future__ import annotations\n", "")
             for module in ("numpy_net", "torch_net")]
    return "\n".join(parts).encode()


def test_batch_grades_around_hostile_names_special_files_and_text(tmp_path, options):
    """Breaks 1, 2, 7 and 10 in one class folder; then a rerun finds everything up to date."""
    directory, output = tmp_path / "class", tmp_path / "reports"
    directory.mkdir()
    raw = os.fsencode(directory)
    assemble(REFERENCE, directory / "alice")
    Path(os.fsdecode(raw + b"/\xff.py")).write_bytes(reference_as_one_file())  # not UTF-8
    (directory / "\x1b[2J\x1b[Hmallory.py").write_bytes(reference_as_one_file())  # an ESC sequence
    assemble(ATTACKS / "lone_surrogate", directory / "lone")
    assemble(ATTACKS / "terminal_forgery", directory / "forger")
    make_fifo(directory / "pipe.py")
    special = assemble(REFERENCE, directory / "with_specials")
    make_fifo(special / "stray.py")
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=400)
    result = batch.run_batch(directory=directory, output=output, options=options, jobs=1, console=console)
    names = {"alice": 100, "\\xff": 100, "\\x1b[2J\\x1b[Hmallory": 100, "lone": 91, "forger": 91, "pipe": None,
             "with_specials": None}
    assert set(result.reports) == set(names) and result.complete and not result.failures
    for name, score in names.items():
        report = result.reports[name]
        assert report is not None and not report.get("internal_errors")
        assert (report["status"], report["score"]) == (("graded", score) if score is not None else ("error", 0))
        assert (output / f"{name}.json").is_file()
    assert result.reports["pipe"]["error"] == f"{directory / 'pipe.py'}: is a FIFO, not a regular file"
    assert result.reports["with_specials"]["error"] == f"{special / 'stray.py'}: is a FIFO, not a regular file"
    with (output / "grades.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(names) and rows["\\xff"]["score"] == "100" and rows["pipe"]["status"] == "error"
    for text in [(output / "grades.csv").read_text("utf-8"), (output / "summary.html").read_text("utf-8"),
                 buffer.getvalue()]:
        assert_safe(text, "batch output")
    assert "\x1b" not in buffer.getvalue() and "\\x1b[2J\\x1b[Hmallory: 100 / 100" in buffer.getvalue()
    again = batch.grade_batch(directory=directory, output=output, options=options, jobs=1)
    assert again.graded == [] and sorted(again.up_to_date) == sorted(names)  # hashes of odd names are stable


# ---------------------------------------------------------------- 8: memory


def test_the_runner_keeps_a_bounded_memo_of_decoded_answers(sandbox, tmp_path):
    """A submission answering every call with the largest arrays the wire allows: nothing piles up."""
    folder = tmp_path / "largest"
    folder.mkdir()
    (folder / "numpy_net.py").write_text(
        "import numpy as np\n\n"
        "def train_np(x, target, w1, w2, masks, lr=0.01, p=0.4):\n"
        "    return np.ones((1000, 1000)), np.ones((1000, 1000))\n\n"
        "def relu(h):\n"
        "    return np.ones((1000, 1000))\n"
    )
    runner = SubmissionRunner(sandbox, load_submission(folder), timeout_s=30.0)
    with runner:
        for case in cases.TRAIN[:1]:
            args = [("x", case.x), ("target", case.target), ("w1", case.w1), ("w2", case.w2), ("masks", case.masks),
                    ("lr", case.lr), ("p", case.p)]
            w1, w2 = runner.call("train_np", *args)
            assert w1.array.shape == (1000, 1000) and runner._memo_elements == 0  # too large to keep
        for case in cases.RELU[:2]:
            assert runner.call("relu", ("h", case.value)).array.shape == (1000, 1000)
        first = runner.call("relu", ("h", cases.RELU[0].value))  # kept: it fitted in the memo
        assert first is runner.call("relu", ("h", cases.RELU[0].value))
        assert runner._memo_elements == MEMO_MAX_ELEMENTS and len(runner._answers) == 1


def test_an_honest_submission_is_answered_from_the_memo_when_repeated(sandbox):
    runner = SubmissionRunner(sandbox, load_submission(REFERENCE), timeout_s=30.0)
    with runner:
        case = cases.TRAIN[0]
        args = [("x", case.x), ("target", case.target), ("w1", case.w1), ("w2", case.w2), ("masks", case.masks),
                ("lr", case.lr), ("p", case.p)]
        first = runner.call("train_np", *args)
        runner._child.close()  # a repeated call must not need the child
        assert runner.call("train_np", *args) is first
        assert all(isinstance(w, ArrayValue) for w in first) and len(runner._answers) == 1


# ---------------------------------------------------------------- 6: nothing computed, nothing earned


def _load_check_task3():
    path = ROOT / "grader" / "assignment" / "checks" / "check_task3.py"
    spec = importlib.util.spec_from_file_location("check_task3_for_tests", path)
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)  # the grader's own session registers it
        spec.loader.exec_module(module)
    return module


CHECK_TASK3 = _load_check_task3()
TORCH = {"Net", "forward_torch", "grad_w1_torch", "train_torch"}


def output_shapes(function: str, args: dict[str, np.ndarray]):
    """The shapes a right answer has, from the contract (a "nothing" answer may as well have them)."""
    w1, w2 = args.get("w1"), args.get("w2")
    if function in ("relu", "softmax"):
        return next(iter(args.values())).shape
    if function in ("forward_np", "forward_torch", "Net"):
        x = args["x"]
        out = (w2.shape[1],) if x.ndim == 1 else (x.shape[0], w2.shape[1])
        return (out, w1.T.shape, w2.T.shape) if function == "Net" else out
    if function == "loss_np":
        return ()
    if function in ("grad_w1_np", "grad_w1_torch"):
        return w1.shape
    if function == "grad_w2_np":
        return w2.shape
    return (w1.shape, w2.shape)  # train_np, train_torch


class NothingRunner:
    """A submission that computes nothing, in process: every answer is ``make(input, shape)``.

    ``make`` sees the first input array resized to the answer's shape (for
    training: w1 and w2 themselves) and the shape, never the task. Answers
    depend only on the inputs, not on the function, so NumPy and torch agree.
    """

    def __init__(self, make) -> None:
        self.make = make

    def call(self, function: str, *args):
        values = {name: np.asarray(value, dtype=np.float64) for name, value in args}
        shapes = output_shapes(function, values)
        arrays = [value for value in values.values() if value.ndim]
        if function in ("train_np", "train_torch"):
            answer = tuple(self._array(function, self.make(values[w], values[w].shape)) for w in ("w1", "w2"))
        elif function == "Net":
            answer = tuple(self._array(function, self.make(np.resize(arrays[0], shape), shape)) for shape in shapes)
        elif shapes == ():
            answer = float(self.make(arrays[0].ravel()[:1], (1,))[0])
        else:
            answer = self._array(function, self.make(np.resize(arrays[0], shapes), shapes))
        return answer

    @staticmethod
    def _array(function: str, array: np.ndarray) -> ArrayValue:
        tensor = function in TORCH
        return ArrayValue(kind="tensor" if tensor else "ndarray", dtype="float32" if tensor else "float64",
                          array=np.asarray(array, dtype=np.float64))

    def close(self) -> None:
        pass


def nothing(kind: str, a: float = 1.0, b: float = 0.0, seed: int = 0):
    """One way of computing nothing: the inputs, zeros, a constant, a shift, a scaling, both, or noise."""

    def make(inputs: np.ndarray, shape) -> np.ndarray:
        if kind == "inputs":
            return inputs.copy()
        if kind == "zeros":
            return np.zeros(shape)
        if kind == "constant":
            return np.full(shape, a)
        if kind == "shift":
            return inputs + a
        if kind == "affine":
            return a * inputs + b
        rng = np.random.default_rng([seed, *np.asarray(shape, dtype=np.int64).ravel()])  # same draw for np and torch
        return inputs + a * rng.standard_normal(shape) if kind == "noisy inputs" else a * rng.standard_normal(shape)

    return make


# One of each kind for the whole suite (a failing check costs pytest ~0.1 s to describe); the
# property test below draws many more against the one check that compares two answers with each other.
FAMILY = [nothing("inputs"), nothing("zeros"), nothing("shift", 1.0), nothing("noisy inputs", 0.01, seed=7)]


def test_a_submission_that_computes_nothing_scores_zero():
    """The whole check suite, once, against a generated family of submissions that compute nothing."""
    results = run_checks([NothingRunner(make) for make in FAMILY], load_rubric())
    for checks in results:
        earned = [(check.id, check.message) for check in checks if check.score > 0]
        assert earned == [], earned


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["inputs", "zeros", "constant", "shift", "affine", "noise", "noisy inputs"]),
       a=st.floats(-10, 10, allow_nan=False) | st.sampled_from([1.0, 1e-3, -1e-3, 1e-6]),
       b=st.floats(-1, 1, allow_nan=False),
       seed=st.integers(0, 2**32 - 1),
       case=st.sampled_from(cases.AGREEMENT))
def test_agreement_on_nothing_earns_nothing(kind, a, b, seed, case):
    """Property: NumPy and torch "trainings" that agree on nothing never pass the agreement check."""
    run = NothingRunner(nothing(kind, a, b, seed))
    tolerance = load_rubric().group("task3/agreement").tolerance
    with pytest.raises(CheckFailed):
        CHECK_TASK3.test_agreement(case, run, tolerance, lambda message: None)


def test_agreement_still_credits_a_real_training(sandbox):
    """The reference's NumPy and torch trainings agree and earn the check (the gate is not a wall)."""
    runner = SubmissionRunner(sandbox, load_submission(REFERENCE), timeout_s=30.0)
    tolerance = load_rubric().group("task3/agreement").tolerance
    passed: list[str] = []
    with runner:
        for case in cases.AGREEMENT:
            CHECK_TASK3.test_agreement(case, runner, tolerance, passed.append)
    assert len(passed) == len(cases.AGREEMENT) and all("matches" in message for message in passed)


@pytest.mark.parametrize("case", cases.AGREEMENT, ids=lambda c: c.id)
def test_no_affine_map_of_the_weights_comes_near_the_training(case):
    """Exact bound behind the agreement gate: the best a*w + b per weight is >= 97% off on each case."""
    from grader.assignment import expected

    residual, total = 0.0, 0.0
    for initial, final in zip((case.w1, case.w2), expected.train(case)):
        change = (final - initial).ravel()
        design = np.stack([initial.ravel(), np.ones(initial.size)], axis=1)
        coefficients, *_ = np.linalg.lstsq(design, change, rcond=None)
        residual += float(np.sum((design @ (coefficients) - change) ** 2))
        total += float(np.sum(change**2))
    off = (residual / total) ** 0.5  # of a*w + b - w: the best any affine map of the inputs can do
    assert off > 0.97 and CHECK_TASK3.AGREEMENT_MAX_OFF <= 0.5
