"""Paths typed by a user or found on disk, handled without letting the OS's refusals escape.

A folder the user cannot list (``PermissionError``), a name longer than the file system
allows (``ENAMETOOLONG``), an unknown ``~user`` or an embedded NUL byte must become a line of
text in the app, never an exception in an event handler.
"""

from __future__ import annotations

from pathlib import Path

PATH_ERRORS = (OSError, ValueError, RuntimeError)
"""What asking the OS about a path can raise: ``OSError`` (permissions, names too long,
I/O errors), ``ValueError`` (an embedded NUL byte), ``RuntimeError`` (``~user`` unknown)."""


def expand(text: str | Path) -> Path:
    """``text`` as a path with ``~`` expanded; an unknown ``~user`` stays as typed."""
    path = Path(text)
    try:
        return path.expanduser()
    except RuntimeError:
        return path


def reason(exc: BaseException) -> str:
    """One short line saying why the OS refused: ``Permission denied``, ``File name too long``."""
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


def is_dir(path: Path) -> bool:
    """``path.is_dir()``, False where the OS refuses to say."""
    try:
        return path.is_dir()
    except PATH_ERRORS:
        return False


def is_file(path: Path) -> bool:
    """``path.is_file()``, False where the OS refuses to say."""
    try:
        return path.is_file()
    except PATH_ERRORS:
        return False
