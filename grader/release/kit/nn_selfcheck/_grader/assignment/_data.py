"""The visible cases and the recorded answers of ``data.json``, as the checks ask for them."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from ...datafile import call_key, decode, load_data


class Case:
    """A visible case: the same attributes as the grader's case (``id``, ``visible``, ``label``, ``x``, ...)."""

    def __init__(self, uid: str, kind: str, fields: dict[str, Any]) -> None:
        self._uid = uid
        self._kind = kind
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"<{self._kind} {getattr(self, 'id', '?')}: {getattr(self, 'label', '')}>"


class MissingAnswer(LookupError):
    """The checks asked for an answer the release did not record (a kit built for other checks)."""


@cache
def case(uid: str) -> Case:
    spec = load_data()["cases"][uid]
    return Case(uid, spec["kind"], {name: decode(value, case) for name, value in spec["fields"].items()})


def case_uid(value: Any) -> str | None:
    return value._uid if isinstance(value, Case) else None


def case_lists() -> dict[str, list[Case]]:
    return {name: [case(uid) for uid in uids] for name, uids in load_data()["lists"].items()}


def constant(module: str, name: str) -> Any:
    """A public constant of the grader's module (a hint text), or AttributeError."""
    constants = load_data().get("constants", {}).get(module, {})
    if name not in constants:
        raise AttributeError(name)
    return constants[name]


def answering(module: str, function: str) -> Callable[..., Any]:
    """A stand-in for ``module.function``: looks the call up in the recorded answers."""

    def answer(*args: Any, **kwargs: Any) -> Any:
        key = call_key(module, function, args, kwargs, case_uid)
        answers = load_data()["answers"]
        if key not in answers:
            raise MissingAnswer(f"the self-check holds no answer for {module}.{function}{args!r}")
        return decode(answers[key], case)

    answer.__name__ = answer.__qualname__ = function
    return answer
