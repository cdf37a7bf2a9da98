"""Self-check for the two-layer network homework: the grader's visible checks, offline.

In a terminal::

    python check.py                  # the folder check.py is in
    nn-selfcheck path/to/folder      # once installed (pip install ./student); also python -m nn_selfcheck

In a notebook::

    from nn_selfcheck import check
    check("my_homework.ipynb")       # a file on disk
    check()                          # the functions defined in this kernel (Colab)

Your code runs in a separate process with a time limit per call, so an
infinite loop or a crash gives a message, not a frozen terminal or kernel.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["check"]


def check(submission: Any = None, *, show: bool | None = None, kernel: bool | None = None) -> Any:
    """Run the visible checks; see :func:`nn_selfcheck.selfcheck.check`."""
    from .selfcheck import check as run  # imported on use: the child process imports this package too

    return run(submission, show=show, kernel=kernel)
