"""The class roster: who should have submitted, and which submission is whose.

``--roster roster.csv`` is any CSV with a header row holding a name column
(``name``, ``student``, ``full name``, or ``first name`` + ``last name``) and
any of an id (``id``, ``student id``, ``sis user id``, ``user id``, ``sid``,
``id number``, ``participant``), an email (``email``, ``email address``),
a login (``login``, ``username``, ``sis login id``) and a ``section``:
Canvas's and Moodle's own exports qualify.

A submission matches a roster line by the id the LMS download carried, by
email or login, or by name (case, spaces and punctuation ignored; Canvas's
``lastfirst`` form counts). Roster students with no submission are
``missing``; submissions that match nobody are listed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_ROSTER_BYTES = 5 << 20
_COLUMNS = {
    "name": ("name", "student", "full name", "student name", "fullname"),
    "first": ("first name", "firstname", "given name"),
    "last": ("last name", "lastname", "surname", "family name"),
    "id": ("id", "student id", "sis user id", "user id", "userid", "sid", "id number", "idnumber", "participant",
           "identifier", "student number"),
    "email": ("email", "email address", "e-mail", "mail"),
    "login": ("login", "username", "sis login id", "login id", "user name"),
    "section": ("section", "group"),
}


class RosterError(ValueError):
    """The roster file cannot be used (a one-line message)."""


@dataclass(frozen=True)
class RosterStudent:
    name: str
    id: str = ""
    email: str = ""
    login: str = ""
    section: str = ""

    def keys(self) -> set[str]:
        """Everything a submission may be known by."""
        found = {_key(self.name)}
        words = self.name.replace(",", " ").split()
        if len(words) > 1:  # Canvas: "Bob Smith" downloads as "smithbob"
            found |= {_key(words[-1] + "".join(words[:-1])), _key("".join(words[1:]) + words[0])}
        for value in (self.id, self.email, self.login, self.email.split("@", 1)[0]):
            if value:
                found.add(_key(value))
        found.discard("")
        return found


@dataclass(frozen=True)
class RosterMatch:
    """Which entry is whose: ``students`` (entry name → roster line), ``missing`` and ``unknown`` entries."""

    students: dict[str, RosterStudent] = field(default_factory=dict)
    missing: tuple[RosterStudent, ...] = ()
    unknown: tuple[str, ...] = ()


def read_roster(path: Path) -> list[RosterStudent]:
    """The roster's students, or :class:`RosterError`."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise RosterError(f"{path}: larger than {MAX_ROSTER_BYTES >> 20} MiB; is it a roster?")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise RosterError(f"{path}: not UTF-8 text; save the roster as CSV UTF-8") from None
    return parse_roster(text, str(path))


def parse_roster(text: str, where: str = "roster") -> list[RosterStudent]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise RosterError(f"{where}: empty roster")
    header = [_column(cell) for cell in rows[0]]
    if "name" not in header and not ("first" in header and "last" in header) and "id" not in header \
            and "email" not in header:
        raise RosterError(f"{where}: the header names no name, id or email column (got {', '.join(rows[0][:6])})")
    students = []
    for row in rows[1:]:
        values: dict[str, str] = {}
        for column, cell in zip(header, row):
            if column and column not in values:
                values[column] = cell.strip()
        name = values.get("name") or " ".join(v for v in (values.get("first"), values.get("last")) if v)
        if not (name or values.get("id") or values.get("email")) or name.lower() == "points possible":
            continue
        students.append(RosterStudent(name=name or values.get("id") or values.get("email", ""),
                                      id=values.get("id", ""), email=values.get("email", ""),
                                      login=values.get("login", ""), section=values.get("section", "")))
    if not students:
        raise RosterError(f"{where}: no student lines under the header")
    return students


def match_roster(roster: Sequence[RosterStudent], entries: Mapping[str, Mapping[str, Any] | None]) -> RosterMatch:
    """Match every entry (name → its report's ``student`` record, or None) to a roster line."""
    by_key: dict[str, RosterStudent] = {}
    for student in roster:
        for key in student.keys():
            by_key.setdefault(key, student)
    matched: dict[str, RosterStudent] = {}
    unknown: list[str] = []
    for name in sorted(entries):
        record = entries[name] or {}
        candidates = [record.get("id"), record.get("email"), record.get("name"), name]
        found = next((by_key[_key(str(c))] for c in candidates if c and _key(str(c)) in by_key), None)
        if found is None:
            unknown.append(name)
        else:
            matched[name] = found
    claimed = {id(student) for student in matched.values()}
    missing = tuple(student for student in roster if id(student) not in claimed)
    return RosterMatch(students=matched, missing=missing, unknown=tuple(unknown))


def _column(cell: str) -> str:
    text = re.sub(r"\s+", " ", cell.strip().strip("\ufeff").lower().replace("_", " "))
    for column, names in _COLUMNS.items():
        if text in names:
            return column
    return ""


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())
