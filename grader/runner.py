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
the training cases) is answered from the first reply.

Replies are untrusted data: every text in them (messages, the line an error
points at, argument names) is made safe and capped
(:mod:`grader.safe_text`) before it reaches a message, and anything
malformed is the student's error (:class:`~grader.compare.CodeError`),
never the grader's. Only what a later call needs is kept: the decoded
answer of each call (plain float64 arrays, not the JSON), up to
``MEMO_MAX_ELEMENTS`` numbers in all, under a digest of its request.

A check may ask for a fresh run (``fresh=True``, the state check): the call
then really runs again, and an answer that differs from the first one fails
the check (:class:`~grader.compare.AnswerChanged`) with its likely cause (a
model or an optimiser kept between calls).

The engine tells the runner which calls its checks will make
(:meth:`SubmissionRunner.expect`, from :mod:`grader.checks.rehearse`). They
are sent in one ``calls`` request before the first is needed: the child runs
them back to back and the grader reads each reply when its check asks, each
within the call timeout. A call that was not expected (a diagnosis) goes on
its own after them; one that is lost with its child (a crash, a timeout)
runs again on its own in a fresh child, as any call after a crash does. The
encoded requests of expected calls are kept for the process (the cases are
constants), so each is encoded once, not once per submission.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .compare import AnswerChanged, CheckFailed, CodeError
from .notebook import NotebookRun
from .sandbox import ChildDied, ChildTimeout, Sandbox
from .safe_text import MAX_NAME, MAX_TEXT, MAX_WHERE, safe_text
from .submission import Submission
from .inside import wire

if TYPE_CHECKING:
    from .checks.rehearse import Call

NUMPY_FUNCTIONS = ("relu", "softmax", "forward_np", "loss_np", "grad_w1_np", "grad_w2_np", "train_np")
TORCH_FUNCTIONS = ("Net", "forward_torch", "grad_w1_torch", "train_torch")
MEMO_MAX_ELEMENTS = 1_000_000  # numbers kept in all for repeated calls (8 MB); honest answers need a few thousand
MAX_MUTATED = 8  # argument names a reply may list as modified
MAX_ENCODED = 4096  # expected calls whose encoded request is kept for the process


# (module, seed, function, ((name, id(value)), ...)) -> (body, digest, args): the encoded requests of expected
# calls; ``args`` keeps the values alive, so that their ids stand for them.
_ENCODED: dict[tuple[Any, ...], tuple[bytes, bytes, tuple[tuple[str, Any], ...]]] = {}


@dataclass(frozen=True)
class _Sent:
    """An expected call sent ahead, whose reply has not been read yet."""

    key: bytes  # digest of its request
    function: str
    fresh: bool
    position: int  # in its request, 1 for the first (as the child reports progress)


@dataclass(frozen=True)
class _Answer:
    """What a call came to, as later checks need it: its value and modified arguments, or why it failed."""

    value: Any = None
    mutated: tuple[str, ...] = ()
    error: str | None = None  # the CodeError message

    @property
    def elements(self) -> int:
        return _count_elements(self.value)


def _count_elements(value: Any) -> int:
    if isinstance(value, wire.ArrayValue):
        return int(value.array.size)
    if isinstance(value, tuple):
        return sum(map(_count_elements, value)) + len(value)
    return 1

STATE_HINT = ("it keeps or changes something between calls (a model, an optimiser or an array made once and "
              "reused, e.g. in a global variable or a default argument, or a setting such as torch's default "
              "dtype); build everything afresh inside the function and leave global settings alone")


def encode_argument(value: Any, *, tensor: bool) -> dict[str, Any]:
    """Encode one argument: arrays become float64 arrays or float32 tensors."""
    if isinstance(value, np.ndarray):
        if tensor:
            data = value.astype(np.float32).astype(np.float64)
            return {"type": "tensor", "dtype": "float32", "shape": list(value.shape),
                    "data": wire.pack_array(data), "requires_grad": False}
        return wire.encode_value(value.astype(np.float64))
    return wire.encode_value(value)


class SubmissionRunner:
    """Runs one submission's functions, one call at a time, in the sandbox."""

    def __init__(self, sandbox: Sandbox, submission: Submission, *, timeout_s: float, seed: int = 0,
                 notebook_timeout_s: float = 60.0) -> None:
        self.sandbox = sandbox
        self.submission = submission
        self.timeout_s = timeout_s
        self.seed = seed
        self._child: Any = None
        self._imported: set[str] = set()
        self._broken_modules: dict[str, str] = {}  # module -> why its import can never work
        self._timed_out: dict[str, str] = {}  # function -> message of its first timeout
        self._answers: dict[bytes, _Answer] = {}  # digest of a request -> its answer, for repeated calls
        self._memo_elements = 0  # numbers held in _answers, at most MEMO_MAX_ELEMENTS
        self._import_failures: list[str] = []  # each failed import once, for the top of the report
        self._expected: list[tuple[bytes, bytes, str, str, bool]] = []  # (body, key, module, function, fresh) to send
        self._sent: deque[_Sent] = deque()  # sent ahead, replies not read yet, in order
        self._early: dict[bytes, deque[_Answer]] = {}  # fresh answers read before their check asked
        self._hung_ahead: dict[tuple[bytes, bool], CodeError] = {}  # (key, fresh) of a call sent ahead that hung
        self._notebook = (
            NotebookRun(submission.cells, submission.modules["numpy"], submission.notebook_name,
                        budget_s=notebook_timeout_s, describe=submission.describe_location)
            if submission.kind == "notebook" else None
        )

    # ------------------------------------------------------------ public

    def call(self, function: str, *args: tuple[str, Any], fresh: bool = False) -> Any:
        """Call ``function(*values)`` in the sandbox and return its decoded result.

        ``args`` are ``(name, value)`` pairs; names appear in messages. A
        repeated call is answered from the first reply unless ``fresh``: then
        it runs again and must answer as the first time (else :class:`AnswerChanged`).
        Raises :class:`CodeError` when the code does not run and
        :class:`CheckFailed` when it modified an argument in place.
        """
        module = self._module_of(function)
        if function in self._timed_out:
            ran_ahead = self._hung_ahead.pop((self._encoded(module, function, args)[1], fresh), None)
            if ran_ahead is not None:  # this very call hung while an earlier check waited for its answer
                raise ran_ahead
            raise CodeError(f"{function}: not run again, it {self._timed_out[function]} on an earlier check")
        self._ensure_imported(module)
        body, key = self._encoded(module, function, args)
        first = self._answers.get(key)
        if first is not None and not fresh:  # the same call with the same seed gives the same answer: ask once
            answer = first
        else:
            answer = self._sent_answer(key, fresh)
            if answer is None:
                self._ensure_imported(module)  # in a fresh child, if reading the answers sent ahead lost this one
                answer = self._answer(function, self._request(body, subject=function, function=function))
            if first is None:
                self._remember(key, answer)
        if first is not None and answer is not first and not _same(first, answer):
            detail = f"this time: {answer.error}" if answer.error is not None and first.error is None else ""
            raise AnswerChanged(f"{function}: answered differently when called again with the same arguments",
                                hint=STATE_HINT, detail=detail)
        if answer.error is not None:
            raise CodeError(answer.error)
        if answer.mutated:
            mutated = answer.mutated
            raise CheckFailed(
                f"{function}: modified its argument{'s' if len(mutated) > 1 else ''} "
                f"{', '.join(mutated)} in place; work on a copy",
                hint="use x = x.copy() (NumPy) or x = x.clone() (torch) before changing an array",
            )
        return answer.value

    def expect(self, calls: Sequence[Call]) -> None:
        """The calls the checks will make, in order: sent in one request just before the first is needed."""
        self._expected = []
        for call in calls:
            module = self._module_of(call.function)
            signature = self._signature(module, call.function, call.args)
            if signature not in _ENCODED:
                if len(_ENCODED) >= MAX_ENCODED:
                    _ENCODED.clear()
                _ENCODED[signature] = (*self._encode(module, call.function, call.args), call.args)
            body, key, _ = _ENCODED[signature]
            self._expected.append((body, key, module, call.function, call.fresh))

    @property
    def warnings(self) -> list[str]:
        """What the report shows once, above the checks: failed imports and failed notebook cells."""
        raw = self._import_failures + (self._notebook.warnings if self._notebook is not None else [])
        return [safe_text(warning, MAX_TEXT) for warning in raw]  # they quote student text

    def close(self) -> None:
        self._expected, self._early, self._hung_ahead = [], {}, {}
        self._sent.clear()
        if self._child is not None:
            self._child.close()
            self._child = None

    def __enter__(self) -> SubmissionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _signature(self, module: str, function: str, args: Sequence[tuple[str, Any]]) -> tuple[Any, ...]:
        return module, self.seed, function, tuple((name, id(value)) for name, value in args)

    def _encoded(self, module: str, function: str, args: Sequence[tuple[str, Any]]) -> tuple[bytes, bytes]:
        """A call's request body and its digest: kept from :meth:`expect`, or encoded now."""
        kept = _ENCODED.get(self._signature(module, function, args))
        return (kept[0], kept[1]) if kept is not None else self._encode(module, function, args)

    def _encode(self, module: str, function: str, args: Sequence[tuple[str, Any]]) -> tuple[bytes, bytes]:
        torch = function in TORCH_FUNCTIONS
        request = {
            "op": "call",
            "module": module,
            "function": function,
            "args": [[name, encode_argument(value, tensor=torch)] for name, value in args],
            "seed": self.seed,
        }
        body = wire.encode_message(request)
        return body, hashlib.sha256(body).digest()

    def _remember(self, key: bytes, answer: _Answer) -> None:
        """Keep a call's first answer for repeated calls."""
        if key not in self._answers and self._room_for(answer):
            self._answers[key] = answer

    def _room_for(self, answer: _Answer) -> bool:
        """Count ``answer`` in the numbers kept, if it fits in ``MEMO_MAX_ELEMENTS`` in all; whether it did."""
        if self._memo_elements + answer.elements > MEMO_MAX_ELEMENTS:
            return False
        self._memo_elements += answer.elements
        return True

    # ------------------------------------------------------------ calls sent ahead

    def _send_expected(self) -> None:
        """Send the expected calls in one ``calls`` request, once both modules are imported in this child."""
        if not self._expected:
            return
        expected, self._expected = self._expected, []
        modules = list(dict.fromkeys(module for _, _, module, _, _ in expected))
        for module in modules:
            try:
                self._ensure_imported(module)
            except CodeError:
                pass  # its calls are left out; each of its checks says why
        usable = [module for module in modules if module not in self._broken_modules]
        if self._child is None or not all(module in self._imported for module in usable):
            return  # an import ended the child: the calls go one at a time
        seen = set(self._answers)
        batch = []
        for body, key, module, function, fresh in expected:
            if module not in usable or function in self._timed_out or (not fresh and key in seen):
                continue
            seen.add(key)
            batch.append((body, _Sent(key, function, fresh, len(batch) + 1)))
        if not batch:
            return
        try:
            self._child.send(b'{"op":"calls","calls":[' + b",".join(body for body, _ in batch) + b"]}",
                             timeout=self.timeout_s, calls=len(batch))
        except ChildDied:  # ChildTimeout included: the calls go one at a time, in a fresh child
            self._child = None
            return
        self._sent.extend(sent for _, sent in batch)

    def _sent_answer(self, key: bytes, fresh: bool) -> _Answer | None:
        """The answer to a call sent ahead, reading the replies before it; None if it was not sent ahead."""
        self._send_expected()
        early = self._early.get(key) if fresh else None
        if early:
            return early.popleft()
        if not any(sent.key == key and sent.fresh == fresh for sent in self._sent):
            return None
        return self._read_sent(until=(key, fresh))

    def _read_sent(self, until: tuple[bytes, bool] | None = None) -> _Answer | None:
        """Read replies to calls sent ahead, in order, up to the one of ``until`` (key, fresh), or all of them.

        Answers read on the way are kept for their checks. Returns the answer
        of ``until``, or None when it is not read (its call was lost with the
        child: it runs again on its own). When the child hangs or dies, the
        call it was running is blamed (:attr:`ChildDied.running`; the first
        unread one if it did not say): its check gets the :class:`CodeError`
        (raised here if it is ``until``'s), and every other call lost runs
        again on its own.
        """
        wanted = next((sent for sent in self._sent if (sent.key, sent.fresh) == until), None)
        while self._sent:
            sent = self._sent.popleft()
            try:
                reply = self._child.receive(timeout=self.timeout_s)
            except ChildDied as exc:  # ChildTimeout included
                culprit = next((other for other in (sent, *self._sent) if other.position == exc.running), sent)
                failure = self._lost(exc, subject=culprit.function, function=culprit.function,
                                     timeout=self.timeout_s)
                if culprit is wanted:
                    raise failure from exc
                if isinstance(exc, ChildTimeout):  # its own check says so, first hand; a crash is tried again
                    self._hung_ahead[(culprit.key, culprit.fresh)] = failure
                return None
            answer = self._answer(sent.function, reply)
            if sent is wanted:
                return answer
            if not sent.fresh:
                self._remember(sent.key, answer)
            elif self._room_for(answer):  # a repeat its check has not asked for yet
                self._early.setdefault(sent.key, deque()).append(answer)
        return None

    def _module_of(self, function: str) -> str:
        return self.submission.modules["torch" if function in TORCH_FUNCTIONS else "numpy"]

    def _file_of(self, module: str) -> str:
        return safe_text(self.submission.display.get(f"{module}.py", f"{module}.py"), MAX_NAME)

    def _ensure_imported(self, module: str) -> None:
        if module in self._broken_modules:
            raise CodeError(self._broken_modules[module])
        if module in self._imported and self._child is not None:
            return
        if self._notebook is not None:
            self._notebook.run(lambda message, timeout, subject: self._request(message, subject=subject,
                                                                               timeout=timeout))
            self._imported.add(module)
            return
        try:
            reply = self._request({"op": "import", "module": module}, subject=f"importing {self._file_of(module)}")
        except CodeError as exc:
            raise self._import_failed(module, exc.message) from None
        if not reply.get("ok"):
            raise self._import_failed(module, self._error_text(None, reply.get("error"), module=module))
        self._imported.add(module)

    def _import_failed(self, module: str, message: str) -> CodeError:
        """Keep the full reason once for the report's top; each check says only that it did not run."""
        self._import_failures.append(message)
        self._broken_modules[module] = f"not run: {self._file_of(module)} could not be imported (see above)"
        return CodeError(self._broken_modules[module])

    def _request(self, message: dict[str, Any] | bytes, *, subject: str, function: str | None = None,
                 timeout: float | None = None) -> dict[str, Any]:
        """Send one request; a dead or hung child becomes :class:`CodeError` about ``subject``."""
        if self._sent:
            self._read_sent()
        if self._child is None:
            self._child = self.sandbox.spawn(self.submission.files)
            self._imported.clear()
        timeout = self.timeout_s if timeout is None else timeout
        try:
            return self._child.request(message, timeout=timeout)
        except ChildDied as exc:  # ChildTimeout included
            raise self._lost(exc, subject=subject, function=function, timeout=timeout) from exc

    def _lost(self, exc: ChildDied, *, subject: str, function: str | None, timeout: float) -> CodeError:
        """The child is gone (it died or timed out, and was killed): what the check it cost says."""
        self._child = None
        self._sent.clear()
        if isinstance(exc, ChildTimeout):
            text = f"timed out after {timeout:g} s"
            if function:
                self._timed_out[function] = text
            return CodeError(f"{subject}: {text}")
        return CodeError(f"{subject}: the process {exc}")

    def _answer(self, function: str, reply: dict[str, Any]) -> _Answer:
        """Read a call's reply as data: its decoded value and modified arguments, or its error message."""
        if reply.get("ok") is not True:
            return _Answer(error=self._error_text(function, reply.get("error")))
        try:
            value = wire.decode_value(reply.get("value"))
        except wire.WireError as exc:
            return _Answer(error=f"{function}: returned a value the grader cannot read ({safe_text(exc)})")
        mutated = reply.get("mutated", [])
        if not isinstance(mutated, list) or len(mutated) > MAX_MUTATED:
            return _Answer(error=f"{function}: the process sent a malformed reply (its list of modified arguments)")
        names = tuple(safe_text(name, MAX_NAME) for name in mutated if isinstance(name, str))
        return _Answer(value=value, mutated=names)

    def _error_text(self, function: str | None, error: Any, *, module: str | None = None) -> str:
        """The student-facing message of an error reply; every text in it is made safe and capped."""
        error = error if isinstance(error, dict) else {}
        kind = error.get("kind", "exception")
        text = safe_text(error.get("message", "unknown error"), MAX_TEXT)
        where = error.get("where")
        where = self.submission.describe_location(safe_text(where, MAX_WHERE)) if isinstance(where, str) else None
        at = f" ({where})" if where else ""
        if kind == "import":
            missing = re.fullmatch(r"ModuleNotFoundError: No module named '([\w.]+)'", text)
            if missing:
                text = f"{missing[1].split('.')[0]} is not installed in the grading environment"
            return f"{self._file_of(module or '')} could not be imported: {text}{at}"
        if kind == "missing":
            why = self._notebook.why_missing(function or "") if self._notebook is not None else ""
            return f"{function} is missing: {self._file_of(self._module_of(function or ''))} does not define it{why}"
        if kind == "not_implemented":
            return f"{function} is not implemented yet: it raises NotImplementedError" + (f" at {where}" if where else "")
        return f"{function} raised {text}{at}"


def _same(first: _Answer, second: _Answer) -> bool:
    """Whether two answers of one call are the same: both failed alike, or equal values (see :func:`same_answer`)."""
    if first.error is not None or second.error is not None:
        return (first.error is None) == (second.error is None)
    return same_answer(first.value, second.value) and first.mutated == second.mutated


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
