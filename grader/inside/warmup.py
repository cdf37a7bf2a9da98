"""Start-up of the zygote: import NumPy, torch and the harness once, before any fork; then lay its memory out for forks."""

from __future__ import annotations

import ctypes
import gc
import importlib
import os
from types import ModuleType

from .kernel import SINGLE_THREADED, libc

# Modules imported before any fork, so that student code finds them even where
# the child, once unprivileged, can no longer read the Python installation.
PRELOADED_MODULES = (
    "abc", "array", "bisect", "collections", "collections.abc", "contextlib", "copy",
    "csv", "dataclasses", "datetime", "decimal", "enum", "fractions", "functools",
    "gc", "heapq", "inspect", "io", "itertools", "json", "linecache", "math",
    "numbers", "operator", "pathlib", "pickle", "pprint", "queue", "random", "re",
    "statistics", "string", "struct", "textwrap", "time", "timeit", "tokenize",
    "traceback", "types", "typing", "unittest", "unittest.mock", "warnings", "weakref",
    "encodings.ascii", "encodings.latin_1", "encodings.utf_8", "encodings.idna",
    "numpy", "numpy.linalg", "numpy.random", "numpy.fft", "numpy.polynomial", "numpy.testing",
    "torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.optim",
    "torch.optim.lr_scheduler", "torch.autograd", "torch.utils.data", "torch.testing",
)
# Rounds of the exercises in the warm-up. Python (3.11 and later) specialises a
# function's bytecode once it has run a few times (8 calls to start, in 3.11); a
# child inherits what the zygote did instead of doing it again. Measured in lock
# step (bench/bench_ab.py, 60 steps in each order): children used 3.5 and 7.2 ms
# (2 to 4%) less CPU per submission, and copied about 200 fewer of the zygote's
# pages; the zygote's start-up took some 50 ms more.
EXERCISE_ROUNDS = 10


def warm_up() -> tuple[ModuleType, ModuleType]:
    """Import NumPy, torch and the harness once, single-threaded, and exercise them.

    Exercising them here pulls in the modules torch loads lazily (building
    the first optimiser imports ``torch._dynamo``, about 2 s), so that
    children need not read them after dropping privileges; and doing it
    ``EXERCISE_ROUNDS`` times lets Python specialise the library code every
    submission runs (``Module.__call__``, ``SGD.step``, ``backward``, NumPy's
    reductions, the harness's own request path), which a child then inherits
    instead of specialising it again. Returns the ``harness`` and ``wire``
    modules.
    """
    os.environ.update(SINGLE_THREADED)
    import torch

    torch.set_num_threads(1)  # before any parallel work: forking after it hangs
    torch.set_num_interop_threads(1)
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # an optional module missing in this installation
            pass
    from . import harness, wire

    for _ in range(EXERCISE_ROUNDS):
        _exercise_torch()
        _exercise_numpy()
    harness.rehearse(EXERCISE_ROUNDS)
    freeze_objects()
    on_huge_pages()
    return harness, wire


def _exercise_torch() -> None:
    """Train a small generic classifier on random data for a few steps: the library calls submissions make.

    Deliberately not the assignment's network or training (no dropout masks,
    a bias, other sizes, three optimisers taking turns): this module is
    readable from inside the sandbox.
    """
    import numpy as np
    import torch
    from torch import nn

    hidden, out = nn.Linear(6, 5, bias=False), nn.Linear(5, 3)
    model = nn.Sequential(hidden, nn.ReLU(), nn.Dropout(0.25), out, nn.Softmax(dim=-1))
    with torch.no_grad():
        hidden.weight.copy_(torch.randn(6, 5).T)
    loss_fn = nn.CrossEntropyLoss()
    optimizers = (torch.optim.SGD(model.parameters(), lr=0.1),
                  torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                  torch.optim.Adam(model.parameters(), lr=0.01))
    inputs, soft = torch.randn(4, 6), torch.softmax(torch.randn(4, 3), dim=-1)
    for row, target, optimizer in zip(inputs, soft, optimizers):
        loss = loss_fn(model(row), target) + nn.functional.cross_entropy(model(inputs), torch.tensor([0, 1, 2, 0]))
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    x = torch.randn(6, requires_grad=True)
    (gradient,) = torch.autograd.grad(torch.relu(x @ hidden.weight.T).sum(), x)
    (gradient * x.detach() / 2).clone().numpy()
    hidden.weight.detach().T.clone()
    torch.from_numpy(np.zeros(3)).float()


def _exercise_numpy() -> None:
    """Elementwise functions and reductions on small arrays, as submissions use them."""
    import numpy as np

    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 4))
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    e / np.sum(e, axis=-1, keepdims=True)
    np.log(np.sum(e, axis=1, keepdims=True)).sum()
    np.maximum(z, 0.0) * (rng.random(4) >= 0.5).astype(np.float64) / 0.5
    v = z[0] @ np.array(z.T, dtype=np.float64)
    np.outer(v, v) - np.diag(v)
    np.where(z > 0, z, 0.0).mean(axis=0)
    np.argmax(z, axis=-1), np.linalg.norm(z), np.allclose(z, z), np.clip(z, -1, 1), np.dot(z[0], z[1])


def freeze_objects() -> None:
    """Collect the start-up's garbage, then put every object left out of the collector's reach.

    A child shares the zygote's pages until it writes to them, and a write
    costs a page copy (about 5 µs here). Garbage left from the imports and
    the warm-up was freed by each child's first collections instead: some
    1,800 page copies per child, about a third of all its page faults. Frozen
    objects (:func:`gc.freeze`) are never traversed or freed by a child's
    collections either; the child's own objects are collected as usual.
    """
    gc.collect()
    gc.freeze()


MADV_HUGEPAGE, MADV_COLLAPSE = 14, 25
HUGE_PAGE = 2 << 20


def on_huge_pages() -> None:
    """Move the zygote's anonymous memory onto transparent huge pages, now.

    NumPy and torch leave the zygote about 210 MB of anonymous memory (the
    malloc heap and Python's object arenas). Mapped by 4 KiB pages, every fork
    copies some 50,000 page-table entries and every child's exit tears them
    down; by 2 MiB pages, about a hundred. ``MADV_COLLAPSE`` (Linux 6.1) moves
    what is already there, in about 0.1 s once; a child still copies only the
    4 KiB pages it writes. Side by side in lock step over 80 forks of the
    same work, a fork took 1.8 ms instead of 3.7 and a child about 6 ms less.
    Where the kernel has no huge pages or no ``MADV_COLLAPSE``, nothing happens.
    """
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    try:
        with open("/proc/self/maps", encoding="ascii") as maps:
            regions = [line.split() for line in maps]
    except OSError:
        return
    for fields in regions:
        anonymous = len(fields) == 5 or (len(fields) == 6 and fields[5] == "[heap]")
        if fields[1] != "rw-p" or not anonymous:
            continue
        start, end = (int(address, 16) for address in fields[0].split("-"))
        low, high = -(-start // HUGE_PAGE) * HUGE_PAGE, end // HUGE_PAGE * HUGE_PAGE
        if high > low and libc.madvise(low, high - low, MADV_HUGEPAGE) == 0:
            libc.madvise(low, high - low, MADV_COLLAPSE)
