"""Strings from files made safe to show on a terminal (no Rich, no Textual here).

A manifest, a settings file, a model file or a folder name may hold control characters:
``ESC ] 52`` sets the clipboard, ``ESC ] 0`` the window title, a bidi override reorders what
is read. :func:`visible` is the one place that turns them into escapes a reader can see
(``\\x1b``, ``\\u202e``), for the CLI and the TUI alike.
"""

from __future__ import annotations

import re

_OTHERS = ("\x7f-\x9f"  # DEL, C1 (CSI, OSC …)
           "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, overrides, isolates
           "\u2028\u2029")  # line and paragraph separators
_INVISIBLE = re.compile(f"[\x00-\x1f{_OTHERS}]")  # C0 too: ESC, BEL, newline, tab …
_INVISIBLE_IN_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")  # newline, tab kept


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``str(text)`` with every control character shown as an escape (``\\x1b``, ``\\n``
    as ``\\x0a``), so a string from a file is one inert line on any terminal."""
    return _INVISIBLE.sub(_escape, str(text))


def visible_lines(text: object) -> str:
    """:func:`visible` but newlines and tabs kept: for a message of several lines."""
    return _INVISIBLE_IN_LINES.sub(_escape, str(text))
