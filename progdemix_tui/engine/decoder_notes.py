"""Keeping a C decoder's own messages off the terminal.

libsndfile decodes MP3 with mpg123, which prints ``Note: Illegal Audio-MPEG-Header…`` lines
straight to file descriptor 2 for damaged frames, past Python and past ``-q``. While an MP3 is
opened or read, descriptor 2 points at a temporary file; what the decoder wrote there is then
logged (shown with ``-v``), and the error the tool raises says what went wrong in one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

NOISY_SUFFIXES = (".mp3", ".mp2", ".mpga")
"""Files libsndfile hands to mpg123."""
MAX_LOGGED = 2000
"""The most characters of decoder output logged per file."""

log = logging.getLogger(__name__)


@contextlib.contextmanager
def decoder_notes_hidden(path: Path) -> Iterator[None]:
    """Within the block, the decoder's writes to descriptor 2 are logged, not shown (MP3
    files only: other decoders are silent, and the redirection is process-wide)."""
    if path.suffix.lower() not in NOISY_SUFFIXES:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as notes:
        os.dup2(notes.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            notes.seek(0)
            text = notes.read(MAX_LOGGED).decode("utf-8", "replace").strip()
            if text:
                log.info("decoder notes for %s: %s", path, " | ".join(text.splitlines()))
