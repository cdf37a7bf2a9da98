"""Loading submissions: folders, single files, notebooks, and what is refused."""

from __future__ import annotations

import nbformat
import pytest

from conftest import REFERENCE
from grader.submission import SubmissionError, load_submission


def _reference_source() -> str:
    parts = []
    for module in ("numpy_net", "torch_net"):
        text = (REFERENCE / f"{module}.py").read_text()
        parts.append(text.replace("from __future__ import annotations\n", ""))
    return "\n".join(parts)


def _notebook(path, *cells: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Homework")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(notebook, str(path))


def test_notebook_with_ipython_syntax_is_graded(grade_sample, tmp_path):
    path = tmp_path / "hw.ipynb"
    _notebook(path, "!pip install numpy\n%matplotlib inline", _reference_source(), "%%time\nprint('trained')")
    report = grade_sample(path, assemble_it=False)
    assert report.submission == "hw"
    assert report.score == 100


def test_notebook_errors_point_at_the_cell(grade_sample, tmp_path):
    path = tmp_path / "hw.ipynb"
    broken = "def relu(h):\n    return h.nonexistent()"
    _notebook(path, _reference_source(), broken)
    checks = [c for c in grade_sample(path, assemble_it=False).checks if c.function == "relu"]
    assert "(hw.ipynb, cell 3, line 2, in relu)" in checks[0].message


def test_single_file_names_and_location(grade_sample, tmp_path):
    path = tmp_path / "alice.py"
    path.write_text(_reference_source() + "\n\ndef relu(h):\n    raise ValueError('nope')\n")
    report = grade_sample(path, assemble_it=False)
    message = next(c.message for c in report.checks if c.function == "relu")
    assert report.submission == "alice"
    assert "relu raised ValueError: nope (alice.py, line" in message


def test_folder_without_contract_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SubmissionError, match="holds neither numpy_net.py nor torch_net.py"):
        load_submission(tmp_path)


def test_symlinked_submission_is_refused(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(REFERENCE)
    with pytest.raises(SubmissionError, match="symbolic link"):
        load_submission(link)


def test_folder_skips_symlinks_and_hidden_files(tmp_path):
    (tmp_path / "numpy_net.py").write_text("x = 1\n")
    (tmp_path / "secret.py").symlink_to("/etc/passwd")
    (tmp_path / ".hidden.py").write_text("")
    assert set(load_submission(tmp_path).files) == {"numpy_net.py"}


def test_unloadable_submission_still_gets_a_full_report(grade_sample, tmp_path):
    (tmp_path / "empty").mkdir()
    report = grade_sample(tmp_path / "empty", assemble_it=False)
    assert report.status == "error" and "holds neither" in report.error
    assert report.max_score == 100 and report.score == 0
    assert {c.status for c in report.checks} == {"error"}


def test_content_hash_changes_with_content(tmp_path):
    (tmp_path / "numpy_net.py").write_text("x = 1\n")
    first = load_submission(tmp_path).content_hash
    assert load_submission(tmp_path).content_hash == first
    (tmp_path / "numpy_net.py").write_text("x = 2\n")
    assert load_submission(tmp_path).content_hash != first
