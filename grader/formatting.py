"""Numbers and standing sentences as the grader prints and writes them, defined once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WEAK_SANDBOX_NOTE = "note: the strong sandbox layer was not in force for this run (see SECURITY.md)"
REQUIRE_SANDBOX_REFUSAL = ("--require-sandbox: the strong sandbox layer is not in force here "
                           "(needs bubblewrap and an unprivileged user for the student code)")


def number(value: Any, places: int = 4) -> str:
    """A number as short as it is exact to ``places`` decimals: ``87.5``, ``100``, ``0`` (never ``-0``)."""
    text = f"{float(value):.{places}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def refuses_weak_sandbox(layers: Mapping[str, Any], *, require_strong: bool) -> str | None:
    """The refusal to print when ``--require-sandbox`` is set and ``layers`` lack the strong one, else None."""
    return REQUIRE_SANDBOX_REFUSAL if require_strong and not layers.get("strong") else None
