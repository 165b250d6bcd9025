"""Log-frequency spectrograms of stored audio, for the TUI's spectrogram view.

numpy only (no torch, no Textual). Memory is bounded whatever the length: at most
:data:`MAX_FRAMES` frames (the hop grows for long audio) and the STFT runs in blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

N_FFT = 2048
MIN_HOP = 512
MAX_FRAMES = 4096
BANDS = 96
LOW_HZ = 30.0
FLOOR_DB = -150.0


@dataclass(frozen=True)
class Spectrogram:
    """``db[band, frame]``: power (dB full scale) of the mono mix-down in log-spaced bands
    (``edges_hz[band]`` to ``edges_hz[band + 1]``, band 0 lowest), one frame per ``hop``
    seconds."""

    db: np.ndarray
    hop: float
    edges_hz: np.ndarray

    @property
    def duration(self) -> float:
        return self.db.shape[1] * self.hop


def spectrogram(data: Any, rate: int, bands: int = BANDS) -> Spectrogram:
    """The log-frequency spectrogram of ``data`` ``[channels, time]`` at ``rate``."""
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2 or x.shape[-1] == 0:
        raise ValueError(f"audio of shape {x.shape} is not [channels, time] with samples")
    mono = x.mean(axis=0)
    n = mono.shape[0]
    hop = max(MIN_HOP, math.ceil(n / MAX_FRAMES))
    frames = max(1, math.ceil(n / hop))
    padded = np.concatenate([np.zeros(N_FFT // 2), mono, np.zeros(N_FFT + hop)])
    window = np.hanning(N_FFT)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / rate)
    edges = np.geomspace(LOW_HZ, rate / 2, bands + 1)
    # each band: the FFT bins inside it, or the nearest bin where a low band holds none
    index = np.clip(np.searchsorted(freqs, edges), 1, len(freqs) - 1)
    lo, hi = index[:-1], np.maximum(index[1:], index[:-1] + 1)
    power = np.empty((bands, frames))
    block = 256
    for start in range(0, frames, block):
        count = min(block, frames - start)
        starts = (start + np.arange(count)) * hop
        chunk = padded[starts[:, None] + np.arange(N_FFT)[None, :]] * window
        spec = np.abs(np.fft.rfft(chunk, axis=1)) ** 2 / (window.sum() ** 2 / 4)
        cum = np.concatenate([np.zeros((count, 1)), np.cumsum(spec, axis=1)], axis=1)
        power[:, start:start + count] = ((cum[:, hi] - cum[:, lo]) / (hi - lo)).T
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(power)
    db = np.where(np.isfinite(db), np.maximum(db, FLOOR_DB), FLOOR_DB)
    return Spectrogram(db, hop / rate, edges)
