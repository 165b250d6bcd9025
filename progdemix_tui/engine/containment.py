"""Whether a path named by a file someone else wrote stays inside its folder."""

from __future__ import annotations

from pathlib import Path


def resolved_inside(path: Path, folder: Path) -> Path | None:
    """``path`` with symlinks resolved if it is ``folder`` or lies inside it; ``None`` when it
    leads out (absolute, ``..``, a link elsewhere) or cannot be resolved (a symlink loop)."""
    try:
        resolved, root = Path(path).resolve(), Path(folder).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop before Python 3.13
        return None
    return resolved if resolved == root or resolved.is_relative_to(root) else None
