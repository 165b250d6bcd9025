"""What a batch of inputs means: audio files, folders of songs, MUSDB-style track folders.

:func:`expand_inputs` turns the paths given to ``run`` into one input per session: a file is
itself; a folder with a ``mixture`` file is one track; any other folder gives its audio files
and its track sub-folders (not deeper; with ``recursive``, every level below, symbolic links
to folders not followed), sorted by name. Nothing is decoded here. :func:`finished_session`
finds a finished session of an input run with the same parameters (``--skip-existing``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .audio import AUDIO_EXTENSIONS
from .decode import FFMPEG_EXTENSIONS
from .errors import AudioInputError
from .tracks import find_stem

SONG_EXTENSIONS = AUDIO_EXTENSIONS + FFMPEG_EXTENSIONS
MAX_INPUTS = 10_000  # a batch is a list of paths in memory; bounded all the same


def expand_inputs(paths: list[str] | list[Path], recursive: bool = False) -> list[Path]:
    """One input per session, in order, duplicates dropped; ``recursive``: folders are
    searched at every depth (track folders are not entered).

    Raises :class:`AudioInputError` (one line) for a path that does not exist, a folder
    with nothing to separate, or more than :data:`MAX_INPUTS` inputs.
    """
    out: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        for item in (_expand_recursive(path) if recursive and path.is_dir()
                     and find_stem(path, "mixture") is None else _expand(path)):
            out[item] = None
            if len(out) > MAX_INPUTS:
                raise AudioInputError(f"more than {MAX_INPUTS} inputs; run the batch in parts.")
    return list(out)


def _expand_recursive(path: Path) -> list[Path]:
    """Songs and track folders at every depth under ``path``, sorted; links not followed."""
    found: list[Path] = []
    try:
        for top, folders, _files in os.walk(path, onerror=_raise):
            folders.sort()
            here = Path(top)
            for child in sorted(here.iterdir()):
                if child.is_symlink() and child.is_dir():
                    continue
                if _is_input(child):
                    found.append(child)
            # track folders are inputs, not places to look further
            folders[:] = [f for f in folders if find_stem(here / f, "mixture") is None]
    except OSError as exc:
        raise AudioInputError(f"{path}: cannot be read ({exc.strerror}); check the path and "
                              "its permissions.") from None
    if not found:
        raise AudioInputError(f"{path} holds no audio files ({', '.join(SONG_EXTENSIONS)}) or "
                              "track folders at any depth; give songs to run.")
    return found


def _is_input(child: Path) -> bool:
    """A song file (not hidden) or a MUSDB-style track folder."""
    return ((child.is_file() and child.suffix.lower() in SONG_EXTENSIONS
             and not child.name.startswith("."))
            or (child.is_dir() and find_stem(child, "mixture") is not None))


def _raise(exc: OSError) -> None:
    raise exc


def finished_session(parent: Path, source: Path, config: dict, start: float,
                     model: str) -> Path | None:
    """A session under ``parent`` that finished (complete or converged) on ``source`` with
    this ``config`` (:meth:`RunConfig.to_dict`), ``start`` and ``model``; None if there is
    none. Unreadable folders are passed over."""
    from .config import upgrade_config_dict
    from .errors import ProgdemixError
    from .session import open_session

    mixture = find_stem(source, "mixture") if source.is_dir() else source
    if mixture is None or not parent.is_dir():
        return None
    wanted = mixture.resolve()
    config = json.loads(json.dumps(config))
    for folder in sorted(parent.iterdir()):
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            session = open_session(folder)
            info = session.manifest.get("input", {})
            if (session.status in ("complete", "converged")
                    and Path(str(info.get("path"))).resolve() == wanted
                    and info.get("start") == start
                    and upgrade_config_dict(session.manifest["config"]) == config
                    and session.manifest.get("model", {}).get("name") == model):
                return folder
        except (ProgdemixError, OSError, KeyError, TypeError):
            continue
    return None


def _expand(path: Path) -> list[Path]:
    try:
        if not path.is_dir():
            return [path]  # a file, or a missing path whose run then says what is wrong
        if find_stem(path, "mixture") is not None:
            return [path]
        found = [child for child in sorted(path.iterdir()) if _is_input(child)]
    except OSError as exc:
        raise AudioInputError(f"{path}: cannot be read ({exc.strerror}); check the path and "
                              "its permissions.") from None
    if not found:
        raise AudioInputError(f"{path} is a folder without mixture.wav/.flac, audio files "
                              f"({', '.join(SONG_EXTENSIONS)}) or track folders; give "
                              "songs to run.")
    return found
