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


def warm_up() -> tuple[ModuleType, ModuleType]:
    """Import NumPy, torch and the harness once, single-threaded, and exercise them.

    Running a tiny training step here pulls in the modules torch loads lazily,
    so children do not need to read them after dropping privileges. Returns
    the ``harness`` and ``wire`` modules.
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
    from torch import nn

    import numpy as np

    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    loss = nn.functional.cross_entropy(net(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1]))
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9).step()
    np.linalg.norm(np.random.default_rng(0).standard_normal((3, 3)) @ np.eye(3))
    from . import harness, wire

    wire.encode_value((torch.ones(2, requires_grad=True), np.zeros(2), 1.0, None))
    freeze_objects()
    on_huge_pages()
    return harness, wire


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
