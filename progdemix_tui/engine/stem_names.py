"""The rule for stem (source) names: they become file names (``steps/NNN/<stem>.flac``,
export names), so a name from a model file or a manifest must be a plain name before anything
is built from it. One rule for the model loaders, the session writer and the session reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SOURCE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A plain stem name: letters, digits, ``_`` and ``-`` (no folder, no ``..``, no dot)."""
RESERVED = ("mixture",)
"""Names a session uses for its own files."""
MAX_SOURCES = 16


def stem_names_problem(sources: Iterable[object]) -> str | None:
    """Why ``sources`` cannot name a model's stems (one phrase), or None when they can."""
    names = list(sources)
    if not names or len(names) > MAX_SOURCES or len(set(map(str, names))) != len(names):
        return f"stems must be 1 to {MAX_SOURCES} distinct names"
    for name in names:
        if not isinstance(name, str) or not SOURCE_NAME.fullmatch(name) or name in RESERVED:
            shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."
            return (f"stem name {shown} is not allowed (letters, digits, '_' and '-', at most "
                    "64; no folders, no '..', not 'mixture')")
    return None
