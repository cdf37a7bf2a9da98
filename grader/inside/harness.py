"""The request loop that runs inside the sandbox and calls student code.

Each request gets one reply, in order, except ``calls``, which gets one per
call it holds:

``{"op": "ping"}``
    ``{"ok": true}``.
``{"op": "import", "module": "numpy_net"}``
    imports the student's module; ``{"ok": true}`` or an error.
``{"op": "cell", "module": "submission", "cell": 3, "source": "...", "budget_s": 60}``
    runs one notebook cell in the notebook's namespace (``notebook_runtime``),
    which becomes the module ``submission``; replies how the cell went.
``{"op": "call", "module": "numpy_net", "function": "forward_np", "args": [["x", v], ...], "seed": 0}``
    seeds ``random``, ``numpy`` and ``torch``, calls the function with the
    decoded arguments (in order) and replies
    ``{"ok": true, "value": v, "mutated": ["w1"]}``: the encoded return value
    and the names of the arguments the call modified in place.
    ``function`` may also be ``"Net"``: the arguments are then
    ``w1, w2, p, x, mask`` and the value is ``(Net(w1, w2, p)(x, mask),
    net.linear1.weight, net.linear2.weight)``.
``{"op": "calls", "calls": [<call>, ...]}``
    runs the ``call`` requests one after the other, one reply each: a whole
    submission's planned calls cost one request instead of one round trip
    each. With a progress page (below) the replies are held and sent
    together after the last call (or once ``HOLD_MAX_BYTES`` are held), so
    that the grader is not woken once per call while the calls run; without
    one, each is sent as soon as it is ready.

The progress page is a descriptor the grader may send along with the
child's files (:func:`serve`'s ``progress``): before each call of a
``calls`` request the harness writes there how many such calls it has
started, as 8 little-endian bytes. The grader reads it when a reply is late
or the child died, to time each call on its own and to blame the call that
was running, not the first of those whose replies were still held.

Errors reply ``{"ok": false, "error": {"kind": ..., "type": ..., "message":
..., "where": ...}}`` with ``kind`` one of ``import``, ``missing``,
``not_implemented``, ``exception``, ``bad_request``; ``where`` is the
innermost line of the student's own files (``"numpy_net.py, line 12, in
relu"``), or null.

Nothing here is trusted by the grader: student code shares this process and
may rewrite any of it. The grader only ever reads the replies as data.
"""

from __future__ import annotations

import importlib
import os
import random
import socket
import sys
import traceback
from typing import Any, Callable, Iterator

import numpy as np

from . import notebook_runtime, wire

MAX_REQUEST_BYTES = 64 << 20
HOLD_MAX_BYTES = 1 << 20  # replies held at most before they are sent anyway


def serve(sock: socket.socket, workdir: str, progress: int | None = None) -> None:
    """Answer requests on ``sock`` until the grader closes it.

    ``workdir`` holds the student's files; it becomes the first entry of
    ``sys.path`` so that ``import numpy_net`` finds them. ``progress`` is
    the grader's progress page, if it sent one (see the module docstring).
    """
    sys.path.insert(0, workdir)
    serving = os.getpid()
    started = 0  # calls of ``calls`` requests started, as written on the progress page

    def starting() -> None:
        nonlocal started
        started += 1
        if progress is not None:
            try:
                os.pwrite(progress, started.to_bytes(8, "little"), 0)
            except OSError:  # student code closed or replaced it: only its own blame is at stake
                pass

    while True:
        try:
            request = wire.receive_message(sock, MAX_REQUEST_BYTES)
        except (EOFError, OSError, wire.WireError):
            return
        hold = progress is not None and request.get("op") == "calls"
        held: list[bytes] = []
        held_bytes = 0
        for reply in _replies(request, workdir, starting):
            if os.getpid() != serving:  # a copy forked by student code: it must never touch the socket
                os._exit(0)
            held.append(wire.frame(reply))
            held_bytes += len(held[-1])
            if not hold or held_bytes >= HOLD_MAX_BYTES:
                sock.sendall(b"".join(held))
                held, held_bytes = [], 0
        if held:
            sock.sendall(b"".join(held))


def rehearse(rounds: int) -> None:
    """Run the request path of ``call`` ``rounds`` times on a throwaway function (the zygote's warm-up).

    Decoding arguments, seeding, the call, the check for modified arguments
    and encoding the reply all run as for a submission, so that a child
    inherits them specialised (see ``warmup``). Leaves nothing behind.
    """
    import torch

    name = "_nngrader_rehearsal"
    module = type(sys)(name)
    module.echo = lambda *args: args  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        arguments = [["x", wire.encode_value(np.arange(3.0))], ["w", wire.encode_value(torch.ones(2, 2))],
                     ["p", wire.encode_value(0.5)], ["mask", wire.encode_value(None)]]
        for _ in range(rounds):
            reply = _answer({"op": "call", "module": name, "function": "echo", "args": arguments, "seed": 0}, "",
                            arrays={})  # each round decodes its arguments, as a child's first calls do
            if not wire.decode_message(wire.encode_message(reply)).get("ok"):
                raise RuntimeError(f"the harness's rehearsal failed: {reply}")
    finally:
        del sys.modules[name]


def _replies(request: dict[str, Any], workdir: str, starting: Callable[[], None]) -> Iterator[dict[str, Any]]:
    """The replies to one request: one, or one per call of ``calls`` (each computed as it is asked for).

    ``starting()`` is called before each call of ``calls`` runs.
    """
    arrays: dict[tuple[Any, ...], Any] = {}  # the arrays this request's calls share (see _decoded)
    if request.get("op") != "calls":
        yield _answer(request, workdir, arrays=arrays)
        return
    calls = request.get("calls")
    if not isinstance(calls, list):
        yield _bad_request("calls must hold a list")
        return
    for call in calls:
        is_call = isinstance(call, dict) and call.get("op") == "call"
        if is_call:
            starting()
        yield _answer(call, workdir, arrays=arrays) if is_call else _bad_request("calls may hold only call requests")


def _answer(request: dict[str, Any], workdir: str, *, arrays: dict[tuple[Any, ...], Any]) -> dict[str, Any]:
    op = request.get("op")
    try:
        if op == "ping":
            return {"ok": True}
        if op == "import":
            return _import(str(request["module"]), workdir)
        if op == "call":
            return _call(request, workdir, arrays=arrays)
        if op == "cell":
            return notebook_runtime.run_cell(request, workdir)
    except (KeyError, TypeError, ValueError, wire.WireError) as exc:
        return _error("bad_request", exc, workdir)
    return _bad_request(f"unknown op {op!r}")


def _bad_request(message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"kind": "bad_request", "type": "", "message": message, "where": None}}


def _import(module: str, workdir: str) -> dict[str, Any]:
    try:
        importlib.import_module(module)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: they are the student's
        sys.modules.pop(module, None)
        return _error("import", exc, workdir)
    return {"ok": True}


def _call(request: dict[str, Any], workdir: str, *, arrays: dict[tuple[Any, ...], Any]) -> dict[str, Any]:
    module_name, function = str(request["module"]), str(request["function"])
    names = [str(name) for name, _ in request["args"]]
    args = [_to_argument(_decoded(encoded, arrays)) for _, encoded in request["args"]]
    module = sys.modules.get(module_name)
    if module is None:
        imported = _import(module_name, workdir)
        if not imported["ok"]:
            return imported
        module = sys.modules[module_name]
    target = getattr(module, function, None)
    if target is None or not callable(target):
        message = f"{module_name} defines no {function}" if target is None else f"{function} is not callable"
        return {"ok": False, "error": {"kind": "missing", "type": "", "message": message, "where": None}}
    before = [_snapshot(arg) for arg in args]
    _seed(int(request.get("seed", 0)))
    call: Callable[[], Any] = (lambda: _net_probe(target, *args)) if function == "Net" else (lambda: target(*args))
    try:
        value = call()
    except NotImplementedError as exc:
        return _error("not_implemented", exc, workdir)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt, RecursionError, MemoryError...
        return _error("exception", exc, workdir)
    mutated = [name for name, arg, old in zip(names, args, before) if not _unchanged(arg, old)]
    return {"ok": True, "value": wire.encode_value(value), "mutated": mutated}


def _net_probe(net_class: Any, w1: Any, w2: Any, p: Any, x: Any, mask: Any) -> tuple[Any, Any, Any]:
    """Build the student's Net and run it once; also return its two weights."""
    net = net_class(w1, w2, p)
    y = net(x, mask)
    return y, net.linear1.weight, net.linear2.weight


def _decoded(encoded: Any, arrays: dict[tuple[Any, ...], Any]) -> Any:
    """``wire.decode_value(encoded)``; an array is decoded once per request and kept, read-only, in ``arrays``.

    The calls of a submission share their cases' arrays: 109 distinct among
    its 231 array arguments. ``arrays`` lives as long as the request.
    """
    if not (isinstance(encoded, dict) and isinstance(encoded.get("data"), str)):
        return wire.decode_value(encoded)
    key = (encoded.get("type"), encoded.get("dtype"), repr(encoded.get("shape")), encoded.get("requires_grad"),
           encoded["data"])
    value = arrays.get(key)
    if value is None:
        value = arrays[key] = wire.decode_value(encoded)
    return value


def _to_argument(value: Any) -> Any:
    """Turn a decoded value into what student code receives.

    ``ndarray`` becomes a NumPy array and ``tensor`` a torch tensor, each of
    the dtype the grader sent (float64 arrays and float32 tensors).
    """
    if isinstance(value, wire.ArrayValue):
        if value.kind == "tensor":
            import torch

            return torch.tensor(value.array, dtype=getattr(torch, value.dtype))
        return value.array.astype(value.dtype)
    return value


def _snapshot(arg: Any) -> Any:
    if isinstance(arg, np.ndarray):
        return arg.copy()
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(arg, torch.Tensor):
        return arg.detach().clone()
    return arg


def _unchanged(arg: Any, old: Any) -> bool:
    """Whether ``arg`` still holds the values of its snapshot ``old`` (NaN equal to NaN)."""
    try:
        if isinstance(old, np.ndarray):
            if (type(arg) is np.ndarray and arg.shape == old.shape and arg.dtype == old.dtype
                    and arg.tobytes() == old.tobytes()):  # the same bytes: a twentieth of array_equal's time
                return True
            return bool(np.array_equal(np.asarray(arg), old, equal_nan=True))
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(old, torch.Tensor):
            return bool(torch.equal(arg.detach(), old))
    except Exception:
        return False
    return True


def _seed(seed: int) -> None:
    """Seed ``random``, NumPy's global generator and torch's CPU generator before each call.

    ``torch.manual_seed`` also queues a lazy seed for every accelerator
    backend, formatting the stack each time (0.25 ms per call, most of a small
    call's cost); on a build without CUDA only the CPU generator can be used.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.backends.cuda.is_built():
            torch.manual_seed(seed)
        else:
            torch.default_generator.manual_seed(seed)


def _error(kind: str, exc: BaseException, workdir: str) -> dict[str, Any]:
    lines = traceback.format_exception_only(type(exc), exc)
    message = lines[-1].strip() if lines else type(exc).__name__  # "Type: message", one line
    message = message.replace(workdir + os.sep, "")
    return {
        "ok": False,
        "error": {
            "kind": kind,
            "type": type(exc).__name__,
            "message": message[:2000],
            "where": _student_line(exc, workdir),
        },
    }


def _student_line(exc: BaseException, workdir: str) -> str | None:
    """The innermost traceback line that lies in the student's files."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(workdir):
        return f"{os.path.relpath(exc.filename, workdir)}, line {exc.lineno}"
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(workdir + os.sep):
            where = f"{os.path.relpath(frame.filename, workdir)}, line {frame.lineno}, in {frame.name}"
    return where

