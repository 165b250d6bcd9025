"""Write audio clips to WAV atomically (:class:`~progdemix_tui.engine.files.atomic_path`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from progdemix_tui.engine.files import atomic_path


def write_wav_atomic(path: str | Path, data: np.ndarray, samplerate: int,
                     subtype: str = "FLOAT") -> Path:
    """Write ``data`` ``[frames, channels]`` float32 to ``path``; never leaves a partial file
    (:class:`~progdemix_tui.engine.errors.OutputError`, one line, when it cannot be written)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        sf.write(tmp, data, samplerate, subtype=subtype, format="WAV")
    return path


def edge_fade(data: np.ndarray, frames: int) -> np.ndarray:
    """``data`` ``[frames, channels]`` with raised-cosine fades of ``frames`` at both ends."""
    n = min(frames, len(data) // 2)
    if n <= 0:
        return data
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)[:, None]
    out = data.copy()
    out[:n] *= ramp
    out[len(out) - n:] *= ramp[::-1]
    return out
