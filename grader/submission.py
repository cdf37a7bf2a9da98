"""Load a submission from disk: a folder, a single ``.py`` file or a notebook.

Loading only reads files (never follows symbolic links, never imports or runs
anything) and returns their bytes; the sandbox gets a private copy of them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .notebook import Cell

NUMPY_MODULE = "numpy_net"
TORCH_MODULE = "torch_net"
SINGLE_MODULE = "submission"
SUFFIXES = (".py", ".ipynb")
MAX_FILES = 50
MAX_BYTES = 5 << 20


class SubmissionError(ValueError):
    """The path cannot be read as a submission (a one-line message)."""


@dataclass(frozen=True)
class Submission:
    """A submission's files, and which module holds each framework's functions.

    ``files`` maps a file name inside the sandbox's working directory to its
    bytes; ``modules`` maps ``"numpy"`` and ``"torch"`` to module names;
    ``display`` maps sandbox file names back to what the student calls them
    (``submission.py`` → ``hw2.ipynb``); ``cells`` holds a notebook's code
    cells, converted to Python (see ``grader/notebook.py``).
    """

    name: str
    kind: str  # "folder" | "file" | "notebook"
    files: dict[str, bytes]
    modules: dict[str, str]
    display: dict[str, str] = field(default_factory=dict)
    cells: tuple[Cell, ...] = ()

    @property
    def content_hash(self) -> str:
        """SHA-256 over file names and contents: equal for unchanged submissions."""
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()

    def describe_location(self, where: str | None) -> str | None:
        """Rewrite ``"submission.py, line 42, in f"`` in the student's own terms."""
        if not where:
            return where
        match = re.match(r"(?P<file>[^,]+), line (?P<line>\d+)(?P<rest>.*)", where)
        if not match:
            return where
        file, line, rest = match["file"], int(match["line"]), match["rest"]
        if self.kind == "notebook" and re.fullmatch(r"cell \d+", file):
            return f"{self.notebook_name}, {file}, line {line}{rest}"
        return f"{self.display.get(file, file)}, line {line}{rest}"

    @property
    def notebook_name(self) -> str:
        """What the student calls the notebook (``hw2.ipynb``)."""
        return self.display.get(f"{SINGLE_MODULE}.py", f"{self.name}.ipynb")


def submission_name(path: Path) -> str:
    """The entry's name without a ``.py``/``.ipynb`` suffix (``alice.py`` → ``alice``)."""
    return path.name[: -len(path.suffix)] if path.suffix in SUFFIXES else path.name


def load_submission(path: Path) -> Submission:
    """Read a submission, or raise :class:`SubmissionError` saying what is wrong."""
    path = Path(path)
    if path.is_symlink():
        raise SubmissionError(f"{path}: is a symbolic link; submit the file or folder itself")
    if not path.exists():
        raise SubmissionError(f"{path}: no such file or folder")
    name = submission_name(path)
    if path.is_dir():
        return _load_folder(path, name)
    if path.suffix == ".py":
        return _single(name, "file", path.name, _read(path))
    if path.suffix == ".ipynb":
        return _notebook(name, path)
    raise SubmissionError(f"{path}: not a submission (expected a folder, a .py file or a .ipynb notebook)")


def _load_folder(folder: Path, name: str) -> Submission:
    entries = sorted(p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and not p.name.startswith("."))
    modules = [p for p in entries if p.name in (f"{NUMPY_MODULE}.py", f"{TORCH_MODULE}.py")]
    if not modules:
        singles = [p for p in entries if p.suffix in SUFFIXES]
        if len(singles) == 1:
            return replace(load_submission(singles[0]), name=name)
        raise SubmissionError(
            f"{folder}: holds neither {NUMPY_MODULE}.py nor {TORCH_MODULE}.py (nor a single .py or .ipynb file)"
        )
    python_files = [p for p in entries if p.suffix == ".py"]
    if len(python_files) > MAX_FILES:
        raise SubmissionError(f"{folder}: more than {MAX_FILES} .py files")
    files = {p.name: _read(p) for p in python_files}
    if sum(map(len, files.values())) > MAX_BYTES:
        raise SubmissionError(f"{folder}: more than {MAX_BYTES >> 20} MiB of Python files")
    return Submission(name, "folder", files, {"numpy": NUMPY_MODULE, "torch": TORCH_MODULE})


def _single(name: str, kind: str, original: str, source: bytes) -> Submission:
    file = f"{SINGLE_MODULE}.py"
    return Submission(name, kind, {file: source}, {"numpy": SINGLE_MODULE, "torch": SINGLE_MODULE}, {file: original})


def _notebook(name: str, path: Path) -> Submission:
    """A notebook: its code cells, run one by one in the sandbox as the module ``submission``."""
    from .notebook import CELLS_FILE, MAX_NOTEBOOK_BYTES, NotebookError, cells_file, read_cells

    try:
        cells = read_cells(_read(path, limit=MAX_NOTEBOOK_BYTES), path.name)
    except NotebookError as exc:
        raise SubmissionError(f"{path}: {exc}") from None
    modules = {"numpy": SINGLE_MODULE, "torch": SINGLE_MODULE}
    return Submission(name, "notebook", {CELLS_FILE: cells_file(cells)}, modules,
                      {f"{SINGLE_MODULE}.py": path.name}, cells)


def _read(path: Path, *, limit: int = MAX_BYTES) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            extra = " (embedded outputs count here: clear all outputs and save it again)" if path.suffix == ".ipynb" else ""
            raise SubmissionError(f"{path}: larger than {limit >> 20} MiB{extra}")
        return path.read_bytes()
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot read ({exc.strerror})") from None
