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
from dataclasses import dataclass, field
from pathlib import Path

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
    (``submission.py`` → ``hw2.ipynb``); ``cell_of_line`` maps a line of a
    converted notebook to ``(cell number, line in cell)``.
    """

    name: str
    kind: str  # "folder" | "file" | "notebook"
    files: dict[str, bytes]
    modules: dict[str, str]
    display: dict[str, str] = field(default_factory=dict)
    cell_of_line: dict[int, tuple[int, int]] = field(default_factory=dict)

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
        if self.kind == "notebook" and file == f"{SINGLE_MODULE}.py" and line in self.cell_of_line:
            cell, cell_line = self.cell_of_line[line]
            return f"{self.display[file]}, cell {cell}, line {cell_line}{rest}"
        return f"{self.display.get(file, file)}, line {line}{rest}"


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
        source, cells = notebook_to_source(_read(path), path)
        return _single(name, "notebook", path.name, source, cells)
    raise SubmissionError(f"{_shown(path)}: not a submission (expected a folder, a .py file or a .ipynb notebook)")


def _load_folder(folder: Path, name: str) -> Submission:
    # Special files (FIFOs, devices) stay in: reading one as a .py file is refused with a clear message.
    entries = sorted(p for p in folder.iterdir() if not p.is_symlink() and not p.is_dir() and not p.name.startswith("."))
    modules = [p for p in entries if p.name in (f"{NUMPY_MODULE}.py", f"{TORCH_MODULE}.py")]
    if not modules:
        singles = [p for p in entries if p.suffix in SUFFIXES]
        if len(singles) == 1:
            inner = load_submission(singles[0])
            return Submission(name, inner.kind, inner.files, inner.modules, inner.display, inner.cell_of_line)
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


def _single(
    name: str, kind: str, original: str, source: bytes, cells: dict[int, tuple[int, int]] | None = None
) -> Submission:
    file = f"{SINGLE_MODULE}.py"
    return Submission(
        name, kind, {file: source}, {"numpy": SINGLE_MODULE, "torch": SINGLE_MODULE}, {file: safe_name(original)},
        cells or {},
    )


def _read(path: Path) -> bytes:
    """A regular file's bytes, at most ``MAX_BYTES``; anything else is a :class:`SubmissionError`.

    The type is checked before opening (opening a device can have effects)
    and again on the open descriptor (the entry may have been swapped in
    between); the file is opened without following links and without
    blocking, and never more than ``MAX_BYTES + 1`` bytes are read.
    """
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
            if info.st_size > MAX_BYTES:
                raise SubmissionError(f"{_shown(path)}: larger than {MAX_BYTES >> 20} MiB")
            chunks: list[bytes] = []
            remaining = MAX_BYTES + 1
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
    if len(data) > MAX_BYTES:  # it grew after fstat
        raise SubmissionError(f"{_shown(path)}: larger than {MAX_BYTES >> 20} MiB")
    return data


def _shown(path: Path) -> str:
    """A path in a message: undecodable bytes as ``\\xff``, control characters escaped."""
    return safe_name(path, limit=MAX_TEXT)


def _not_regular(mode: int) -> str | None:
    """What a file of ``mode`` is when it is not a regular file ("a FIFO"), else None."""
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "a special file")


def notebook_to_source(raw: bytes, path: Path) -> tuple[bytes, dict[int, tuple[int, int]]]:
    """The code cells of a notebook as one module, and where each line came from.

    IPython syntax is neutralised line by line so that line numbers stay put:
    shell escapes (``!pip ...``), line magics (``%matplotlib``) and whole cell
    magics (``%%time``) become comments. Returns the source and a map from a
    line of it to ``(cell number, line in that cell)``, cells counted from 1
    over all cells as the notebook shows them.
    """
    import nbformat  # imported here: only notebooks need it

    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # nbformat raises a zoo of exception types
        raise SubmissionError(f"{_shown(path)}: not a readable notebook ({type(exc).__name__}: {exc})") from None
    lines: list[str] = []
    origin: dict[int, tuple[int, int]] = {}
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        source = cell.source.splitlines()
        whole_cell_magic = bool(source) and source[0].lstrip().startswith("%%")
        lines.append(f"# --- cell {number} ---")
        for line_number, line in enumerate(source, start=1):
            stripped = line.lstrip()
            if whole_cell_magic or stripped.startswith(("!", "%")) or stripped.startswith("get_ipython("):
                line = line[: len(line) - len(stripped)] + "pass  # notebook-only: " + stripped
            lines.append(line)
            origin[len(lines)] = (number, line_number)
    return ("\n".join(lines) + "\n").encode("utf-8"), origin
