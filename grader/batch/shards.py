"""Shards: one class split over several machines, and the merge of their report folders.

``grader batch DIR --shard K/N`` grades only the entries that fall in slice
``K`` of ``N``. An entry's slice depends on its name alone (a SHA-256 of the
name), never on the order in which a file system lists a folder, so every
machine that sees the same folder agrees on who grades what, and an entry
stays in its slice when others are added or removed.

Each sharded run writes ``shard.json`` beside its reports: the shard, the
names of every entry of the folder (graded here or not) and the run's
``config_hash``. ``grader merge OUT_DIR SHARD_DIR...`` reads those folders,
refuses to mix runs of different configurations (rubric, cases, grader code,
versions), says which entries were graded twice or by no shard, and writes
the combined reports, gradebook and class summary into ``OUT_DIR``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "shard.json"
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class ShardError(ValueError):
    """A shard specification or a folder to merge is unusable (a one-line message)."""


@dataclass(frozen=True)
class Shard:
    """Slice ``index`` (1-based) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"2/3"`` → ``Shard(2, 3)``; anything else is a :class:`ShardError`."""
        match = _SPEC.fullmatch(text)
        if not match:
            raise ShardError(f"--shard: expected K/N (e.g. 2/3), not {text!r}")
        index, count = int(match[1]), int(match[2])
        if not 1 <= index <= count:
            raise ShardError(f"--shard: K/N needs 1 <= K <= N, not {text!r}")
        return cls(index, count)

    def holds(self, name: str) -> bool:
        """Whether the entry called ``name`` falls in this slice."""
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def write_manifest(output: Path, shard: Shard, *, names: list[str], graded: list[str], config: str) -> None:
    """Record what this shard is responsible for (``names`` is every entry of the folder)."""
    from ..report import write_atomically

    data = {"shard": str(shard), "config_hash": config, "entries": sorted(names), "responsible": sorted(graded)}
    write_atomically(Path(output) / MANIFEST, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@dataclass
class Merged:
    """The combined reports of several shard folders, and what did not add up."""

    reports: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # name -> report (None: graded by none)
    twice: dict[str, list[Path]] = field(default_factory=dict)  # name -> the folders that each graded it
    missing: list[str] = field(default_factory=list)  # entries of the class that no shard graded
    config: str | None = None

    @property
    def complete(self) -> bool:
        return not self.twice and not self.missing


def merge_folders(folders: list[Path]) -> Merged:
    """Read every shard folder; :class:`ShardError` for an empty, foreign or mismatched one."""
    if not folders:
        raise ShardError("merge: give at least one shard folder")
    manifests = [_manifest(Path(folder)) for folder in folders]
    configs = {manifest["config_hash"] for manifest in manifests}
    if len(configs) > 1:
        by_config = ", ".join(f"{folder} ({manifest['config_hash'][:12]})" for folder, manifest in zip(folders, manifests))
        raise ShardError(f"merge: the folders were graded with different rubrics, cases or grader versions: {by_config}")
    counts = {manifest["shard"].split("/")[1] for manifest in manifests}
    if len(counts) > 1:
        raise ShardError(f"merge: the folders split the class into different numbers of shards ({', '.join(sorted(counts))})")
    merged = Merged(config=configs.pop())
    everyone: set[str] = set()
    graded_by: dict[str, list[Path]] = {}
    for folder, manifest in zip(folders, manifests):
        everyone.update(manifest["entries"])
        for name in manifest["responsible"]:
            report = _read(Path(folder) / f"{name}.json")
            if report is None:
                continue
            if report.get("config_hash") not in (None, merged.config):
                raise ShardError(f"merge: {folder}/{name}.json was graded with another configuration than its folder")
            graded_by.setdefault(name, []).append(Path(folder))
            merged.reports.setdefault(name, report)
    merged.twice = {name: paths for name, paths in graded_by.items() if len(paths) > 1}
    merged.missing = sorted(everyone - set(graded_by))
    for name in merged.missing:
        merged.reports[name] = None
    merged.reports = dict(sorted(merged.reports.items()))
    return merged


def _manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise ShardError(f"merge: {folder}: not a folder")
    path = folder / MANIFEST
    if not path.exists():
        what = "is empty" if not any(folder.iterdir()) else "holds no shard.json"
        raise ShardError(f"merge: {folder} {what}: it is not the output of `grader batch --shard K/N`")
    data = _read(path)
    valid = (isinstance(data, dict) and isinstance(data.get("config_hash"), str)
             and isinstance(data.get("shard"), str) and _SPEC.fullmatch(data["shard"])
             and all(isinstance(data.get(key), list) and all(isinstance(n, str) for n in data[key])
                     for key in ("entries", "responsible")))
    if not valid:
        raise ShardError(f"merge: {path}: not a shard manifest written by grader batch")
    return data  # type: ignore[return-value]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
