"""Leads for a human: submissions that are the same, or nearly, once surface changes are set aside.

Two measures, both over the submissions' Python source as the grader loads
it (a notebook's code cells only: outputs and metadata never count):

- **identical after normalisation**: comments, blank lines, indentation and
  spacing removed token by token (:func:`normalise`); entries with equal
  digests are grouped, whatever their names or file layout;
- **similar**: ``copydetect``'s winnowed fingerprints (k-grams of tokens with
  names and literals abstracted, as in MOSS), with every fingerprint of the
  starter template removed first: code the whole class was handed is not
  evidence. A pair is listed when the copied share of either side reaches
  the threshold.

Short solutions to the same exercise look alike by nature: these are pairs
to look at, never a verdict, and the class page says so.

The findings depend only on the files, not on any grade, so a batch looks
for copies while its workers grade (:func:`find_copies_meanwhile`): the
work then costs no time after the last report. ``copydetect`` is imported
without the plotting library it loads for its own HTML report
(:func:`_import_copydetect`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import itertools
import json
import keyword
import sys
import threading
import tokenize
import types
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..report import write_atomically
from ..submission import SubmissionError, load_submission

NOISE_TOKENS = 25  # copydetect's k: shorter matches are noise
SIMILARITY_THRESHOLD = 0.8
MIN_SHARED_FINGERPRINTS = 5
_SKIPPED_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                   tokenize.ENCODING, tokenize.ENDMARKER}


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    first_share: float  # the part of ``first``'s code (template aside) also found in ``second``
    second_share: float

    @property
    def share(self) -> float:
        return max(self.first_share, self.second_share)


@dataclass(frozen=True)
class CopyFindings:
    identical: tuple[tuple[str, ...], ...] = ()  # groups of entry names, each of 2 or more
    similar: tuple[SimilarPair, ...] = ()  # above the threshold, most similar first
    threshold: float = SIMILARITY_THRESHOLD
    compared: int = 0  # how many submissions took part

    def to_json(self) -> dict[str, Any]:
        return {"identical": [list(group) for group in self.identical],
                "similar": [asdict(pair) for pair in self.similar],
                "threshold": self.threshold, "compared": self.compared}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CopyFindings:
        return cls(identical=tuple(tuple(str(n) for n in group) for group in data.get("identical", [])),
                   similar=tuple(SimilarPair(str(p["first"]), str(p["second"]), float(p["first_share"]),
                                             float(p["second_share"])) for p in data.get("similar", [])),
                   threshold=float(data.get("threshold", SIMILARITY_THRESHOLD)),
                   compared=int(data.get("compared", 0)))


def normalise(source: str) -> str:
    """``source`` as its tokens separated by one space: comments and all layout gone.

    Runs of white space inside strings (docstrings) become one space too.

    Source that does not tokenize (a syntax error) falls back to its
    non-blank, comment-free lines with spaces removed.
    """
    tokens = _tokens(source)
    if tokens is None:
        lines = (line.split("#", 1)[0] for line in source.splitlines())
        return "\n".join("".join(line.split()) for line in lines if line.strip())
    return " ".join(" ".join(text.split()) if kind == tokenize.STRING else text for kind, text in tokens)


@lru_cache(maxsize=2048)
def _tokens(source: str) -> tuple[tuple[int, str], ...] | None:
    """The meaningful tokens of ``source`` (one tokenizer pass, shared by both measures); None if it does not tokenize."""
    try:
        return tuple((tok.type, tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                     if tok.type not in _SKIPPED_TOKENS)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None


def submission_sources(paths: Mapping[str, Path]) -> dict[str, str]:
    """Each loadable entry's Python source (its files in name order, joined); unloadable ones left out."""
    sources = {}
    for name, path in paths.items():
        try:
            submission = load_submission(path)
        except SubmissionError:
            continue
        sources[name] = "\n".join(submission.files[file].decode("utf-8", "replace")
                                  for file in sorted(submission.files) if file.endswith(".py"))
    return sources


def template_sources() -> list[str]:
    """The starter template's Python files, as handed out (its lines are not evidence)."""
    spec = importlib.util.find_spec("student_template")
    folders = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    return [path.read_text("utf-8") for folder in folders for path in sorted(folder.glob("*.py"))
            if path.name != "__init__.py"]


def find_copies(sources: Mapping[str, str], *, template: Iterable[str] = (),
                threshold: float = SIMILARITY_THRESHOLD) -> CopyFindings:
    """Identical groups and similar pairs among ``sources`` (entry name → Python source)."""
    digests = {name: _digest(sources[name]) for name in sorted(sources)}
    by_digest: dict[str, list[str]] = defaultdict(list)
    for name, digest in digests.items():
        by_digest[digest].append(name)
    template = list(template)
    template_digests = {_digest(text) for text in [*template, "\n".join(template)]}
    identical = tuple(tuple(names) for digest, names in sorted(by_digest.items(), key=lambda kv: kv[1])
                      if len(names) > 1 and digest not in template_digests)
    template_copies = {name for name, digest in digests.items() if digest in template_digests}
    same = {frozenset(pair) for group in identical for pair in itertools.combinations(group, 2)}
    similar = tuple(p for p in _similar(sources, template, threshold) if frozenset((p.first, p.second)) not in same
                    and not {p.first, p.second} & template_copies)
    return CopyFindings(identical=identical, similar=similar,
                        threshold=threshold, compared=len(sources))


def _digest(source: str) -> str:
    return hashlib.sha256(normalise(source).encode()).hexdigest()


def find_copies_meanwhile(paths: Mapping[str, Path]) -> Callable[[], CopyFindings]:
    """Start :func:`find_copies` over the entries ``paths`` (name → path) in a thread; call the result for the findings.

    The call waits for the thread and raises what it raised. The thread is a
    daemon: an interrupted batch does not wait for it.
    """
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append(find_copies(submission_sources(paths), template=template_sources()))
        except BaseException as exc:  # handed to whoever asks for the findings
            outcome.append(exc)

    thread = threading.Thread(target=work, name="find-copies", daemon=True)
    thread.start()

    def findings() -> CopyFindings:
        thread.join()
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    return findings


def _similar(sources: Mapping[str, str], template: Iterable[str], threshold: float) -> tuple[SimilarPair, ...]:
    import numpy as np

    copydetect = _import_copydetect()  # here, not at the top: only batch outputs need it
    CodeFingerprint, compare_files = copydetect.CodeFingerprint, copydetect.compare_files

    template = list(template)
    handed_out = [*template, "\n".join(template)]  # as separate files and as one (a notebook, a joined folder)
    boilerplate = np.unique(np.array(
        [h for text in handed_out if text for h in _fingerprint(CodeFingerprint, text, win_size=1).hashes],
        dtype=np.int64))
    prints = {}
    by_text: dict[str, Any] = {}  # identical files (the same code handed in twice) are fingerprinted once
    for name in sorted(sources):
        text = sources[name]
        if text not in by_text:
            try:
                by_text[text] = _fingerprint(CodeFingerprint, text, boilerplate=boilerplate)
            except Exception:  # an odd file must not stop the class page; it is just not compared
                by_text[text] = None
        if by_text[text] is not None:
            prints[name] = by_text[text]
    holders: dict[int, list[str]] = defaultdict(list)
    for name, fingerprint in prints.items():
        for value in fingerprint.hashes:
            holders[int(value)].append(name)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for names in holders.values():
        if len(names) <= 50:  # a fingerprint half the class shares says nothing about a pair
            for pair in itertools.combinations(names, 2):
                shared[pair] += 1
    pairs = []
    for (first, second), count in shared.items():
        if count < MIN_SHARED_FINGERPRINTS:
            continue
        _, (share1, share2), _ = compare_files(prints[first], prints[second])
        pair = SimilarPair(first, second, round(float(share1), 3), round(float(share2), 3))
        if pair.share >= threshold:
            pairs.append(pair)
    return tuple(sorted(pairs, key=lambda p: (-p.share, p.first, p.second)))


def _import_copydetect() -> types.ModuleType:
    """``copydetect``, imported without loading matplotlib.

    ``copydetect.detector`` imports ``matplotlib.pyplot`` when it loads, only
    to draw the HTML report of copydetect's own command line, which the
    grader never asks for. That import was most of the cost of finding
    copies: 0.7 to 0.9 s of the main process's CPU (0.2 s without it),
    spent while the workers start on the same cores. And where the home
    folder cannot be written (a service account, a container), matplotlib
    printed two lines of warnings about its configuration folder into the
    batch's progress.

    While copydetect loads, ``matplotlib`` and ``matplotlib.pyplot`` are
    empty placeholder modules; they leave ``sys.modules`` right after, so a
    later ``import matplotlib`` in this process gets the real one. Where
    matplotlib is already loaded, or a copydetect release does more with it
    at load time, copydetect is imported as it is.
    """
    if "copydetect" not in sys.modules and "matplotlib" not in sys.modules:
        placeholders = {"matplotlib": types.ModuleType("matplotlib"),
                        "matplotlib.pyplot": types.ModuleType("matplotlib.pyplot")}
        placeholders["matplotlib"].__path__ = []  # a package, as far as the import system cares
        placeholders["matplotlib"].pyplot = placeholders["matplotlib.pyplot"]  # type: ignore[attr-defined]
        sys.modules.update(placeholders)
        try:
            import copydetect  # noqa: F401
        except Exception:  # it wanted more of matplotlib than a name: imported with the real one, below
            pass
        finally:
            for name, placeholder in placeholders.items():
                if sys.modules.get(name) is placeholder:
                    del sys.modules[name]
    import copydetect  # loaded above (this only binds it), or now as it is

    return copydetect


def _fingerprint(cls: Any, text: str, *, win_size: int = 4, boilerplate: Any = None) -> Any:
    return cls("submission.py", NOISE_TOKENS, win_size, boilerplate=boilerplate, filter=False,
               fp=io.StringIO(abstract(text)))


def abstract(source: str) -> str:
    """``source`` as copydetect's filter sees code, from Python's own tokenizer (several times faster).

    Names become ``V``, strings ``S`` (docstrings included), comments and
    layout vanish; keywords, operators and numbers stay. Source that does
    not tokenize is kept as it is.
    """
    tokens = _tokens(source)
    if tokens is None:
        return source
    out = []
    for kind, text in tokens:
        if kind == tokenize.NAME and not keyword.iskeyword(text):
            out.append("V")
        elif kind == tokenize.STRING:
            out.append("S")
        else:
            out.append(text)
    return "".join(out)


def write_findings(path: Path, findings: CopyFindings) -> None:
    write_atomically(path, json.dumps(findings.to_json(), indent=2) + "\n")


def read_findings(path: Path) -> CopyFindings | None:
    try:
        return CopyFindings.from_json(json.loads(Path(path).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
