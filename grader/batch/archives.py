"""Unpack a submitted ``.zip`` or ``.tar.gz`` safely, or refuse it with a one-line reason.

An archive comes from a student and is read as hostile. Before anything is
written, every member is vetted: no absolute path, no ``..``, no link or
device, at most :data:`MAX_FILES` files. While writing, sizes are counted
from the bytes actually decompressed (never from the headers), so a zip
bomb stops at :data:`MAX_BYTES` in total or at a compression ratio above
:data:`MAX_RATIO`. Any refusal removes what was written and raises
:class:`ArchiveError`; nothing is ever written outside the destination.

After unpacking, :func:`submission_root` looks through a single top folder
(``hw2/numpy_net.py`` in ``hw2.zip``) and ignores macOS's ``__MACOSX``.
"""

from __future__ import annotations

import gzip
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")
MAX_FILES = 200
MAX_BYTES = 50 << 20  # decompressed, over all members
MAX_RATIO = 200  # decompressed / compressed, for members larger than RATIO_FLOOR
RATIO_FLOOR = 1 << 20
_CHUNK = 1 << 16
_IGNORED_TOP = {"__MACOSX"}


class ArchiveError(ValueError):
    """The archive was refused (a one-line reason, without the destination's path)."""


@dataclass(frozen=True)
class _Member:
    name: PurePosixPath
    is_dir: bool
    compressed: int  # bytes in the archive (0 for a tar: compression is over the whole stream)
    open: object  # () -> binary stream


def is_archive(path: Path) -> bool:
    """Whether ``path``'s name says it is an archive this module unpacks."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def archive_stem(name: str) -> str:
    """``hw2.tar.gz`` → ``hw2``."""
    lowered = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def unpack(archive: Path, destination: Path) -> None:
    """Unpack ``archive`` into the (new or empty) folder ``destination``, or raise :class:`ArchiveError`."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                _extract(list(_zip_members(bundle)), destination)
        else:
            _check_gzip_size(archive)  # a tar is read whole to list its members: bound that first
            with tarfile.open(archive, mode="r:gz") as bundle:
                _extract(list(_tar_members(bundle)), destination)
    except ArchiveError:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, NotImplementedError) as exc:
        shutil.rmtree(destination, ignore_errors=True)
        raise ArchiveError(f"not a readable archive ({type(exc).__name__}: {_short(exc)})") from None


def submission_root(folder: Path) -> Path:
    """``folder``, or its only subfolder when that is all it holds (hidden names and ``__MACOSX`` aside)."""
    visible = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name not in _IGNORED_TOP]
    if len(visible) == 1 and visible[0].is_dir() and not visible[0].is_symlink():
        return visible[0]
    return folder


# ---------------------------------------------------------------- reading members


def _zip_members(bundle: zipfile.ZipFile) -> Iterator[_Member]:
    for info in bundle.infolist():
        name = _safe_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{_show(info.filename)} is a symbolic link; archives may hold only files and folders")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ArchiveError(f"{_show(info.filename)} is not a regular file")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{_show(info.filename)} is encrypted")
        yield _Member(name, info.is_dir(), info.compress_size,
                      lambda info=info: bundle.open(info))


def _tar_members(bundle: tarfile.TarFile) -> Iterator[_Member]:
    for info in bundle.getmembers():
        name = _safe_name(info.name)
        if info.issym() or info.islnk():
            raise ArchiveError(f"{_show(info.name)} is a link (to {_show(info.linkname)}); "
                               "archives may hold only files and folders")
        if not (info.isfile() or info.isdir()):
            raise ArchiveError(f"{_show(info.name)} is not a regular file")
        yield _Member(name, info.isdir(), 0,
                      lambda info=info: bundle.extractfile(info))


def _safe_name(raw: str) -> PurePosixPath:
    """A member's relative path, or :class:`ArchiveError` for an absolute or escaping one."""
    text = raw.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise ArchiveError(f"{_show(raw)} is an absolute path")
    parts = [part for part in PurePosixPath(text).parts if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{_show(raw)} points outside the archive (..)")
    if not parts or any("\0" in part for part in parts):
        raise ArchiveError(f"{_show(raw)} is not a valid file name")
    return PurePosixPath(*parts)


def _check_gzip_size(archive: Path) -> None:
    with gzip.open(archive, "rb") as stream:
        size = 0
        while chunk := stream.read(_CHUNK * 16):
            size += len(chunk)
            if size > MAX_BYTES + (1 << 20):  # tar headers and padding on top of the files
                raise ArchiveError(f"unpacks to more than {MAX_BYTES >> 20} MiB (a zip bomb?)")


# ---------------------------------------------------------------- writing


def _extract(members: list[_Member], destination: Path) -> None:
    files = [m for m in members if not m.is_dir]
    if len(files) > MAX_FILES:
        raise ArchiveError(f"holds {len(files)} files, more than the {MAX_FILES} allowed")
    root = destination.resolve()
    written = 0
    for member in members:
        target = root.joinpath(*member.name.parts)
        if root not in target.parents:  # belt and braces: _safe_name already refused this
            raise ArchiveError(f"{_show(str(member.name))} points outside the archive")
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise ArchiveError(f"{_show(str(member.name))} appears twice")
        stream = member.open()  # type: ignore[operator]
        if stream is None:
            raise ArchiveError(f"{_show(str(member.name))} cannot be read")
        written += _copy_limited(stream, target, member, already=written)


def _copy_limited(stream: IO[bytes], target: Path, member: _Member, *, already: int) -> int:
    size = 0
    with stream, open(target, "xb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if already + size > MAX_BYTES:
                raise ArchiveError(f"unpacks to more than {MAX_BYTES >> 20} MiB (a zip bomb?)")
            if member.compressed and size > RATIO_FLOOR and size > MAX_RATIO * member.compressed:
                raise ArchiveError(f"{_show(str(member.name))} expands more than {MAX_RATIO} times (a zip bomb?)")
            out.write(chunk)
    return size


def _show(name: str) -> str:
    """A member name fit for a one-line message: printable and short."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in name)
    return repr(clean[:80] + ("…" if len(clean) > 80 else ""))


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
