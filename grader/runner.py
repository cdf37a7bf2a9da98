"""Call a submission's functions in a sandboxed child process.

:class:`SubmissionRunner` is the one wrapper through which checks reach
student code. It encodes arguments (float64 arrays for NumPy functions,
float32 tensors for torch ones), imports each of the submission's modules on
first use, and turns everything that can go wrong on the student's side into
:class:`~grader.compare.CodeError` (the code did not run) or
:class:`~grader.compare.CheckFailed` (it modified its arguments). A child
that dies or hangs is replaced by a fresh one for the next call, so one
failure costs only the checks it touches; a module whose import kills or
hangs the process, and a function that timed out once, are not tried again.

A call repeated with the same arguments and seed (the agreement check reuses
the training cases) is answered from the first reply, unless the check asks
for a fresh run (``fresh=True``, the state check): then it really runs again,
and an answer that differs from the first one fails the check with its likely
cause (a model or an optimiser kept between calls).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from .compare import CheckFailed, CodeError
from .sandbox import ChildDied, ChildTimeout, Sandbox
from .submission import Submission
from .inside import wire

NUMPY_FUNCTIONS = ("relu", "softmax", "forward_np", "loss_np", "grad_w1_np", "grad_w2_np", "train_np")
TORCH_FUNCTIONS = ("Net", "forward_torch", "grad_w1_torch", "train_torch")
STATE_HINT = ("it keeps something between calls (a model, an optimiser or an array made once and reused, e.g. in "
              "a global variable or a default argument); build everything afresh inside the function")


def encode_argument(value: Any, *, tensor: bool) -> dict[str, Any]:
    """Encode one argument: arrays become float64 arrays or float32 tensors."""
    if isinstance(value, np.ndarray):
        if tensor:
            data = value.astype(np.float32).astype(np.float64)
            return {"type": "tensor", "dtype": "float32", "shape": list(value.shape),
                    "data": data.ravel().tolist(), "requires_grad": False}
        return wire.encode_value(value.astype(np.float64))
    return wire.encode_value(value)


class SubmissionRunner:
    """Runs one submission's functions, one call at a time, in the sandbox."""

    def __init__(self, sandbox: Sandbox, submission: Submission, *, timeout_s: float, seed: int = 0) -> None:
        self.sandbox = sandbox
        self.submission = submission
        self.timeout_s = timeout_s
        self.seed = seed
        self._child: Any = None
        self._imported: set[str] = set()
        self._broken_modules: dict[str, str] = {}  # module -> why its import can never work
        self._timed_out: dict[str, str] = {}  # function -> message of its first timeout
        self._replies: dict[bytes, dict[str, Any]] = {}  # digest of a call -> its first reply

    # ------------------------------------------------------------ public

    def call(self, function: str, *args: tuple[str, Any], fresh: bool = False) -> Any:
        """Call ``function(*values)`` in the sandbox and return its decoded result.

        ``args`` are ``(name, value)`` pairs; names appear in messages. A
        repeated call is answered from the first reply unless ``fresh``: then
        it runs again and must answer as the first time (else :class:`CheckFailed`).
        Raises :class:`CodeError` when the code does not run and
        :class:`CheckFailed` when it modified an argument in place.
        """
        if function in self._timed_out:
            raise CodeError(f"{function}: not run again, it {self._timed_out[function]} on an earlier check")
        module = self._module_of(function)
        self._ensure_imported(module)
        torch = function in TORCH_FUNCTIONS
        request = {
            "op": "call",
            "module": module,
            "function": function,
            "args": [[name, encode_argument(value, tensor=torch)] for name, value in args],
            "seed": self.seed,
        }
        body = wire.encode_message(request)
        key = hashlib.sha256(body).digest()
        first = self._replies.get(key)
        reply = first if first is not None and not fresh else self._request(body, subject=function, function=function)
        if first is None:
            self._replies[key] = reply
        if not reply.get("ok"):
            raise CodeError(self._error_text(function, reply.get("error")))
        try:
            value = wire.decode_value(reply.get("value"))
        except wire.WireError as exc:
            raise CodeError(f"{function}: returned a value the grader cannot read ({exc})") from None
        mutated = [str(name) for name in reply.get("mutated", []) if isinstance(name, str)]
        if mutated:
            raise CheckFailed(
                f"{function}: modified its argument{'s' if len(mutated) > 1 else ''} "
                f"{', '.join(mutated)} in place; work on a copy",
                hint="use x = x.copy() (NumPy) or x = x.clone() (torch) before changing an array",
            )
        if first is not None and reply is not first and not _same_reply(first, reply):
            raise CheckFailed(f"{function}: answered differently when called again with the same arguments",
                              hint=STATE_HINT)
        return value

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None

    def __enter__(self) -> SubmissionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _module_of(self, function: str) -> str:
        return self.submission.modules["torch" if function in TORCH_FUNCTIONS else "numpy"]

    def _file_of(self, module: str) -> str:
        return self.submission.display.get(f"{module}.py", f"{module}.py")

    def _ensure_imported(self, module: str) -> None:
        if module in self._broken_modules:
            raise CodeError(self._broken_modules[module])
        if module in self._imported and self._child is not None:
            return
        try:
            reply = self._request({"op": "import", "module": module}, subject=f"importing {self._file_of(module)}")
        except CodeError as exc:
            self._broken_modules[module] = exc.message
            raise
        if not reply.get("ok"):
            message = self._error_text(None, reply.get("error"), module=module)
            self._broken_modules[module] = message
            raise CodeError(message)
        self._imported.add(module)

    def _request(self, message: dict[str, Any] | bytes, *, subject: str, function: str | None = None) -> dict[str, Any]:
        """Send one request; a dead or hung child becomes :class:`CodeError` about ``subject``."""
        if self._child is None:
            self._child = self.sandbox.spawn(self.submission.files)
            self._imported.clear()
        try:
            return self._child.request(message, timeout=self.timeout_s)
        except ChildTimeout as exc:
            self._child = None
            text = f"timed out after {self.timeout_s:g} s"
            if function:
                self._timed_out[function] = text
            raise CodeError(f"{subject}: {text}") from exc
        except ChildDied as exc:
            self._child = None
            raise CodeError(f"{subject}: the process {exc}") from exc

    def _error_text(self, function: str | None, error: Any, *, module: str | None = None) -> str:
        error = error if isinstance(error, dict) else {}
        kind = str(error.get("kind", "exception"))
        text = str(error.get("message", "unknown error"))[:500]
        where = self.submission.describe_location(error.get("where"))
        at = f" ({where})" if where else ""
        if kind == "import":
            return f"{self._file_of(module or '')} could not be imported: {text}{at}"
        if kind == "missing":
            return f"{function} is missing: {self._file_of(self._module_of(function or ''))} does not define it"
        if kind == "not_implemented":
            return f"{function} is not implemented yet: it raises NotImplementedError" + (f" at {where}" if where else "")
        return f"{function} raised {text}{at}"


def _same_reply(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Whether two replies give the same answer (values equal up to 1e-9 relative)."""
    if not (first.get("ok") and second.get("ok")):
        return bool(first.get("ok")) == bool(second.get("ok"))
    try:
        return same_answer(wire.decode_value(first.get("value")), wire.decode_value(second.get("value")))
    except wire.WireError:
        return first.get("value") == second.get("value")


def same_answer(first: Any, second: Any) -> bool:
    """Whether two decoded answers are the same (arrays equal up to 1e-9 relative, NaN equal to NaN)."""
    if isinstance(first, wire.ArrayValue) and isinstance(second, wire.ArrayValue):
        return (first.array.shape == second.array.shape
                and bool(np.allclose(first.array, second.array, rtol=1e-9, atol=1e-12, equal_nan=True)))
    if isinstance(first, tuple) and isinstance(second, tuple):
        return len(first) == len(second) and all(same_answer(a, b) for a, b in zip(first, second))
    if isinstance(first, wire.Other) and isinstance(second, wire.Other):
        return first.name == second.name
    if isinstance(first, float) and isinstance(second, float):
        return bool(np.isclose(first, second, rtol=1e-9, atol=1e-12, equal_nan=True))
    return type(first) is type(second) and first == second
