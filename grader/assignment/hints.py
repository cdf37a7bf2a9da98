"""Known mistakes, the answers they produce, and what to tell a student who made one.

Each function below returns ``{hint: wrong answer}`` for one case (or
``{hint: [wrong answers]}`` when a mistake can be made in several ways): the
answers of known wrong versions of the reference (:mod:`.variants`),
computed in the grader's process. A failing check whose answer matches one
of them within tolerance reports that hint (:func:`grader.compare.check_array`
picks the closest, and none when the case cannot tell two mistakes apart).

The tables are plain data once computed (``dict(hints.grad(case, "dw1"))``);
they are computed on first use, once per case and process, so a submission
that passes never pays for them. ``HINTS`` names every hint text, so that a
test or a benchmark can tell which mistake a hint named (:func:`identify`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any

import numpy as np

from ..runner import STATE_HINT as _STATE_HINT
from . import variants as v
from .cases import ArrayCase, NetCase, TrainCase

# ------------------------------------------------------------ the texts

SINGLE_SOFTMAX = (
    "this is the gradient of the textbook loss -sum(target * log(y)); the assignment's loss applies "
    "log_softmax to y, which is already a softmax output (softmax twice)"
)
SINGLE_SOFTMAX_LOSS = (
    "this is the textbook loss -sum(target * log(y)); the assignment's loss applies log_softmax to y, "
    "which is already a softmax output (softmax twice)"
)
MEAN_LOSS = "the loss is averaged over the C classes (a mean); the assignment's loss is the sum -sum(target * log_softmax(y))"
MEAN_LOSS_GRAD = ("this is the gradient of the loss averaged over the C classes (a mean); the assignment's loss "
                  "is the sum -sum(target * log_softmax(y))")
LOSS_SIGN = "the loss has the wrong sign: it is -sum(target * log_softmax(y)), a positive number"
NO_SCALING = "dropout without the 1/(1-p) scaling: kept units must be divided by (1 - p)"
NO_SCALING_BOTH = ("dropout without the 1/(1-p) scaling in the forward and the backward pass: kept units, and "
                   "their gradient, must be divided by (1 - p)")
NO_SCALING_FORWARD = ("the forward pass leaves out the 1/(1-p) scaling (the backward pass has it): kept units "
                      "must be divided by (1 - p) before the second layer")
NO_SCALING_BACKWARD = ("the backward pass applies the mask but not the 1/(1-p) scaling: the gradient of a kept "
                       "unit must be divided by (1 - p) too, as in the forward pass")
SCALE_MULTIPLIES = "kept units were multiplied by (1 - p); inverted dropout divides them by (1 - p)"
DROP_MASK = "the mask was used as a drop-mask: in the assignment, 1 means keep the unit"
NO_RELU_GATE = "the gradient ignores the ReLU: units with h <= 0 must get zero gradient"
NO_MASK_IN_BACKWARD = "the backward pass ignores the dropout mask: dropped units must get zero gradient"
NO_SOFTMAX = "these are the logits z = a @ w2: the network's output is softmax(z)"
NEGATED = "this is minus the expected gradient: check the sign of dL/dz (softmax(...) - target, not target - ...)"
TRANSPOSED = "this is the transpose of the expected matrix: dL/dw1 has w1's shape (D, H), dL/dw2 has w2's (H, C)"
HOLDS_W = "linear{n}.weight holds w{n}, not w{n}.T: nn.Linear computes x @ weight.T, so it must hold the transpose"
RELU_GATE = "this is the ReLU's derivative (h > 0), not relu(h) = max(h, 0)"
RELU_MIN = "this is min(h, 0); relu(h) is max(h, 0)"
UNSTABLE_SOFTMAX = ("exp overflows on large logits: subtract the largest logit (per row, max(z, axis=-1, "
                    "keepdims=True)) before exp; the result is the same and never overflows")
SOFTMAX_AXIS = ("softmax over the wrong axis: for a 2-D input (N, C) each row must sum to 1 (axis=-1, "
                "keepdims=True)")
SOFTMAX_WHOLE = ("softmax normalised over the whole array: for a 2-D input (N, C) each row must sum to 1 "
                 "(np.sum(..., axis=-1, keepdims=True), not Python's sum)")

# training (the same mistakes seen through a training loop, and the loop's own)
TRAIN_STEP = "each step's gradient is wrong: {}"
ASCENT = ("the weights moved up the gradient: the SGD update is w = w - lr * dL/dw, not w + lr * dL/dw")
ACCUMULATE = ("the gradients add up across epochs: reset them every step (optimizer.zero_grad() before "
              "loss.backward(); in NumPy, a fresh gradient each step, not a running sum)")
EPOCH_FEWER_FIRST = ("one epoch too few, masks[0] unused: train exactly one SGD step per row of masks "
                     "(E = len(masks)), epoch e with masks[e]")
EPOCH_FEWER_LAST = ("one epoch too few, the last mask unused: train exactly one SGD step per row of masks "
                    "(E = len(masks)), epoch e with masks[e]")
EPOCH_MORE_LAST = ("one epoch too many (the last mask used twice): train exactly one SGD step per row of masks "
                   "(E = len(masks)), epoch e with masks[e]")
EPOCH_MORE_FIRST = ("one epoch too many (an extra first step with masks[-1]): train exactly one SGD step per row "
                    "of masks (E = len(masks)), epoch e with masks[e]")
MASK_FIRST_ONLY = "every epoch used masks[0]: epoch e must use row e of masks (masks[e])"
MASK_ORDER = "the masks were used in the wrong order: epoch e uses masks[e], from masks[0] to masks[E - 1]"
FIXED_LR = "the learning rate is fixed at 0.01: use the lr argument"
FIXED_P = "p is fixed at 0.4: use the p argument"
SEQUENTIAL_W1_FIRST = ("w1 was updated before dL/dw2 was computed: compute dL/dw1 and dL/dw2 from the same "
                       "weights, then update both")
SEQUENTIAL_W2_FIRST = ("w2 was updated before dL/dw1 was computed: compute dL/dw1 and dL/dw2 from the same "
                       "weights, then update both")

# hints given by grader/compare.py and grader/runner.py themselves (named here for identify())
TRANSPOSED_SHAPE = "this is the transpose of the expected shape"
ROUNDED = "the values look rounded to 4 decimals; return them unrounded"
ALL_ZERO = "every value is 0"
STATE = _STATE_HINT

# localisation (grader/assignment/diagnose.py): findings from smaller calls to the student's own functions
BIAS = ("the output for x = 0 is not uniform, so the network adds something that does not depend on x: a bias; "
        "the layers are nn.Linear(..., bias=False)")
LOCAL_OWN_GRADIENT = ("already the first step is wrong, and so is your {function} on that step ({detail}): "
                      "fix {function} first")
LOCAL_UPDATE = ("your gradients are right, but the weights after the first step are not w - lr * g: "
                "check the update (w1 = w1 - lr * dw1, w2 = w2 - lr * dw2)")
LOCAL_LATER_STEP = ("the first {good} step(s) are right and step {bad} is wrong: something is carried over from "
                    "one step to the next (a gradient not reset, an optimiser or a variable kept across epochs)")
LOCAL_TORCH_STEP = ("your Net's output on the first step is right, but the weights after that step are not "
                    "w - lr * dL/dw: check the loss (nn.CrossEntropyLoss on the Net's output) and the optimiser "
                    "(torch.optim.SGD(net.parameters(), lr=lr), zero_grad, backward, step once per epoch)")
LOCAL_NO_STEP = ("with a single row of masks the weights did not change: train exactly one SGD step per row of "
                 "masks (E = len(masks)), epoch e with masks[e]")
LOCAL_ONLY_DROPOUT = ("right without dropout and wrong with it: check how each epoch's mask is applied (row e of "
                      "masks in epoch e, 1 = keep, kept units divided by (1 - p), in the forward and the backward pass)")
LOCAL_ONLY_MASK = ("right without a mask and wrong with one: check the dropout (1 = keep, kept units divided by "
                   "(1 - p){backward})")
LOCAL_FORWARD_WRONG = "your forward_np is wrong on this input too: the gradient needs the right forward pass, fix it first"

HINTS: dict[str, str] = {name: text for name, text in globals().items()
                        if name.isupper() and not name.startswith("_") and isinstance(text, str)}


def identify(hint: str | None) -> str | None:
    """The name in :data:`HINTS` of a hint text, or None.

    A template matches with any filling; when the filling is itself a known
    hint (``TRAIN_STEP`` wraps a gradient's hint), the filling's name is returned.
    """
    if hint is None:
        return None
    for name, text in HINTS.items():
        if hint == text:
            return name
    for name, text in HINTS.items():
        if "{" not in text:
            continue
        pattern = "^" + "(.+)".join(re.escape(part) for part in re.split(r"\{[^}]*\}", text)) + "$"
        found = re.match(pattern, hint, flags=re.DOTALL)
        if found:
            inner = identify(found.group(1)) if len(found.groups()) == 1 and found.group(1) != hint else None
            return inner or name
    return None


# ------------------------------------------------------------ lazy tables

class Alternatives(Mapping[str, Any]):
    """``{hint: wrong answer}``, computed on first access (a passing check never computes it)."""

    def __init__(self, compute: Callable[[], dict[str, Any]]) -> None:
        self._compute = compute
        self._table: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        if self._table is None:
            self._table = self._compute()
        return self._table

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


# The mistakes of one pass, each with its hint, for gradients (dw1, dw2) and outputs (y).
_GRADIENT_MISTAKES: list[tuple[str, v.Mistake]] = [
    (SINGLE_SOFTMAX, v.Mistake(double_softmax=False)),
    (MEAN_LOSS_GRAD, v.Mistake(mean_loss=True)),
    (NO_RELU_GATE, v.Mistake(relu_gate=False)),
]
_MASK_MISTAKES: list[tuple[str, v.Mistake]] = [
    (NO_SCALING_BOTH, v.Mistake(forward_scale=False, backward_scale=False)),
    (NO_SCALING_FORWARD, v.Mistake(forward_scale=False)),
    (NO_SCALING_BACKWARD, v.Mistake(backward_scale=False)),
    (NO_MASK_IN_BACKWARD, v.Mistake(backward_mask=False)),
    (SCALE_MULTIPLIES, v.Mistake(scale_multiplies=True)),
    (DROP_MASK, v.Mistake(invert_mask=True)),
]

_MASK_MISTAKES_DW2: list[tuple[str, v.Mistake]] = [
    (NO_SCALING, v.Mistake(forward_scale=False)),
    (SCALE_MULTIPLIES, v.Mistake(scale_multiplies=True)),
    (DROP_MASK, v.Mistake(invert_mask=True)),
]


def _pass(case: NetCase, m: v.Mistake) -> v.Pass:
    return v.network(case.x, case.target, case.w1, case.w2, case.mask, case.p, m)


@cache
def relu(case: ArrayCase) -> Mapping[str, np.ndarray]:
    return Alternatives(lambda: {RELU_GATE: (case.value > 0).astype(np.float64), RELU_MIN: np.minimum(case.value, 0.0)})


@cache
def softmax(case: ArrayCase) -> Mapping[str, np.ndarray | list[np.ndarray]]:
    def compute() -> dict[str, np.ndarray]:
        table = {UNSTABLE_SOFTMAX: v.softmax_unstable(case.value)}
        if case.value.ndim == 2:
            table[SOFTMAX_AXIS] = v.softmax_columns(case.value)
            table[SOFTMAX_WHOLE] = v.softmax_whole(case.value)
        return table

    return Alternatives(compute)


@cache
def forward(case: NetCase) -> Mapping[str, np.ndarray]:
    """Outputs y (C,) of known mistakes (forward_np, Net, forward_torch)."""
    def compute() -> dict[str, np.ndarray]:
        table = {NO_SOFTMAX: _pass(case, v.Mistake(no_softmax=True)).y}
        if case.mask is not None:
            table[NO_SCALING] = _pass(case, v.Mistake(forward_scale=False)).y
            table[SCALE_MULTIPLIES] = _pass(case, v.Mistake(scale_multiplies=True)).y
            table[DROP_MASK] = _pass(case, v.Mistake(invert_mask=True)).y
        return table

    return Alternatives(compute)


@cache
def weight(case: NetCase, layer: int) -> Mapping[str, np.ndarray]:
    """``linear{layer}.weight`` (the transpose of w{layer}) of known mistakes: the untransposed weight."""
    w = case.w1 if layer == 1 else case.w2
    return Alternatives(lambda: {HOLDS_W.format(n=layer): w})


@cache
def loss(case: NetCase) -> Mapping[str, float]:
    def compute() -> dict[str, float]:
        right = _pass(case, v.Mistake()).loss
        return {
            SINGLE_SOFTMAX_LOSS: -float((case.target * np.log(_pass(case, v.Mistake()).y)).sum()),
            MEAN_LOSS: right / case.target.shape[-1],
            LOSS_SIGN: -right,
        }

    return Alternatives(compute)


@cache
def grad(case: NetCase, key: str) -> Mapping[str, np.ndarray]:
    """Mistakes in ``dw1`` (key "dw1", (D, H)) or ``dw2`` (key "dw2", (H, C))."""
    def compute() -> dict[str, np.ndarray]:
        if key == "dw1":
            mistakes = _GRADIENT_MISTAKES + (_MASK_MISTAKES if case.mask is not None else [])
        else:  # dL/dw2 = outer(a, dz) sees neither the ReLU's derivative nor the backward pass's dropout
            mistakes = _GRADIENT_MISTAKES[:2] + (_MASK_MISTAKES_DW2 if case.mask is not None else [])
        table = {hint: getattr(_pass(case, m), key) for hint, m in mistakes}
        right = getattr(_pass(case, v.Mistake()), key)
        table[NEGATED] = -right
        if right.shape[0] == right.shape[1]:
            table[TRANSPOSED] = right.T
        return table

    return Alternatives(compute)


# Training: every pass mistake in every step, and the loop's own mistakes.
_LOOP_MISTAKES: list[tuple[str, v.Loop]] = [
    (ASCENT, v.Loop(ascent=True)),
    (ACCUMULATE, v.Loop(accumulate=True)),
    (EPOCH_FEWER_FIRST, v.Loop(skip_first=True)),
    (EPOCH_FEWER_LAST, v.Loop(skip_last=True)),
    (EPOCH_MORE_LAST, v.Loop(extra_last=True)),
    (EPOCH_MORE_FIRST, v.Loop(extra_first=True)),
    (MASK_ORDER, v.Loop(reversed_masks=True)),
    (MASK_FIRST_ONLY, v.Loop(first_mask_only=True)),
    (SEQUENTIAL_W1_FIRST, v.Loop(w2_after_w1=True)),
    (SEQUENTIAL_W2_FIRST, v.Loop(w1_after_w2=True)),
]


@cache
def train(case: TrainCase) -> Mapping[str, tuple[np.ndarray, np.ndarray]]:
    """Weights (w1 (D, H), w2 (H, C)) after training with a known mistake."""
    def compute() -> dict[str, tuple[np.ndarray, np.ndarray]]:
        runs = [(TRAIN_STEP.format(hint), m, v.Loop()) for hint, m in _GRADIENT_MISTAKES]
        runs += [(NO_SCALING if hint == NO_SCALING_BOTH else hint, m, v.Loop()) for hint, m in _MASK_MISTAKES]
        runs += [(hint, v.Mistake(), loop) for hint, loop in _LOOP_MISTAKES]
        if case.lr != 0.01:
            runs.append((FIXED_LR, v.Mistake(), v.Loop(fixed_lr=0.01)))
        if case.p != 0.4:
            runs.append((FIXED_P, v.Mistake(), v.Loop(fixed_p=0.4)))
        return {hint: v.train(case.x, case.target, case.w1, case.w2, case.masks, case.lr, case.p, m, loop)
                for hint, m, loop in runs}

    return Alternatives(compute)


def train_layer(case: TrainCase, layer: int) -> Mapping[str, np.ndarray]:
    """The ``w{layer}`` part of :func:`train`: ``{hint: w{layer} after training}``."""
    table = train(case)
    return Alternatives(lambda: {hint: weights[layer - 1] for hint, weights in table.items()})


def for_check(group: str, case: Any) -> dict[str, Any]:
    """The ``{hint: wrong answer}`` table of a rubric group's case, as plain data.

    For ``task1/Net`` the answers are outputs y; for the training groups they
    are ``(w1, w2)`` pairs. Groups without a table (the agreement check) give
    ``{}``. Localisation findings (:mod:`.diagnose`) need the student's own
    functions and are not data.
    """
    table: Mapping[str, Any] | None = {
        "task1/relu": relu, "task1/softmax": softmax, "task1/forward_np": forward, "task1/Net": forward,
        "task1/forward_torch": forward, "task2/loss_np": loss, "task3/train_np": train, "task3/train_torch": train,
        "task2/grad_w1_np": lambda c: grad(c, "dw1"), "task2/grad_w1_torch": lambda c: grad(c, "dw1"),
        "task3/grad_w2_np": lambda c: grad(c, "dw2"),
    }.get(group, lambda c: None)(case)
    return dict(table or {})
