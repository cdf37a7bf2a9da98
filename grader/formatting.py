"""Numbers and standing sentences as the grader prints and writes them, defined once."""

from __future__ import annotations

from typing import Any

WEAK_SANDBOX_NOTE = "note: the strong sandbox layer was not in force for this run (see SECURITY.md)"


def number(value: Any, places: int = 4) -> str:
    """A number as short as it is exact to ``places`` decimals: ``87.5``, ``100``, ``0`` (never ``-0``)."""
    text = f"{float(value):.{places}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text

