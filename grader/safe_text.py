"""Make untrusted text safe to print or write: one helper for every boundary.

Text that came from a submission (a message, the line an error points at, a
type name, a file or folder name) is data. Before a terminal, a report, a
CSV, Markdown or HTML sees it, :func:`safe_text`:

- renders every invisible or dangerous character visibly, the way ``repr``
  does (``\\x1b``, ``\\n``, ``\\u202e``, ``\\ud800``): C0 and C1 control
  characters and DEL (so no ESC sequence reaches a terminal), lone surrogates
  (which cannot be encoded as UTF-8 and would stop a report from being
  written), bidirectional overrides and zero-width characters (which make a
  line read differently from what it holds), line and paragraph separators;
- caps the length, ending a cut text with ``…``.

The result is valid UTF-8 on one line, and applying it twice changes nothing.
:func:`safe_name` does the same for a file name, showing bytes that are not
UTF-8 as ``\\xff`` rather than as surrogates. Escaping for a format (HTML,
Markdown, CSV formulas, rich markup) stays with the writer of that format.
"""

from __future__ import annotations

import html
import os
import re

MAX_TEXT = 500  # characters of a message from student code
MAX_WHERE = 200  # characters of a location ("numpy_net.py, line 12, in relu")
MAX_NAME = 120  # characters of a name (a submission, a file, a type)
ELLIPSIS = "…"

# Characters that must never reach an output as they are (see the module docstring); tests search for them.
UNSAFE = re.compile(
    "["
    "\x00-\x1f\x7f-\x9f"  # C0 controls (ESC, CR, BS, NL, TAB...), DEL, C1 controls (CSI U+009B...)
    "\ud800-\udfff"  # surrogates: only ever lone in a str, and never encodable
    "\u00ad\u061c\u180e"  # soft hyphen, Arabic letter mark, Mongolian vowel separator
    "\u200b-\u200f"  # zero-width spaces and joiners, LRM, RLM
    "\u2028\u2029"  # line and paragraph separators
    "\u202a-\u202e\u2060-\u2064\u2066-\u2069"  # bidirectional embeddings, overrides and isolates; invisible operators
    "\ufeff\ufff9-\ufffb"  # zero-width no-break space, interlinear annotations
    "]"
)
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_text(value: object, limit: int = MAX_TEXT) -> str:
    """``value`` as one printable line of valid UTF-8, at most ``limit`` characters.

    Unsafe characters are written out as escapes (``"\\x1b[2J"`` becomes the
    seven characters ``\\x1b[2J``); a longer text is cut and ends with ``…``.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > 4 * limit + 16:  # escaping at most quadruples a character: no need to look further
        text = text[: 4 * limit + 16]
    text = UNSAFE.sub(_escape, text)
    if len(text) > limit:
        text = text[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS
    return text


def safe_lines(value: object, limit: int = 20_000) -> str:
    """Like :func:`safe_text` but keeps line breaks (a traceback for course staff); tabs become spaces."""
    text = value if isinstance(value, str) else str(value)
    lines = text[: 4 * limit + 16].replace("\t", "    ").split("\n")
    text = "\n".join(UNSAFE.sub(_escape, line) for line in lines)
    if len(text) > limit:
        text = text[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS
    return text


def safe_name(name: str | bytes | os.PathLike[str], limit: int = MAX_NAME) -> str:
    """A file or folder name as safe text: bytes that are not UTF-8 read ``\\xff``."""
    try:
        raw = os.fsencode(name)  # undoes the surrogates Python uses for undecodable bytes in names
    except UnicodeEncodeError:  # a str with other lone surrogates: not a name read from the disk
        return safe_text(os.fspath(name), limit=limit)
    return safe_text(raw.decode("utf-8", "backslashreplace"), limit=limit)


def safe_html(value: object, limit: int = 2000) -> str:
    """:func:`safe_text`, then HTML-escaped (quotes too): student text for a page."""
    return html.escape(safe_text(value, limit), quote=True)
