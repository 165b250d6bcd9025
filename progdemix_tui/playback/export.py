"""Write audio clips to WAV atomically (a temp file in the same folder, then ``os.replace``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


def write_wav_atomic(path: str | Path, data: np.ndarray, samplerate: int,
                     subtype: str = "FLOAT") -> Path:
    """Write ``data`` ``[frames, channels]`` float32 to ``path``; never leaves a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp.wav", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp, data, samplerate, subtype=subtype, format="WAV")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
