"""What a batch of inputs means: audio files, folders of songs, MUSDB-style track folders.

:func:`expand_inputs` turns the paths given to ``run`` into one input per session: a file is
itself; a folder with a ``mixture`` file is one track; any other folder gives its audio files
and its track sub-folders (not deeper), sorted by name. Nothing is decoded here.
"""

from __future__ import annotations

from pathlib import Path

from .audio import AUDIO_EXTENSIONS
from .decode import FFMPEG_EXTENSIONS
from .errors import AudioInputError
from .tracks import find_stem

SONG_EXTENSIONS = AUDIO_EXTENSIONS + FFMPEG_EXTENSIONS
MAX_INPUTS = 10_000  # a batch is a list of paths in memory; bounded all the same


def expand_inputs(paths: list[str] | list[Path]) -> list[Path]:
    """One input per session, in order, duplicates dropped.

    Raises :class:`AudioInputError` (one line) for a path that does not exist, a folder
    with nothing to separate, or more than :data:`MAX_INPUTS` inputs.
    """
    out: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        for item in _expand(path):
            out[item] = None
            if len(out) > MAX_INPUTS:
                raise AudioInputError(f"more than {MAX_INPUTS} inputs; run the batch in parts.")
    return list(out)


def _expand(path: Path) -> list[Path]:
    try:
        if not path.is_dir():
            return [path]  # a file, or a missing path whose run then says what is wrong
        if find_stem(path, "mixture") is not None:
            return [path]
        found = [child for child in sorted(path.iterdir())
                 if (child.is_file() and child.suffix.lower() in SONG_EXTENSIONS
                     and not child.name.startswith("."))
                 or (child.is_dir() and find_stem(child, "mixture") is not None)]
    except OSError as exc:
        raise AudioInputError(f"{path}: cannot be read ({exc.strerror}); check the path and "
                              "its permissions.") from None
    if not found:
        raise AudioInputError(f"{path} is a folder without mixture.wav/.flac, audio files "
                              f"({', '.join(SONG_EXTENSIONS)}) or track folders; give "
                              "songs to run.")
    return found
