"""What an LMS download looks like, and how its files become one submission per student.

:func:`arrange` takes the entries :func:`grader.batch.run.discover` found
directly under the class folder and returns one entry per student, each a
folder staged under ``OUT/.staging/`` when the layout renames, groups or
packs files:

- ``plain``: every entry is one submission (a folder, ``.py``, ``.ipynb``);
  a ``.zip``/``.tar.gz`` is unpacked (see :mod:`.archives`) and graded as a
  folder named after the archive.
- ``canvas``: "Download Submissions" gives flat files named
  ``login[_LATE]_userid_submissionid_original-name``, where a resubmitted
  file's name gains ``-1``, ``-2``... before its extension. Files of one user
  id are one submission, renamed back to their original names.
- ``moodle``: "Download all submissions" gives one folder per student and
  plugin, ``Full Name_participantid_assignsubmission_file_``; only the
  ``file`` plugin's folders hold code.
- ``gradescope``: "Export Submissions" gives ``submission_metadata.yml`` and
  one ``submission_<id>/`` folder per submission; the metadata names the
  submitters.

``auto`` picks the layout from the names (:func:`detect_layout`). Every
student's id, name, email and late flag travel with its entry into the
report and the gradebook.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .archives import MAX_BYTES, MAX_FILES, ArchiveError, archive_stem, is_archive, submission_root, unpack

if TYPE_CHECKING:
    from .run import Entry

LAYOUTS = ("auto", "plain", "canvas", "moodle", "gradescope")
GRADESCOPE_METADATA = "submission_metadata.yml"
CANVAS_NAME = re.compile(r"^(?P<login>[^_]+)(?P<late>_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
CANVAS_RESUBMISSION = re.compile(r"^(?P<stem>.+)-\d+(?P<suffix>\.[^.]+)$")
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")


class LayoutError(ValueError):
    """The class folder does not look like the layout asked for (a one-line message)."""


@dataclass(frozen=True)
class Student:
    """Who an entry belongs to, as far as the LMS's download says."""

    id: str | None = None  # Canvas user id, Moodle participant id, Gradescope SID
    name: str | None = None  # the full name, when the download gives it
    email: str | None = None
    late: bool | None = None  # None: the download does not say (Moodle's, usually Gradescope's)
    files: tuple[str, ...] = ()  # the files as the LMS named them

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "late": self.late, "files": list(self.files)}


@dataclass
class _Group:
    name: str
    student: Student
    sources: list[tuple[str, Path]] = field(default_factory=list)  # (name in the staged folder, source)


def detect_layout(directory: Path, names: Iterable[str] | None = None) -> str:
    """``gradescope``, ``moodle``, ``canvas`` or ``plain``, from the names directly under ``directory``."""
    names = sorted(names if names is not None else (p.name for p in Path(directory).iterdir()))
    visible = [name for name in names if not name.startswith(".")]
    if GRADESCOPE_METADATA in visible:
        return "gradescope"
    if visible and sum(bool(MOODLE_FOLDER.match(name)) for name in visible) * 2 > len(visible):
        return "moodle"
    if visible and sum(bool(CANVAS_NAME.match(name)) for name in visible) * 2 > len(visible):
        return "canvas"
    return "plain"


def arrange(entries: Sequence[Entry], *, directory: Path, layout: str, staging: Path) -> tuple[str, list[Entry]]:
    """The layout in force and one entry per submission (staged under ``staging`` where needed)."""
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    if layout == "auto":
        layout = detect_layout(directory, [entry.path.name for entry in entries])
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    if layout == "plain":
        return layout, _plain(entries, staging)
    paths = [path for entry in entries for path in entry.paths]  # names that collide as entries do not here
    if layout == "canvas":
        groups, others = _canvas(paths)
    elif layout == "moodle":
        groups, others = _moodle(paths)
    else:
        groups, others = _gradescope(directory, paths)
    rest = [entry for entry in entries if any(path in others for path in entry.paths)]
    return layout, _one_per_name(_stage_groups(groups, staging) + _plain(rest, staging))


def _one_per_name(entries: list[Entry]) -> list[Entry]:
    """Entries that ended up with the same name become one entry with all their paths: a conflict, reported."""
    by_name: dict[str, list[Entry]] = {}
    for entry in entries:
        by_name.setdefault(entry.name, []).append(entry)
    return [same[0] if len(same) == 1 else replace(same[0], paths=tuple(p for e in same for p in e.paths))
            for _, same in sorted(by_name.items())]


# ---------------------------------------------------------------- layouts


def _plain(entries: Sequence[Entry], staging: Path) -> list[Entry]:
    """Entries as they are; archives unpacked and named after their stem."""
    taken = {entry.name for entry in entries if not is_archive(entry.path)}
    result: list[Entry] = []
    for entry in entries:
        if len(entry.paths) > 1 or not is_archive(entry.path):
            result.append(entry)
            continue
        name = archive_stem(entry.path.name)
        name = name if name not in taken and name else entry.name
        taken.add(name)
        group = _Group(name, entry.student or Student(files=(entry.path.name,)), [(entry.path.name, entry.path)])
        result.extend(_stage_groups([group], staging))
    return result


def _canvas(paths: Sequence[Path]) -> tuple[list[_Group], set[Path]]:
    by_user: dict[str, _Group] = {}
    others: set[Path] = set()
    for path in paths:
        match = CANVAS_NAME.match(path.name)
        if match is None or not path.is_file():
            others.add(path)
            continue
        group = by_user.setdefault(match["user"], _Group(match["login"], Student(id=match["user"], late=False)))
        original = match["file"]
        resubmitted = CANVAS_RESUBMISSION.match(original)
        if resubmitted:
            original = resubmitted["stem"] + resubmitted["suffix"]
        group.sources.append((original, path))
        group.student = replace(group.student, late=group.student.late or bool(match["late"]),
                                files=(*group.student.files, path.name))
    return _unique_names(list(by_user.values())), others


def _moodle(paths: Sequence[Path]) -> tuple[list[_Group], set[Path]]:
    by_id: dict[str, _Group] = {}
    others: set[Path] = set()
    for path in paths:
        match = MOODLE_FOLDER.match(path.name)
        if match is None or not path.is_dir():
            others.add(path)
            continue
        group = by_id.setdefault(match["id"], _Group(match["name"], Student(id=match["id"], name=match["name"])))
        if match["plugin"] != "file":  # online text, comments: no code
            continue
        for file in _files_under(path):
            group.sources.append((file.relative_to(path).as_posix(), file))
        group.student = replace(group.student, files=(*group.student.files, path.name))
    return _unique_names(list(by_id.values())), others


def _gradescope(directory: Path, paths: Sequence[Path]) -> tuple[list[_Group], set[Path]]:
    import yaml  # only Gradescope's export needs it

    metadata_path = directory / GRADESCOPE_METADATA
    try:
        metadata = yaml.safe_load(metadata_path.read_text("utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LayoutError(f"{metadata_path}: cannot read Gradescope's metadata ({type(exc).__name__})") from None
    if not isinstance(metadata, dict):
        raise LayoutError(f"{metadata_path}: not Gradescope's submission metadata (expected a mapping)")
    groups: list[_Group] = []
    others: set[Path] = set()
    for path in paths:
        if path.name == GRADESCOPE_METADATA:
            continue
        record = metadata.get(path.name)
        if not path.is_dir() or not isinstance(record, dict):
            others.add(path)
            continue
        submitters = [s for s in record.get(":submitters") or record.get("submitters") or [] if isinstance(s, dict)]
        first = submitters[0] if submitters else {}

        def field_of(key: str) -> str | None:
            value = first.get(f":{key}", first.get(key))
            return None if value is None else str(value)

        name = field_of("name") or path.name
        student = Student(id=field_of("sid"), name=field_of("name"), email=field_of("email"),
                          late=_late(record), files=(path.name,))
        groups.append(_Group(name, student, [(f.relative_to(path).as_posix(), f) for f in _files_under(path)]))
    return _unique_names(groups), others


def _late(record: dict[str, Any]) -> bool | None:
    value = record.get(":late?", record.get("late"))
    return None if value is None else bool(value)


# ---------------------------------------------------------------- staging


def _files_under(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (symbolic links and hidden names left out), sorted."""
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") or part == "__MACOSX" for part in relative.parts):
            continue
        if path.is_file() and not path.is_symlink() and not any(p.is_symlink() for p in path.parents
                                                                if folder in p.parents):
            found.append(path)
    return found


def _unique_names(groups: list[_Group]) -> list[_Group]:
    """Give students who share a display name their id as a suffix (``alice_1001``)."""
    counts: dict[str, int] = {}
    for group in groups:
        counts[group.name] = counts.get(group.name, 0) + 1
    for group in groups:
        if counts[group.name] > 1 and group.student.id:
            group.name = f"{group.name}_{group.student.id}"
    return groups


def _stage_groups(groups: Sequence[_Group], staging: Path) -> list[Entry]:
    """Copy (or unpack) each group's files into ``staging/<name>/``; a refused archive becomes the entry's reason."""
    from .run import Entry

    entries = []
    for group in sorted(groups, key=lambda g: g.name):
        name = _folder_name(group.name)
        folder = staging / name
        refused = None
        try:
            _stage(group, folder)
        except ArchiveError as exc:
            refused = f"refused: {exc}"
        except OSError as exc:
            refused = f"cannot copy the submitted files ({exc.strerror or exc})"
        entries.append(Entry(name, (folder,), student=group.student, refused=refused))
    return entries


def _folder_name(name: str) -> str:
    """A name usable as one folder name (and thus a report name): no separators, no leading dot."""
    clean = "".join(ch if ch.isprintable() and ch not in "/\\\0" else "_" for ch in name).strip()
    clean = clean.lstrip(".") or "unnamed"
    return clean[:120]


def _stage(group: _Group, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    total = sum(source.stat().st_size for _, source in group.sources)
    if total > MAX_BYTES or len(group.sources) > MAX_FILES:
        raise ArchiveError(f"{len(group.sources)} file(s), {total >> 20} MiB: more than a submission may hold "
                           f"({MAX_FILES} files, {MAX_BYTES >> 20} MiB)")
    for index, (name, source) in enumerate(group.sources):
        if is_archive(source):
            unpacked = folder.parent / f".{folder.name}.{index}"
            try:
                unpack(source, unpacked)
                inner = submission_root(unpacked)
                for child in sorted(inner.iterdir()):
                    target = folder / child.name
                    if target.exists():
                        raise ArchiveError(f"{child.name} appears twice in {source.name}")
                    shutil.move(str(child), str(target))
            except ArchiveError as exc:
                raise ArchiveError(f"{source.name}: {exc}") from None
            finally:
                shutil.rmtree(unpacked, ignore_errors=True)
            continue
        target = folder.joinpath(*Path(name).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target, follow_symlinks=False)
