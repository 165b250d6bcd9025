"""Strings from files made safe to show on a terminal (no Rich, no Textual here).

A manifest, a settings file, a model file or a folder name may hold control characters:
``ESC ] 52`` sets the clipboard, ``ESC ] 0`` the window title, a bidi override reorders what
is read. :func:`visible` is the one place that turns them into escapes a reader can see
(``\\x1b``, ``\\u202e``), for the CLI and the TUI alike.
"""

from __future__ import annotations

import re

_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0, DEL, C1 (ESC, CSI, OSC, BEL, newline, tab …)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\u2028\u2029]"  # line and paragraph separators
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``str(text)`` with every control character shown as an escape (``\\x1b``, ``\\n``
    as ``\\x0a``), so a string from a file is one inert line on any terminal."""
    return _INVISIBLE.sub(_escape, str(text))
