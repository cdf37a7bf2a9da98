"""Notebooks grade like Jupyter's "Run All" with errors allowed.

The notebooks under tests/submissions/notebooks/ are real .ipynb files as
Colab saves them (make_notebooks.py writes them). Correct ones score full
marks whatever notebook habits they hold; a buggy one gets the same messages
and hints as the same code in a .py file; bad files get a one-line error
without affecting the rest of a batch.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import types
from pathlib import Path

import jsonschema
import nbformat
import pytest

from conftest import ROOT, SUBMISSIONS
from grader.grading import GradingOptions, grade_many
from grader.notebook import MAX_NOTEBOOK_BYTES, NotebookError, read_cells

NOTEBOOKS = SUBMISSIONS / "notebooks"
CORRECT = ("colab_habits", "errors_first")
BUGS = ("softmax", "grad_w2_np", "Net")
SCHEMA = json.loads((ROOT / "grader" / "schema" / "report.schema.json").read_text())


@pytest.fixture(scope="module")
def graded(sandbox, options):
    """Every test notebook and .py twin, graded in one pass: name -> report."""
    paths = [NOTEBOOKS / f"{name}.ipynb" for name in CORRECT]
    paths += [NOTEBOOKS / f"buggy_{bug}.{suffix}" for bug in BUGS for suffix in ("ipynb", "py")]
    reports = grade_many(paths, options, sandbox=sandbox)
    return {path.name: report for path, report in zip(paths, reports)}


def test_the_committed_notebooks_are_what_the_generator_writes(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", NOTEBOOKS / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", tmp_path)
    module.main()
    for written in tmp_path.iterdir():
        assert written.read_bytes() == (NOTEBOOKS / written.name).read_bytes(), f"run {NOTEBOOKS}/make_notebooks.py"
        if written.suffix == ".ipynb":
            book = nbformat.read(str(written), as_version=4)
            assert "colab" in book.metadata and any(c.outputs for c in book.cells if c.cell_type == "code")
            assert any("과제" in c.source for c in book.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("name", CORRECT)
def test_a_correct_notebook_scores_full_marks_whatever_its_habits(graded, name):
    report = graded[f"{name}.ipynb"]
    assert report.status == "graded"
    assert report.score == report.max_score == 100, [c.message for c in report.checks if c.status != "pass"]
    jsonschema.validate(report.to_json(), SCHEMA)


def test_colab_habits_cost_nothing_and_warn_only_about_what_failed(graded):
    report = graded["colab_habits.ipynb"]
    # Drive mount, shell lines, magics, display, the self-check cell: no warning. Only the plot cell
    # may fail, where matplotlib is not installed, and then the warning names it.
    for warning in report.warnings:
        assert warning == ("colab_habits.ipynb, cell 13, line 1: matplotlib is not installed in the grading "
                           "environment; cell 13 failed there"), warning


def test_failed_cells_are_listed_once_with_cell_line_and_error(graded):
    report = graded["errors_first.ipynb"]
    assert report.warnings == (
        "errors_first.ipynb, cell 2, line 1: NameError: name 'w1' is not defined",
        "errors_first.ipynb, cell 3, line 1: wandb is not installed in the grading environment; cell 3 failed there",
        "errors_first.ipynb, cell 6, line 1: ValueError: 중간에 실패하는 셀",
        "errors_first.ipynb, cell 9, line 1: EOFError: input() has no keyboard to read from while grading",
        "errors_first.ipynb, cell 10, line 2: SystemExit: 0",
    )
    assert not any("cell" in check.message for check in report.checks)  # not repeated on the checks
    assert report.to_json()["warnings"] == list(report.warnings)


def _normalised(message: str) -> str:
    """A message without its location, which names a cell in a notebook and a line in a file."""
    return re.sub(r" \((?:[^()]*\.(?:py|ipynb)), (?:cell \d+, )?line \d+[^()]*\)", "", message)


@pytest.mark.parametrize("bug", BUGS)
def test_a_buggy_notebook_gets_the_messages_and_hints_of_its_py_twin(graded, bug):
    notebook, twin = graded[f"buggy_{bug}.ipynb"], graded[f"buggy_{bug}.py"]
    assert notebook.score == twin.score < 100
    assert notebook.warnings == twin.warnings == ()
    for ours, theirs in zip(notebook.checks, twin.checks, strict=True):
        assert (ours.id, ours.status, ours.score, ours.hint) == (theirs.id, theirs.status, theirs.score, theirs.hint)
        assert _normalised(ours.message) == _normalised(theirs.message)
    if bug == "grad_w2_np":
        assert any("rounded to 4 decimals" in (check.hint or "") for check in notebook.checks)


def test_top_level_over_the_time_budget_is_stopped_and_the_rest_graded(sandbox, options):
    rubric = dataclasses.replace(options.rubric,
                                 limits=dataclasses.replace(options.rubric.limits, notebook_timeout_s=3.0))
    short = dataclasses.replace(options, rubric=rubric)
    paths = [NOTEBOOKS / "slow_top_level.ipynb", NOTEBOOKS / "hang_ignoring_alarm.ipynb"]
    slow, hang = grade_many(paths, short, sandbox=sandbox)
    assert slow.score == hang.score == 100  # what cells before and after the endless one define is graded
    assert len(slow.warnings) == 1 and slow.warnings[0].startswith("slow_top_level.ipynb, cell 3, line 5: stopped after")
    assert "notebook_timeout_s" in slow.warnings[0]
    assert hang.warnings == ("hang_ignoring_alarm.ipynb, cell 3: did not stop when the notebook's 3 s ran out, "
                             "so its process was killed after 8 s; the grader skipped this cell and ran the cells "
                             "before it again in a fresh process",)


def _notebook(path: Path, *sources: str) -> Path:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("# 과제")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(book, str(path))
    return path


def test_a_function_whose_cell_failed_is_missing_with_the_reason(grade_sample, tmp_path):
    reference = (ROOT / "reference" / "numpy_net.py").read_text()
    path = _notebook(tmp_path / "hw.ipynb", reference.replace("def relu(", "def _unused_relu("),
                     "import not_a_real_package_xyz\n\ndef relu(h):\n    return np.maximum(h, 0)",
                     "y = softmax(None)")
    report = grade_sample(path, assemble_it=False)
    relu = next(c for c in report.checks if c.function == "relu")
    assert relu.message == ("relu is missing: hw.ipynb does not define it (cell 3, which defines it, failed; "
                            "see above)")
    assert report.warnings[0] == ("hw.ipynb, cell 3, line 1: not_a_real_package_xyz is not installed in the "
                                  "grading environment; cell 3 failed there")
    assert report.warnings[1].startswith("hw.ipynb, cell 4, line 1: TypeError")
    assert report.warnings[1].endswith("(raised at hw.ipynb, cell 2, line 46, in softmax)")


BAD = {
    "not_json.ipynb": (b"{\"cells\": [", "not a notebook: not valid JSON"),
    "a_list.ipynb": (b"[1, 2, 3]", "not a notebook: valid JSON, but it has no list of cells"),
    "latin1.ipynb": ("{\"cells\": []} é".encode("latin-1"), "not a notebook: the file is not UTF-8 text"),
    "markdown_only.ipynb": (None, "the notebook has no code cells"),
    "huge_outputs.ipynb": (None, f"larger than {MAX_NOTEBOOK_BYTES >> 20} MiB (embedded outputs count here"),
}


def test_bad_notebooks_get_a_one_line_error_and_spare_the_batch(sandbox, options, tmp_path):
    for name, (raw, _) in BAD.items():
        if raw is not None:
            (tmp_path / name).write_bytes(raw)
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_markdown_cell("# 과제 2"), nbformat.v4.new_code_cell("")]
    nbformat.write(book, str(tmp_path / "markdown_only.ipynb"))
    huge = nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": "A" * (20 << 20)})])
    nbformat.write(nbformat.v4.new_notebook(cells=[huge]), str(tmp_path / "huge_outputs.ipynb"))
    good = NOTEBOOKS / "errors_first.ipynb"
    paths = [tmp_path / name for name in BAD] + [good]
    reports = grade_many(paths, options, sandbox=sandbox)
    for (name, (_, expected)), report in zip(BAD.items(), reports):
        assert report.status == "error" and expected in report.error, (name, report.error)
        assert "\n" not in report.error and report.error.startswith(str(tmp_path / name))
        assert report.score == 0 and report.max_score == 100
        assert {c.message for c in report.checks} == {"not run: the submission could not be loaded (see the error above)"}
    assert reports[-1].status == "graded" and reports[-1].score == 100


def test_outputs_do_not_count_against_the_code_size(tmp_path):
    big = nbformat.v4.new_code_cell("def relu(h):\n    return h", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="손실 0.1\n" * 300_000)])  # about 7 MB of printed training
    path = tmp_path / "hw.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[big]), str(path))
    assert path.stat().st_size > 5 << 20
    assert [cell.defines for cell in read_cells(path.read_bytes(), "hw.ipynb")] == [frozenset({"relu"})]


def test_ipython_syntax_becomes_python_on_the_same_lines():
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("설명"),
        nbformat.v4.new_code_cell("%%time\nfor i in range(3):\n    x = i\nfiles = !ls\nnp.dot?"),
        nbformat.v4.new_code_cell("\n\n%%bash\nrm -rf /"),
        nbformat.v4.new_code_cell("%%capture out\nprint(1)"),
    ])
    cells = read_cells(nbformat.writes(book).encode(), "hw.ipynb")
    assert [cell.number for cell in cells] == [2, 3, 4]
    assert cells[0].source.splitlines() == [
        "get_ipython().run_cell_magic('time', '', '')",
        "for i in range(3):",
        "    x = i",
        "files = get_ipython().getoutput('ls')",
        "get_ipython().run_line_magic('pinfo', 'np.dot')",
    ]
    assert cells[0].defines == frozenset({"files"})  # top-level assignments only
    assert cells[1].source == "\n\nget_ipython().run_cell_magic('bash', '', 'rm -rf /\\n')\n"
    assert cells[2].source.startswith("get_ipython().run_cell_magic('capture', 'out', '')\nprint(1)")


def test_a_notebook_without_code_is_refused():
    empty = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 과제")]))
    with pytest.raises(NotebookError, match="no code cells"):
        read_cells(empty.encode(), "hw.ipynb")


def test_selfcheck_in_colab_checks_the_running_notebook_and_displays_a_short_table(monkeypatch, capsys):
    from grader import selfcheck

    running = json.loads((NOTEBOOKS / "buggy_grad_w2_np.ipynb").read_text(encoding="utf-8"))
    requests = []

    def blocking_request(kind, request="", timeout_sec=None):
        requests.append(kind)
        return {"ipynb": running}

    google, colab = types.ModuleType("google"), types.ModuleType("google.colab")
    colab._message = types.SimpleNamespace(blocking_request=blocking_request)
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    result = selfcheck.check()
    assert requests == ["get_ipynb"]
    assert result.submission == "buggy_grad_w2_np"
    assert result.score == pytest.approx(result.max_score - 5)  # grad_w2_np x1, x1_mask and x1_again, via the report
    text = repr(result)
    assert len(text) < 600 and len(text.splitlines()) == 5, text  # title, three tasks, total
    assert re.search(r"total \(visible checks\) +[0-9.]+ / [0-9.]+", text), text
    assert "<table>" in result._repr_html_() and len(result._repr_html_()) < 1500
    printed = capsys.readouterr().out
    assert "FAIL  task3/grad_w2_np/x1" in printed and "PASS" not in printed  # failures only; the value shows the table


def test_selfcheck_in_jupyter_finds_the_notebook_file(monkeypatch, tmp_path):
    from grader import selfcheck

    class ZMQInteractiveShell:
        user_ns: dict = {}

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", "course/hw2.ipynb")
    assert selfcheck._in_jupyter() and not selfcheck._in_colab()
    with pytest.raises(selfcheck.NotebookNotFound, match=r"pass its name, e.g. check\('hw2.ipynb'\)"):
        selfcheck._jupyter_notebook()
    (tmp_path / "hw2.ipynb").write_text("{}")
    assert selfcheck._jupyter_notebook() == tmp_path / "hw2.ipynb"


def test_a_restarted_notebook_skips_the_cells_that_hung_or_killed_its_process():
    from grader.compare import CodeError
    from grader.notebook import Cell, NotebookRun

    cells = tuple(Cell(number, f"# cell {number}", frozenset()) for number in (2, 3, 4, 5))
    sent: list[int] = []

    def send(message, timeout, subject):
        number = message["cell"]
        sent.append(number)
        if number == 3:
            return {"ok": True, "outcome": {"seconds": 60.0, "error": {"type": "CellTimeout", "line": 7,
                                                                        "timed_out": True}}}
        if number == 4 and sent.count(4) == 1:
            raise CodeError("cell 4: the process was killed by signal 11 (SIGSEGV)")
        return {"ok": True, "outcome": {"seconds": "garbage" if number == 5 else 0.01, "error": None}}

    run = NotebookRun(cells, "submission", "hw.ipynb", budget_s=60.0, describe=lambda where: where)
    run.run(send)
    assert sent == [0, 2, 3, 4, 0, 2, 5]  # cell 0: the empty cell that creates the namespace
    assert run.warnings == [
        "hw.ipynb, cell 3, line 7: stopped after 60 s, as the notebook's top level may run 60 s in all (the "
        "rubric's notebook_timeout_s); what the cell would have defined after that line is missing",
        "hw.ipynb, cell 4: the process was killed by signal 11 (SIGSEGV); the grader skipped this cell and ran "
        "the cells before it again in a fresh process",
    ]
    sent.clear()
    run.run(send)  # a later fresh process: the same cells again, no new warning
    assert sent == [0, 2, 5] and len(run.warnings) == 2
