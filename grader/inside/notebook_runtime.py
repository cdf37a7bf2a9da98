"""What a notebook's cells find inside the sandbox: a stand-in for a Jupyter kernel.

The grader converts IPython syntax to Python before sending a cell (see
``grader/notebook.py``); the calls it produces reach the stand-in shell
here. Magics and shell escapes do nothing and return empty results, except
the few that run Python (``%time stmt``, ``%%time``, ``%%capture``,
``%timeit``, ``%prun``), whose statement or body runs once. ``!cmd``,
``%%bash``, ``%%writefile`` and ``%pip`` run nothing.

The namespace has what a kernel gives: ``get_ipython()``, ``display``,
``__name__ == "__main__"``; plotting is headless (``MPLBACKEND=Agg``),
``input()`` raises ``EOFError`` at once, and what top-level code prints is
discarded. Modules only Colab or Jupyter provide (``google.colab``,
``IPython.display``) and the handout's self-check (``grader.selfcheck``) are
stand-ins that do nothing, so leaving ``drive.mount(...)`` or the self-check
cell in a notebook costs nothing.

A cell runs with an alarm set to the time the grader allows it; the alarm
raises :class:`CellTimeout` (a ``BaseException``, so ``except Exception`` in
a training loop does not swallow it). Nothing here is trusted by the grader:
it reads the replies as data and kills a cell that ignores the alarm.
"""

from __future__ import annotations

import importlib.util
import io
import linecache
import os
import signal
import sys
import time
import traceback
import types
from typing import Any

RUNNING_MAGICS = frozenset({"time", "timeit", "prun", "memit"})  # line magics that run their statement
OUTPUT_MAGICS = frozenset({"sx", "system"})  # line magics that return a command's output
KEEP_OUTPUT_CHARS = 4096


class CellTimeout(BaseException):
    """The cell used up the time the grader gave it."""


class _Nothing:
    """Any attribute, any call: nothing happens (``drive.mount(...)``, ``HTML(...)``, ``files.upload()``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Nothing()

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __repr__(self) -> str:
        return "<not available while grading>"


class _StandInModule(types.ModuleType):
    """A module whose every attribute is a do-nothing object (classes such as ``HTML`` included)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Nothing


class SList(list):  # type: ignore[type-arg]
    """What ``files = !ls`` gives in IPython, empty: a list with ``.s``, ``.n``, ``.l``, ``.p``."""

    s = n = ""

    @property
    def l(self) -> list[str]:  # noqa: E743 - IPython's name
        return list(self)

    p = l

    def grep(self, *args: Any, **kwargs: Any) -> SList:
        return SList()

    def fields(self, *args: Any) -> SList:
        return SList()


class CapturedIO:
    """What ``%%capture out`` binds: nothing was captured for the student to show."""

    stdout = stderr = ""
    outputs: list[Any] = []

    def show(self) -> None:
        pass

    __call__ = show


class Shell:
    """The stand-in for ``get_ipython()``."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.user_ns = namespace

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> Any:
        if name in RUNNING_MAGICS and line.strip():
            self._run(line.lstrip(), sys._getframe(1))
            return None
        if name in OUTPUT_MAGICS:
            return SList()
        return None

    def run_cell_magic(self, name: str, line: str, cell: str) -> Any:
        if name == "capture" and line.split():
            target = [word for word in line.split() if not word.startswith("-")]
            if target:
                self.user_ns[target[0]] = CapturedIO()
        return None  # a body that runs was sent as code after this call (grader/notebook.py)

    def system(self, command: str) -> None:
        return None

    def getoutput(self, command: str, split: bool = True, depth: int = 0) -> SList:
        return SList()

    def run_cell(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Nothing()

    def _run(self, statement: str, caller: types.FrameType) -> None:
        """Run ``%time statement`` once, compiled at the caller's cell and line."""
        padding = "\n" * max(0, caller.f_lineno - 1)
        exec(compile(padding + statement, caller.f_code.co_filename, "exec"), self.user_ns)


class _Discard(io.TextIOBase):
    """Where top-level output goes: the first few KB are kept, the rest dropped."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.size < KEEP_OUTPUT_CHARS:
            self.kept.append(str(text)[: KEEP_OUTPUT_CHARS - self.size])
        self.size += len(text)
        return len(text)


def _display(*objects: Any, **kwargs: Any) -> None:
    return None


def _no_input(prompt: Any = "") -> str:
    raise EOFError("input() has no keyboard to read from while grading")


def _selfcheck(*args: Any, **kwargs: Any) -> None:
    return None  # the handout's self-check cell: the grader is already checking


# ---------------------------------------------------------------- the namespace


_modules: dict[str, types.ModuleType] = {}


def namespace_of(module_name: str) -> dict[str, Any]:
    """The notebook's one namespace, registered as ``sys.modules[module_name]`` on first use."""
    module = _modules.get(module_name)
    if module is None:
        os.environ["MPLBACKEND"] = "Agg"
        _install_stand_ins()
        module = types.ModuleType(module_name)
        namespace = module.__dict__
        shell = Shell(namespace)
        namespace.update({
            "__name__": "__main__",
            "get_ipython": lambda: shell,
            "display": _display,
            "input": _no_input,
        })
        sys.modules["IPython"].get_ipython = lambda: shell  # type: ignore[attr-defined]
        _modules[module_name] = module
        sys.modules[module_name] = module
    return module.__dict__


def _install_stand_ins() -> None:
    """Colab's and IPython's modules, and the handout's self-check, as do-nothing stand-ins."""
    stand_ins = {
        "google.colab": None, "google.colab.drive": None, "google.colab.files": None,
        "google.colab.output": None, "google.colab.data_table": None, "google.colab.patches": None,
        "IPython": None, "IPython.display": None, "IPython.core": None, "IPython.core.display": None,
    }
    if "google" not in sys.modules:
        google = types.ModuleType("google")
        try:  # keep other google.* packages (protobuf) importable where they are installed
            spec = importlib.util.find_spec("google")
            google.__path__ = list(spec.submodule_search_locations or []) if spec else []
        except Exception:  # ImportError, or an installation this process may not read
            google.__path__ = []
        sys.modules["google"] = google
    for name in stand_ins:
        module = _StandInModule(name)
        module.__path__ = []  # a package: submodules resolve through sys.modules
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)
    sys.modules["IPython"].display = sys.modules["IPython.display"]  # type: ignore[attr-defined]
    # Libraries that look for IPython (matplotlib's pyplot does) read its version: a recent one.
    sys.modules["IPython"].version_info = (9, 0, 0, "")  # type: ignore[attr-defined]
    sys.modules["IPython"].__version__ = "9.0.0"  # type: ignore[attr-defined]
    sys.modules["IPython.display"].display = _display  # type: ignore[attr-defined]
    selfcheck = types.ModuleType("grader.selfcheck")
    selfcheck.check = _selfcheck  # type: ignore[attr-defined]
    sys.modules["grader.selfcheck"] = selfcheck


# ---------------------------------------------------------------- running a cell


def run_cell(request: dict[str, Any], workdir: str) -> dict[str, Any]:
    """Run one cell in the notebook's namespace; reply with how it went.

    Request: ``{"op": "cell", "module": "submission", "cell": 3, "source":
    "...", "budget_s": 60.0}``. Reply: ``{"ok": true, "outcome": {"seconds":
    s, "error": null | {"type", "message", "line", "where", "timed_out",
    "missing_module"}}}``; ``line`` is the line in this cell where it
    stopped, ``where`` the innermost line of any cell (``"cell 3, line 2, in
    relu"``).
    """
    module_name, number = str(request["module"]), int(request["cell"])
    source, budget = str(request["source"]), max(0.001, float(request["budget_s"]))
    namespace = namespace_of(module_name)
    filename = os.path.join(workdir, f"cell {number}")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # inspect.getsource works
    sink = _Discard()
    saved = sys.stdout, sys.stderr
    previous = signal.signal(signal.SIGALRM, _alarm)
    started = time.monotonic()
    error = None
    try:
        sys.stdout = sys.stderr = sink
        signal.setitimer(signal.ITIMER_REAL, budget)
        try:
            exec(compile(source, filename, "exec"), namespace)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as exc:  # the student's, all of them (SystemExit, KeyboardInterrupt, CellTimeout)
        error = _describe(exc, filename, workdir)
    finally:
        sys.stdout, sys.stderr = saved
        signal.signal(signal.SIGALRM, previous)
    return {"ok": True, "outcome": {"seconds": round(time.monotonic() - started, 4), "error": error}}


def _alarm(signum: int, frame: Any) -> None:
    raise CellTimeout("the cell ran out of time")


def _describe(exc: BaseException, filename: str, workdir: str) -> dict[str, Any]:
    lines = traceback.format_exception_only(type(exc), exc)
    message = (lines[-1].strip() if lines else type(exc).__name__).replace(workdir + os.sep, "")
    line = where = None
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        line = exc.lineno
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
        if frame.filename.startswith(workdir + os.sep):
            where = f"{os.path.relpath(frame.filename, workdir)}, line {frame.lineno}, in {frame.name}"
    missing = None
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        missing = exc.name.split(".")[0]
    return {
        "type": type(exc).__name__,
        "message": message[:2000],
        "line": line,
        "where": where,
        "timed_out": isinstance(exc, CellTimeout),
        "missing_module": missing,
    }
