"""A submitted notebook as the grader sees it: cells to run like Jupyter's "Run All".

Two halves, both in the grader's process (no student code runs here):

* :func:`read_cells` turns the bytes of an ``.ipynb`` file into its code cells,
  each converted from IPython syntax to Python by IPython's own input
  transformer (``%time x = f()`` → ``get_ipython().run_line_magic(...)``,
  ``files = !ls`` → ``files = get_ipython().getoutput('ls')``, ``np.dot?``,
  ``%%bash`` ...). The sandbox side (``grader/inside/notebook_runtime.py``)
  provides the ``get_ipython()`` those calls reach.
* :class:`NotebookRun` sends the cells to the sandboxed child one at a time
  (the harness's ``cell`` request) with what is left of the notebook's time
  budget, and keeps one warning per cell that failed, for the report.

Semantics are nbgrader's ``allow_errors``: cells run in order in one
namespace; a cell that raises is recorded and the next one runs; what is
defined at the end is graded, so the last definition of a function wins. A
cell that hangs past the budget is stopped (by an alarm inside the child or,
failing that, by killing the child); a cell that kills or hangs the process
is skipped and the cells before it are run again in a fresh child.

Size limits: the ``.ipynb`` file may hold up to :data:`MAX_NOTEBOOK_BYTES`
(embedded outputs such as plots count here only); the code of its cells up to
:data:`MAX_CODE_BYTES`, the same limit as a folder's ``.py`` files.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_NOTEBOOK_BYTES = 16 << 20
MAX_CODE_BYTES = 5 << 20
CELLS_FILE = "submission.cells.json"  # the converted cells, in the sandbox's working directory (for the record)
# Cell magics whose body is Python that Jupyter runs: the body runs here too.
BODY_RUNNING_MAGICS = frozenset({"time", "timeit", "capture", "prun", "memit"})
GRACE_S = 2.0  # each cell after the budget is spent may still run this long (defining functions takes ms)
KILL_MARGIN_S = 5.0  # how long after its allowance the grader kills a cell that ignored the alarm
MAX_RESTARTS = 3  # fresh processes started because a cell killed or hung the previous one


class NotebookError(ValueError):
    """The bytes are not a notebook the grader can run (a one-line message)."""


@dataclass(frozen=True)
class Cell:
    """One code cell: ``number`` counts all cells from 1 as the notebook shows them."""

    number: int
    source: str  # Python, IPython syntax converted; same line numbers as the cell
    defines: frozenset[str]  # top-level names it assigns (def, class, =, import)


def read_cells(raw: bytes, file_name: str) -> tuple[Cell, ...]:
    """The code cells of a notebook, converted to Python, or :class:`NotebookError`."""
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"larger than {MAX_NOTEBOOK_BYTES >> 20} MiB (embedded outputs count here: "
                            "clear all outputs and save it again)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookError("not a notebook: the file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not a notebook: not valid JSON ({exc.msg} at line {exc.lineno}, "
                            f"column {exc.colno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise NotebookError("not a notebook: valid JSON, but it has no list of cells")
    import nbformat  # imported here: only notebooks need it

    try:  # an odd metadata field or a duplicate cell id is no reason to refuse, nor to print anything
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4, capture_validation_error={})
    except Exception as exc:  # nbformat raises a zoo of exception types
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise NotebookError(f"not a readable notebook ({type(exc).__name__}: {first})") from None
    cells = []
    code_bytes = 0
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        code_bytes += len(source.encode("utf-8"))
        if source.strip():
            cells.append(Cell(number, _to_python(source), _defined_names(source)))
    if code_bytes > MAX_CODE_BYTES:
        raise NotebookError(f"more than {MAX_CODE_BYTES >> 20} MiB of code in its cells")
    if not cells:
        raise NotebookError("the notebook has no code cells (or only empty ones)")
    return tuple(cells)


def cells_file(cells: tuple[Cell, ...]) -> bytes:
    """The converted cells as JSON: what the sandbox receives, and what the content hash covers."""
    return json.dumps([{"cell": c.number, "source": c.source} for c in cells], ensure_ascii=False).encode()


# ---------------------------------------------------------------- conversion


def _to_python(source: str) -> str:
    """IPython syntax → Python with IPython's transformer, keeping every line where it was.

    A cell magic that runs Python (``%%time``, ``%%capture out``) keeps its
    body as code after a first line that calls the magic with an empty body;
    any other cell magic (``%%bash``, ``%%writefile``) becomes one call that
    does nothing at grading time.
    """
    lines = source.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    head = lines[first].strip() if lines else ""
    if head.startswith("%%"):
        name, _, args = head[2:].partition(" ")
        if name in BODY_RUNNING_MAGICS:
            call = f"get_ipython().run_cell_magic({name!r}, {args.strip()!r}, '')"
            body = "\n".join(lines[first + 1:])
            return "\n" * first + call + "\n" + _transform(body)
    return _transform(source)


def _transform(source: str) -> str:
    """One piece of cell source through ``TransformerManager``; leading blank lines restored."""
    from IPython.core.inputtransformer2 import TransformerManager  # 0.5 s to import: notebooks only

    lines = source.splitlines()
    blank = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    try:
        converted = TransformerManager().transform_cell(source)
    except Exception:  # leave it as it is: the sandbox reports its SyntaxError with the cell and line
        return source
    return "\n" * blank + converted.lstrip("\n")


def _defined_names(source: str) -> frozenset[str]:
    """Top-level names a cell defines, for saying why a function is missing."""
    try:
        tree = ast.parse(_to_python(source))
    except (SyntaxError, ValueError):
        return frozenset(re.findall(r"^(?:async\s+)?(?:def|class)\s+(\w+)", source, re.MULTILINE))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return frozenset(names)


# ---------------------------------------------------------------- running


class Restart(Exception):
    """The child died or was killed while running a cell: run the notebook again in a fresh one."""


Send = Callable[[dict[str, Any], float, str], dict[str, Any]]


class NotebookRun:
    """Runs a notebook's cells in a child, and remembers what went wrong across restarts.

    ``send(message, timeout, subject)`` makes one harness request; it raises
    ``grader.compare.CodeError`` when the child died or did not answer in
    time (the child is then gone). ``describe(where)`` rewrites a location
    in the student's terms (``"cell 3, line 2"`` → ``"hw.ipynb, cell 3, line 2"``).
    """

    def __init__(self, cells: tuple[Cell, ...], module: str, file_name: str, *, budget_s: float,
                 describe: Callable[[str | None], str | None]) -> None:
        self.cells = cells
        self.module = module
        self.file_name = file_name
        self.budget_s = budget_s
        self.describe = describe
        self.failed: dict[int, str] = {}  # cell number -> warning (first run wins)
        self.skipped: set[int] = set()  # cells that killed or hung the process: never run again
        self.restarts = 0

    @property
    def warnings(self) -> list[str]:
        return [self.failed[number] for number in sorted(self.failed)]

    def run(self, send: Send) -> None:
        """Run every cell in order in the current child (restarting after a cell that kills it)."""
        while True:
            try:
                self._run_once(send)
                return
            except Restart:
                self.restarts += 1
                if self.restarts >= MAX_RESTARTS:
                    self._run_once(send, only_empty=True)  # the module exists; no cell runs again
                    return

    def why_missing(self, function: str) -> str:
        """`` (cell 4, which defines it, failed; see above)`` or an empty string."""
        cells = [c.number for c in self.cells if function in c.defines and c.number in self.failed]
        if not cells:
            return ""
        which = "cell " + ", ".join(map(str, cells))
        return f" ({which}, which define{'s' if len(cells) == 1 else ''} it, failed; see above)"

    def _run_once(self, send: Send, *, only_empty: bool = False) -> None:
        remaining = self.budget_s
        send({"op": "cell", "module": self.module, "cell": 0, "source": "", "budget_s": GRACE_S},
             GRACE_S + KILL_MARGIN_S, f"starting {self.file_name}")
        if only_empty:
            return
        for cell in self.cells:
            if cell.number in self.skipped:
                continue
            allowance = round(remaining if remaining > GRACE_S else GRACE_S, 1)
            message = {"op": "cell", "module": self.module, "cell": cell.number, "source": cell.source,
                       "budget_s": allowance}
            try:
                reply = send(message, allowance + KILL_MARGIN_S, f"cell {cell.number}")
            except Exception as exc:  # CodeError: the child is gone
                self.skipped.add(cell.number)
                reason = getattr(exc, "message", str(exc)).removeprefix(f"cell {cell.number}: ")
                if "timed out" in reason:
                    reason = (f"did not stop when the notebook's {self.budget_s:g} s ran out, "
                              f"so its process was killed after {allowance + KILL_MARGIN_S:g} s")
                self._warn(cell.number, f"{self.file_name}, cell {cell.number}: {reason}; the grader skipped this "
                                        "cell and ran the cells before it again in a fresh process")
                raise Restart from None
            outcome = reply.get("outcome") if reply.get("ok") else None
            if not isinstance(outcome, dict):
                self._warn(cell.number, f"{self.file_name}, cell {cell.number}: could not be run "
                                        f"({_text(reply.get('error'))})")
                continue
            remaining -= _seconds(outcome.get("seconds"))
            error = outcome.get("error")
            if isinstance(error, dict):
                self._warn(cell.number, self._describe_failure(cell.number, error, allowance))
                if error.get("timed_out"):  # a fresh process (after a crash in a check) does not wait for it again
                    self.skipped.add(cell.number)

    def _describe_failure(self, number: int, error: dict[str, Any], allowance: float) -> str:
        line = error.get("line")
        at = f"{self.file_name}, cell {number}" + (f", line {line}" if isinstance(line, int) else "")
        if error.get("timed_out"):
            return (f"{at}: stopped after {allowance:g} s, as the notebook's top level may run {self.budget_s:g} s "
                    "in all (the rubric's notebook_timeout_s); what the cell would have defined after that line "
                    "is missing")
        missing = error.get("missing_module")
        if isinstance(missing, str) and missing:
            return f"{at}: {missing} is not installed in the grading environment; cell {number} failed there"
        text = str(error.get("message", "error"))[:500]
        where = self.describe(error.get("where")) if error.get("where") else None
        deeper = f" (raised at {where})" if where and not where.startswith(at + ",") and where != at else ""
        return f"{at}: {text}{deeper}"

    def _warn(self, number: int, text: str) -> None:
        self.failed.setdefault(number, text)


def _seconds(value: Any) -> float:
    """A duration from the child's reply (which student code could have rewritten)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if 0.0 <= seconds < 1e6 else 0.0


def _text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message", "unknown error"))[:300]
    return "unknown error"
