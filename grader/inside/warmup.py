"""Start-up of the zygote: import NumPy, torch and the harness once, before any fork."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from .kernel import SINGLE_THREADED

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
    return harness, wire
