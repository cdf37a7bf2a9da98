"""The case set a grading run uses: the fixed cases, or hidden cases drawn from a course secret.

Without a secret, every case is the one :mod:`.cases` defines (reproducible,
and the hidden inputs can be computed from the public source). With a
secret, each hidden case is drawn again from a seed derived from the secret
(HMAC-SHA256 of the recipe's name), with the same recipe; visible cases
never change. Every drawn case is checked for conditioning before use, as
``tests/test_cases.py`` checks the fixed ones: a correct float32
implementation passes it and the answer rounded to four decimals fails it,
under the rubric's tolerance; a case that fails is drawn again.

A :class:`CaseSet` has a ``fingerprint``: a digest of every case's data
(never of the secret), recorded in each report so that two reports can be
compared. The set is built once at the edge (the command line) and travels
in :class:`~grader.grading.GradingOptions` (pickled to batch workers: the
replacements are keyed by recipe name, valid in any process).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from ..rubric import Rubric
from . import cases

MAX_DRAWS = 50  # attempts per hidden case; a recipe that keeps failing is a grader bug


class CaseSetError(RuntimeError):
    """No well-conditioned case could be drawn for a recipe (a grader bug, not bad input)."""


@dataclass(frozen=True)
class CaseSet:
    """Which hidden cases replace the fixed ones (none without a secret), and the set's fingerprint."""

    fingerprint: str
    replacements: Mapping[str, Any] = field(default_factory=dict)  # recipe key -> drawn case

    @property
    def secret(self) -> bool:
        """Whether the hidden cases were drawn from a course secret."""
        return bool(self.replacements)

    def substitute(self, case: Any) -> Any:
        """The case to grade instead of ``case`` (itself when visible or without a secret)."""
        key = cases.hidden_key(case)
        return self.replacements.get(key, case) if key else case

    def lists(self) -> dict[str, list[Any]]:
        """Every case list of :mod:`.cases`, with the substitutions applied."""
        return {name: [self.substitute(case) for case in items] for name, items in cases.case_lists().items()}


@cache
def default_case_set() -> CaseSet:
    """The fixed cases of :mod:`.cases`."""
    return CaseSet(fingerprint=fingerprint(cases.case_lists()))


def draw_case_set(secret: bytes, rubric: Rubric) -> CaseSet:
    """Draw every hidden case from ``secret``; each drawn case passes :func:`well_conditioned`."""
    if not secret:
        raise ValueError("the course secret is empty")
    lists = cases.case_lists()
    replacements: dict[str, Any] = {}
    for name, items in lists.items():
        for case in items:
            key = cases.hidden_key(case)
            if key is None or key in replacements:
                continue
            groups = [other for other, members in lists.items() if any(m is case for m in members)]
            replacements[key] = _draw(secret, key, case, groups, rubric)
    drawn = CaseSet(fingerprint="", replacements=replacements)
    return dataclasses.replace(drawn, fingerprint=fingerprint(drawn.lists()))


def derived_seed(secret: bytes, key: str, attempt: int) -> int:
    """A 64-bit seed from the secret and the recipe's name (HMAC-SHA256): not invertible to the secret."""
    message = f"nn-autograder hidden case {key} attempt {attempt}".encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "big")


def _draw(secret: bytes, key: str, case: Any, lists: list[str], rubric: Rubric) -> Any:
    for attempt in range(MAX_DRAWS):
        candidate = cases.redraw(case, derived_seed(secret, key, attempt))
        if all(well_conditioned(candidate, name, rubric) for name in lists):
            return candidate
    raise CaseSetError(f"no well-conditioned case for recipe {key} in {MAX_DRAWS} draws")


# ---------------------------------------------------------------- conditioning


def _conditioning_rules() -> dict[str, list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]]]:
    """Case list -> [(rubric group, correct float32 answer, expected answer)]; answers are arrays.

    An expected answer wrapped in :class:`_only_float32` is tested for the
    float32 half only.
    """
    from . import expected

    def train_expected(case: Any) -> np.ndarray:
        return np.concatenate([part.ravel() for part in expected.train(case)])

    forward = (lambda c: _float32_pass(c)["y"], expected.forward)
    trained = (_float32_train, train_expected)
    return {
        # relu returns its input's values: rounding them to 4 places is not a failure worth demanding
        "RELU": [("task1/relu", lambda c: np.maximum(c.value.astype(np.float32), np.float32(0)), _only_float32(expected.relu))],
        "SOFTMAX": [("task1/softmax", lambda c: _float32_softmax(c.value.astype(np.float32)), expected.softmax)],
        "FORWARD": [("task1/forward_np", *forward)],
        "NET": [("task1/Net", *forward)],
        "FORWARD_TORCH": [("task1/forward_torch", *forward)],
        "LOSS": [("task2/loss_np", lambda c: _float32_pass(c)["loss"], lambda c: np.array(expected.loss(c)))],
        "GRAD_W1": [("task2/grad_w1_np", lambda c: _float32_pass(c)["dw1"], expected.grad_w1)],
        "GRAD_W1_TORCH": [("task2/grad_w1_torch", lambda c: _float32_pass(c)["dw1"], expected.grad_w1)],
        "GRAD_W2": [("task3/grad_w2_np", lambda c: _float32_pass(c)["dw2"], expected.grad_w2)],
        "TRAIN": [("task3/train_np", *trained), ("task3/train_torch", *trained)],
        "AGREEMENT": [("task3/agreement", *trained)],
    }


class _only_float32:
    """An expected answer for which rounding to 4 places is not required to fail."""

    def __init__(self, want: Callable[[Any], Any]) -> None:
        self.want = want

    def __call__(self, case: Any) -> Any:
        return self.want(case)


def _float32_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _float32_pass(case: Any, w1: np.ndarray | None = None, w2: np.ndarray | None = None,
                  mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """A correct implementation computing in float32 throughout: y (C,), loss (), dw1 (D, H), dw2 (H, C).

    The same arithmetic as a student's float32 code (or torch's), independent
    of ``reference/``: conditioning needs no torch import.
    """
    f32 = np.float32
    x, target = case.x.astype(f32), case.target.astype(f32)
    w1 = (case.w1 if w1 is None else w1).astype(f32)
    w2 = (case.w2 if w2 is None else w2).astype(f32)
    mask = getattr(case, "mask", None) if mask is None else mask
    h = x @ w1                                                                   # (H,)
    keep = np.ones_like(h) if mask is None else mask.astype(f32) / f32(1 - case.p)
    a = np.maximum(h, f32(0)) * keep                                             # (H,)
    y = _float32_softmax(a @ w2)                                                 # (C,)
    shifted = y - y.max()
    log_softmax = shifted - np.log(np.exp(shifted).sum())                        # the loss's own softmax
    dy = np.exp(log_softmax) * target.sum() - target                             # (C,)
    dz = (np.diag(y) - np.outer(y, y)) @ dy                                      # (C,)
    dh = (w2 @ dz) * keep * (h > 0)                                              # (H,)
    return {"y": y, "loss": -(target * log_softmax).sum(), "dw1": np.outer(x, dh), "dw2": np.outer(a, dz)}


def _float32_train(case: Any) -> np.ndarray:
    """Both trained weights, flattened and concatenated, from float32 SGD."""
    w1, w2 = case.w1.astype(np.float32), case.w2.astype(np.float32)
    for mask in case.masks:
        step = _float32_pass(case, w1, w2, mask)
        w1 = w1 - np.float32(case.lr) * step["dw1"]
        w2 = w2 - np.float32(case.lr) * step["dw2"]
    return np.concatenate([w1.ravel(), w2.ravel()])


@cache
def _rules() -> dict[str, list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]]]:
    return _conditioning_rules()


def conditioned_lists() -> set[str]:
    """The case lists :func:`well_conditioned` knows how to check."""
    return set(_rules())


def well_conditioned(case: Any, list_name: str, rubric: Rubric) -> bool:
    """A correct float32 answer passes ``case`` and the answer rounded to 4 places fails it.

    ``list_name`` is the :mod:`.cases` list the case is graded in, which
    decides the function and the rubric group (its tolerance).
    """
    from ..compare import CheckFailed, check_array
    from ..inside.wire import ArrayValue

    rules = _rules()
    if list_name not in rules:
        raise CaseSetError(f"cases.{list_name} holds hidden cases but case_sets.py has no conditioning rule for it")
    for group, float32_answer, want in rules[list_name]:
        if group not in rubric.groups:
            continue
        tolerance = rubric.group(group).tolerance
        # The values decide (a NaN or an overflow fails the checks below), so no floating-point warning is
        # printed: a rejected draw may overflow, and OpenBLAS may flag an invalid value in a matmul of
        # finite numbers (numpy#24067; seen here once in three runs of the suite).
        with np.errstate(all="ignore"):
            wanted = np.asarray(want(case), dtype=np.float64)
            single = np.asarray(float32_answer(case), dtype=np.float32).astype(np.float64)
        try:
            check_array(ArrayValue("ndarray", "float32", single), wanted, tolerance, what=group, reveal=False)
        except CheckFailed:
            return False
        if isinstance(want, _only_float32):
            continue
        try:
            check_array(ArrayValue("ndarray", "float64", np.round(wanted, 4)), wanted, tolerance, what=group,
                        reveal=False)
        except CheckFailed:
            continue
        return False
    return True


# ---------------------------------------------------------------- fingerprint


def fingerprint(lists: Mapping[str, list[Any]]) -> str:
    """SHA-256 over every case of every list: ids, visibility and values (labels excluded)."""
    digest = hashlib.sha256()
    for name in sorted(lists):
        digest.update(f"list {name}\0".encode())
        for case in lists[name]:
            for item in dataclasses.fields(case):
                if item.name == "label":
                    continue
                digest.update(f"{item.name}=".encode() + _canonical(getattr(case, item.name)) + b"\0")
    return "sha256:" + digest.hexdigest()


def _canonical(value: Any) -> bytes:
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value, dtype=np.float64)
        return f"array{array.shape}:".encode() + array.tobytes()
    return repr(value).encode()


# ---------------------------------------------------------------- the secret

SECRET_VARIABLE = "GRADER_SECRET"


class SecretError(ValueError):
    """The secret file cannot be used (a one-line message)."""


def read_secret(path: str | None, environ: Mapping[str, str]) -> bytes | None:
    """The course secret: the file's contents (surrounding whitespace removed), else ``$GRADER_SECRET``, else None."""
    if path is not None:
        try:
            with open(path, "rb") as handle:
                secret = handle.read(1 << 20).strip()
        except OSError as exc:
            raise SecretError(f"{path}: cannot read the secret file ({exc.strerror or exc})") from None
        if not secret:
            raise SecretError(f"{path}: the secret file is empty")
        return secret
    value = environ.get(SECRET_VARIABLE, "").strip()
    return value.encode() if value else None
