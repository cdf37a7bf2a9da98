"""Load a submission from disk: a folder, a single ``.py`` file or a notebook.

Loading only reads files (never follows symbolic links, never imports or runs
anything) and returns their bytes; the sandbox gets a private copy of them.
Only regular files are read, each at most ``MAX_BYTES``, and never in a way
that can block: a FIFO or a device named ``x.py`` is refused, not opened for
reading. Names are kept as the file system holds them (a name that is not
UTF-8 still hashes and grades); wherever a name is shown it goes through
:func:`grader.safe_text.safe_name`.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .notebook import Cell

from .safe_text import MAX_TEXT, safe_name, safe_text

NUMPY_MODULE = "numpy_net"
TORCH_MODULE = "torch_net"
SINGLE_MODULE = "submission"
SUFFIXES = (".py", ".ipynb")
MAX_FILES = 50
MAX_BYTES = 5 << 20
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder", stat.S_IFLNK: "a symbolic link"}


class SubmissionError(ValueError):
    """The path cannot be read as a submission (a one-line message, safe to print: names come from students)."""

    def __init__(self, message: str) -> None:
        super().__init__(safe_text(message, MAX_TEXT))


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
            digest.update(os.fsencode(name) + b"\0" + hashlib.sha256(self.files[name]).digest())
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
    """The entry's name without a ``.py``/``.ipynb`` suffix (``alice.py`` → ``alice``), as safe text.

    Bytes that are not UTF-8 read ``\\xff`` and control characters are
    escaped (:func:`grader.safe_text.safe_name`): the name goes into reports,
    file names of reports, the gradebook and the terminal.
    """
    return safe_name(path.name[: -len(path.suffix)] if path.suffix in SUFFIXES else path.name)


def load_submission(path: Path) -> Submission:
    """Read a submission, or raise :class:`SubmissionError` saying what is wrong."""
    path = Path(path)
    if path.is_symlink():
        raise SubmissionError(f"{_shown(path)}: is a symbolic link; submit the file or folder itself")
    if not path.exists():
        raise SubmissionError(f"{_shown(path)}: no such file or folder")
    name = submission_name(path)
    if path.is_dir():
        return _load_folder(path, name)
    if path.suffix == ".py":
        return _single(name, "file", path.name, _read(path))
    if path.suffix == ".ipynb":
        return _notebook(name, path)
    raise SubmissionError(f"{_shown(path)}: not a submission (expected a folder, a .py file or a .ipynb notebook)")


def _load_folder(folder: Path, name: str) -> Submission:
    # Special files (FIFOs, devices) stay in: reading one as a .py file is refused with a clear message.
    entries = sorted(p for p in folder.iterdir() if not p.is_symlink() and not p.is_dir() and not p.name.startswith("."))
    modules = [p for p in entries if p.name in (f"{NUMPY_MODULE}.py", f"{TORCH_MODULE}.py")]
    if not modules:
        singles = [p for p in entries if p.suffix in SUFFIXES]
        if len(singles) == 1:
            return replace(load_submission(singles[0]), name=name)
        raise SubmissionError(
            f"{_shown(folder)}: holds neither {NUMPY_MODULE}.py nor {TORCH_MODULE}.py (nor a single .py or .ipynb file)"
        )
    python_files = [p for p in entries if p.suffix == ".py"]
    if len(python_files) > MAX_FILES:
        raise SubmissionError(f"{_shown(folder)}: more than {MAX_FILES} .py files")
    files = {p.name: _read(p) for p in python_files}
    if sum(map(len, files.values())) > MAX_BYTES:
        raise SubmissionError(f"{_shown(folder)}: more than {MAX_BYTES >> 20} MiB of Python files")
    return Submission(name, "folder", files, {"numpy": NUMPY_MODULE, "torch": TORCH_MODULE})


def _single(name: str, kind: str, original: str, source: bytes) -> Submission:
    file = f"{SINGLE_MODULE}.py"
    return Submission(name, kind, {file: source}, {"numpy": SINGLE_MODULE, "torch": SINGLE_MODULE},
                      {file: safe_name(original)})


def _notebook(name: str, path: Path) -> Submission:
    """A notebook: its code cells, run one by one in the sandbox as the module ``submission``."""
    from .notebook import CELLS_FILE, MAX_NOTEBOOK_BYTES, NotebookError, cells_file, read_cells

    try:
        cells = read_cells(_read(path, limit=MAX_NOTEBOOK_BYTES), path.name)
    except NotebookError as exc:
        raise SubmissionError(f"{_shown(path)}: {exc}") from None
    modules = {"numpy": SINGLE_MODULE, "torch": SINGLE_MODULE}
    return Submission(name, "notebook", {CELLS_FILE: cells_file(cells)}, modules,
                      {f"{SINGLE_MODULE}.py": path.name}, cells)


def _read(path: Path, *, limit: int | None = None) -> bytes:
    """A regular file's bytes, at most ``limit`` (default ``MAX_BYTES``); anything else is a :class:`SubmissionError`.

    The type is checked before opening (opening a device can have effects)
    and again on the open descriptor (the entry may have been swapped in
    between); the file is opened without following links and without
    blocking, and never more than ``limit + 1`` bytes are read.
    """
    limit = MAX_BYTES if limit is None else limit  # read at call time: tests lower the module limit
    try:
        kind = _not_regular(os.lstat(path).st_mode)
        if kind:
            raise SubmissionError(f"{_shown(path)}: is {kind}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
        try:
            info = os.fstat(fd)
            kind = _not_regular(info.st_mode)
            if kind:
                raise SubmissionError(f"{_shown(path)}: is {kind}, not a regular file")
            if info.st_size > limit:
                raise SubmissionError(f"{_shown(path)}: larger than {limit >> 20} MiB{_too_large_hint(path)}")
            chunks: list[bytes] = []
            remaining = limit + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        finally:
            os.close(fd)
    except OSError as exc:
        raise SubmissionError(f"{_shown(path)}: cannot read ({exc.strerror})") from None
    data = b"".join(chunks)
    if len(data) > limit:  # it grew after fstat
        raise SubmissionError(f"{_shown(path)}: larger than {limit >> 20} MiB{_too_large_hint(path)}")
    return data


def _shown(path: Path) -> str:
    """A path in a message: undecodable bytes as ``\\xff``, control characters escaped."""
    return safe_name(path, limit=MAX_TEXT)


def _not_regular(mode: int) -> str | None:
    """What a file of ``mode`` is when it is not a regular file ("a FIFO"), else None."""
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "a special file")


def _too_large_hint(path: Path) -> str:
    return " (embedded outputs count here: clear all outputs and save it again)" if path.suffix == ".ipynb" else ""
