"""The inputs every check runs on: visible cases and hidden ones.

Visible cases are the original notebook's inputs, whose answers the handout
shows. Hidden cases are generated from fixed seeds: other sizes (D, H, C),
negative weights so that ReLU gates some units, soft targets, dropout masks,
large logits. Every hidden value is exactly representable in float32, so the
float64 NumPy inputs and the float32 torch inputs are the same numbers and a
correct float32 implementation is judged only on its own rounding.

``tests/test_cases.py`` verifies that the hidden cases are well-conditioned:
a correct float32 implementation passes them and an answer rounded to four
decimals fails them.

Every hidden case also records how it was drawn (:func:`hidden_key`,
:func:`redraw`): with a course secret, :mod:`grader.assignment.case_sets`
draws each hidden case again from a seed derived from the secret, with the
same recipe (sizes, mask, target kind), so that the hidden inputs cannot be
computed from this public file. Visible cases never change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import Any, TypeVar

import numpy as np

# ------------------------------------------------------------ the original

X1 = np.array([1.0, 2.0, 3.0])
X2 = np.array([4.0, 5.0, 6.0])
Y1 = np.array([0.0, 1.0])
Y2 = np.array([1.0, 0.0])
W1 = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]])
W2 = np.array([[0.2, 0.3], [0.4, 0.5], [0.6, 0.7], [0.8, 0.9]])
EPOCHS, LR, P = 100, 0.01, 0.4


def dropout_masks(epochs: int, hidden: int, p: float, seed: int) -> np.ndarray:
    """The contract's canonical keep-masks, shape (epochs, hidden), 0.0/1.0."""
    return (np.random.default_rng(seed).random((epochs, hidden)) >= p).astype(np.float64)


# ------------------------------------------------------------ case types

@dataclass(frozen=True, eq=False)  # identity equality: cases are constants, and hashable for caching
class ArrayCase:
    """Input of an elementwise function (``relu``, ``softmax``)."""

    id: str
    visible: bool
    label: str
    value: np.ndarray  # any shape
    repeats: int = 0  # fresh calls after the first: 2 for a state check (see with_state_check())


@dataclass(frozen=True, eq=False)  # identity equality: cases are constants, and hashable for caching
class NetCase:
    """One input through the network.

    Shapes: ``x`` (D,), ``target`` (C,), ``w1`` (D, H), ``w2`` (H, C),
    ``mask`` (H,) or None.
    """

    id: str
    visible: bool
    label: str
    x: np.ndarray
    target: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    mask: np.ndarray | None = None
    p: float = 0.0
    repeats: int = 0

    @cached_property
    def sizes(self) -> tuple[int, int, int]:
        return self.w1.shape[0], self.w1.shape[1], self.w2.shape[1]


@dataclass(frozen=True, eq=False)  # identity equality: cases are constants, and hashable for caching
class TrainCase:
    """A training run: one SGD step per row of ``masks`` (E, H)."""

    id: str
    visible: bool
    label: str
    x: np.ndarray
    target: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    masks: np.ndarray
    lr: float
    p: float
    repeats: int = 0


# ------------------------------------------------------------ recipes of hidden cases

# id(case) -> (stable key, draw(seed) -> an equivalent case from another seed).
# The key names the recipe across processes ("net:201"); case objects are
# compared by identity, so one registry entry serves every list holding the case.
_RECIPES: dict[int, tuple[str, Callable[[int], Any]]] = {}


def _hidden(key: str, draw: Callable[[int], Any], case: Any) -> Any:
    """Register how ``case`` was drawn (``draw(seed)`` makes a sibling) and return it."""
    _RECIPES[id(case)] = (key, draw)
    return case


def hidden_key(case: Any) -> str | None:
    """The stable name of a hidden case's recipe, or None for a visible case."""
    recipe = _RECIPES.get(id(case))
    return recipe[0] if recipe else None


def redraw(case: Any, seed: int) -> Any:
    """A hidden case drawn again from ``seed`` with the same recipe (same id, sizes, kind)."""
    return _RECIPES[id(case)][1](seed)


def case_lists() -> dict[str, list[Any]]:
    """Every list of cases this module defines, by name (``"FORWARD"``: [...])."""
    return {name: value for name, value in globals().items()
            if name.isupper() and isinstance(value, list) and value
            and all(isinstance(item, (ArrayCase, NetCase, TrainCase)) for item in value)}


# ------------------------------------------------------------ hidden data

def _f32(array: np.ndarray) -> np.ndarray:
    """Round to the nearest float32 value, kept as float64."""
    return np.asarray(array, dtype=np.float32).astype(np.float64)


def _hidden_net(
    case_id: str, seed: int, sizes: tuple[int, int, int], *, p: float = 0.0, masked: bool = False,
    soft_target: bool = False,
) -> NetCase:
    """A random, well-conditioned network input (see :func:`_draw_net`), registered for redrawing."""
    draw = partial(_draw_net, case_id, sizes=sizes, p=p, masked=masked, soft_target=soft_target)
    return _hidden(f"net:{seed}", draw, draw(seed))


def _draw_net(
    case_id: str, seed: int, sizes: tuple[int, int, int], *, p: float = 0.0, masked: bool = False,
    soft_target: bool = False,
) -> NetCase:
    """A random, well-conditioned network input.

    Draws until ReLU gates at least one hidden unit and lets at least two
    through, the mask (if any) keeps some of the active units, and the
    logits stay moderate (|z| < 4), so that gradients are neither zero nor
    saturated.
    """
    d, h, c = sizes
    rng = np.random.default_rng(seed)
    while True:
        x = _f32(rng.normal(0.0, 1.0, d))
        w1 = _f32(rng.normal(0.0, 0.7, (d, h)))
        w2 = _f32(rng.normal(0.0, 0.7, (h, c)))
        mask = (rng.random(h) >= p).astype(np.float64) if masked else None
        if soft_target:
            target = _f32(rng.dirichlet(np.ones(c)))
        else:
            target = np.eye(c)[rng.integers(c)]
        hidden = x @ w1
        active = hidden > 0
        kept = active if mask is None else active & (mask > 0)
        a = np.maximum(hidden, 0) * (1.0 if mask is None else mask / (1 - p))
        # a masked case drops an active unit: only then do "mask ignored in the backward pass" and
        # "mask applied without 1/(1-p)" give different gradients
        drops_active = mask is None or (active & (mask == 0)).any()
        if (~active).any() and kept.sum() >= 2 and np.abs(a @ w2).max() < 4 and drops_active:
            break
    what = f"D={d}, H={h}, C={c}" + (f", with mask, p={p}" if masked else "") + (", soft target" if soft_target else "")
    return NetCase(case_id, False, f"hidden case {case_id} ({what})", x, target, w1, w2, mask, p)


def _hidden_train(
    case_id: str, seed: int, sizes: tuple[int, int, int], *, epochs: int, lr: float, p: float, visible: bool = False
) -> TrainCase:
    """A training run (hidden unless ``visible``); a hidden one is registered for redrawing."""
    draw = partial(_draw_train, case_id, sizes=sizes, epochs=epochs, lr=lr, p=p, visible=visible)
    return draw(seed) if visible else _hidden(f"train:{seed}", draw, draw(seed))


def _draw_train(
    case_id: str, seed: int, sizes: tuple[int, int, int], *, epochs: int, lr: float, p: float, visible: bool = False
) -> TrainCase:
    """A training run. Its number of epochs is not 100: the epochs are ``len(masks)``."""
    net = _draw_net(case_id, seed, sizes)
    masks = dropout_masks(epochs, sizes[1], p, seed)
    d, h, c = sizes
    what = f"D={d}, H={h}, C={c}, {epochs} epochs, lr={lr}, p={p}"
    label = f"{case_id}: seeded network {seed} ({what})" if visible else f"hidden case {case_id} ({what})"
    return TrainCase(case_id, visible, label, net.x, net.target, net.w1, net.w2, masks, lr, p)


def _visible(case: NetCase, label: str) -> NetCase:
    """A generated network case shown to students (its values appear in messages)."""
    return replace(case, visible=True, label=label)


Case = TypeVar("Case", ArrayCase, NetCase, TrainCase)


def with_state_check(cases: list[Case]) -> list[Case]:
    """``cases`` and, last, the group's state check: its cheapest visible case once more.

    The state check runs after every other check of the suite
    (:mod:`grader.checks.collect` puts cases with ``repeats`` last), so the
    function has been called with other arguments, and every other function
    has run, since it first answered this case. Its check calls it with the
    same arguments three times: the first call is answered from the runner's
    memory of the first answer; the next two really run, one after all those
    other calls and one right after it, and each must answer as the first
    time. The first repeat finds state that changes with other calls (an
    optimiser or array kept in a global, a setting another function
    changed), the second a model kept and reused for the same sizes.
    """
    state = min((case for case in cases if case.visible), key=_cost)  # the first visible one, or a shorter training
    label = f"{state.label}; again after every other check, then once more"
    return [*cases, replace(state, id=f"{state.id}_again", label=label, repeats=2)]


def _cost(case: ArrayCase | NetCase | TrainCase) -> int:
    """How long a call on ``case`` runs, roughly: its epochs for a training, else 0."""
    return len(case.masks) if isinstance(case, TrainCase) else 0


def _hidden_array(case_id: str, label: str, seed: int, draw: Callable[[np.random.Generator], np.ndarray]) -> ArrayCase:
    """A hidden elementwise input ``_f32(draw(rng))``, registered for redrawing."""

    def make(seed: int) -> ArrayCase:
        return ArrayCase(case_id, False, label, _f32(draw(np.random.default_rng(seed))))

    return _hidden(f"array:{seed}", make, make(seed))


def _large_logits(rng: np.random.Generator) -> np.ndarray:
    """Three logits near 1000 (only with a course secret: the default case is [1000, 1001, 999])."""
    return 1000.0 + rng.integers(-3, 4, 3)


# ------------------------------------------------------------ the cases

RELU = [
    ArrayCase("visible", True, "h = [-1.5, 0, 2, -0.3, 4.2]", np.array([-1.5, 0.0, 2.0, -0.3, 4.2])),
    _hidden_array("hidden_2d", "hidden 2-D input (4, 6)", 101, lambda rng: rng.normal(size=(4, 6))),
    _hidden_array("hidden_mixed", "hidden input of 9 values of both signs", 102, lambda rng: rng.normal(0, 3, size=9)),
]
RELU = with_state_check(RELU)

SOFTMAX = [
    ArrayCase("visible", True, "z = [1, 2, 3]", np.array([1.0, 2.0, 3.0])),
    ArrayCase("visible_2d_large", True, "z = [[1, 2, 3], [1000, 1002, 1001]] (large logits), softmax over each row",
              np.array([[1.0, 2.0, 3.0], [1000.0, 1002.0, 1001.0]])),
    _hidden("array:large", lambda seed: ArrayCase("hidden_large", False, "hidden large logits (3 values near 1000)",
                                                  _large_logits(np.random.default_rng(seed))),
            ArrayCase("hidden_large", False, "hidden large logits [1000, 1001, 999]", np.array([1000.0, 1001.0, 999.0]))),
    _hidden_array("hidden_2d", "hidden 2-D input (4, 5), softmax over each row", 103,
                  lambda rng: rng.normal(0, 1.5, size=(4, 5))),
]
SOFTMAX = with_state_check(SOFTMAX)

_ORIGINAL_1 = NetCase("x1", True, "x1, y1", X1, Y1, W1, W2)
_ORIGINAL_2 = NetCase("x2", True, "x2, y2", X2, Y2, W1, W2)
# x1 with a mask that drops an active unit
_MASKED_1 = NetCase("x1_mask", True, "x1, y1, mask [1, 0, 1, 1], p=0.4", X1, Y1, W1, W2, np.array([1.0, 0.0, 1.0, 1.0]), 0.4)
# other sizes, negative weights: some ReLU units are off
_VISIBLE_V1 = _visible(_draw_net("v1", 301, (2, 5, 3)), "v1: seeded network 301 (D=2, H=5, C=3, negative weights)")
_VISIBLE_SOFT = replace(_ORIGINAL_1, id="x1_soft", label="x1, soft target [0.25, 0.75]", target=np.array([0.25, 0.75]))

FORWARD = [
    _ORIGINAL_1,
    _ORIGINAL_2,
    _MASKED_1,
    _hidden_net("h1", 201, (5, 7, 3)),
    _hidden_net("h2", 202, (4, 6, 5), p=0.4, masked=True),
]
FORWARD = with_state_check(FORWARD)

NET = [
    _MASKED_1,  # forward_torch's checks run the Net without a mask
    _hidden_net("h1", 211, (6, 5, 4)),
    _hidden_net("h2", 212, (5, 8, 3), p=0.4, masked=True),
]
NET = with_state_check(NET)

FORWARD_TORCH = [_ORIGINAL_1, _ORIGINAL_2, _hidden_net("h1", 221, (5, 7, 3)), _hidden_net("h2", 222, (7, 4, 6))]
FORWARD_TORCH = with_state_check(FORWARD_TORCH)

LOSS = [
    _ORIGINAL_1,
    _VISIBLE_SOFT,
    _hidden_net("h1", 231, (4, 5, 4), soft_target=True),
    _hidden_net("h2", 232, (3, 6, 6)),
]
LOSS = with_state_check(LOSS)

GRAD_W1 = [
    _ORIGINAL_1,
    _ORIGINAL_2,
    _MASKED_1,
    _VISIBLE_V1,  # unmasked, other sizes, ReLU units off
    _hidden_net("h2", 242, (5, 6, 3), p=0.4, masked=True),
    _hidden_net("h4", 244, (3, 7, 5), soft_target=True),
    _hidden_net("h5", 245, (10, 16, 5), p=0.5, masked=True),
]
GRAD_W1 = with_state_check(GRAD_W1)

GRAD_W1_TORCH = [
    _ORIGINAL_1,
    _ORIGINAL_2,
    _hidden_net("h1", 251, (4, 5, 3)),
    _hidden_net("h2", 252, (6, 9, 4), soft_target=True),
    _hidden_net("h3", 253, (8, 3, 2)),
]
GRAD_W1_TORCH = with_state_check(GRAD_W1_TORCH)

GRAD_W2 = [
    _ORIGINAL_1,
    _MASKED_1,
    _hidden_net("h1", 261, (4, 6, 3)),
    _hidden_net("h2", 262, (5, 7, 4), p=0.4, masked=True),
    _hidden_net("h3", 263, (6, 5, 3), p=0.3, masked=True, soft_target=True),
]
GRAD_W2 = with_state_check(GRAD_W2)

TRAIN = [
    TrainCase("x1", True, f"x1, y1, masks dropout_masks({EPOCHS}, 4, {P}, seed=0)",
              X1, Y1, W1, W2, dropout_masks(EPOCHS, 4, P, 0), LR, P),
    _hidden_train("v1", 302, (2, 5, 3), epochs=10, lr=0.1, p=0.25, visible=True),
    _hidden_train("h1", 271, (5, 6, 3), epochs=20, lr=0.2, p=0.4),
]
TRAIN = with_state_check(TRAIN)

# The agreement check trains on the same cases as the training checks: the
# runner answers the repeated calls from memory, so it costs no extra run.
AGREEMENT = [TRAIN[0], TRAIN[2]]  # x1 and h1
