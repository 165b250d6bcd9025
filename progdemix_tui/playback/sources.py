"""Audio sources the player reads from: arrays in memory, files on disk, and resampled views.

A source is a read-only, random-access signal of ``frames`` frames at ``samplerate`` Hz.
``read(start, frames)`` returns ``[frames, channels]`` float32 (time first, as PortAudio wants)
and is zero outside ``[0, self.frames)``. All sources are safe to read from several threads.

Files are read lazily with ``soundfile`` (``seek`` + ``read`` of the requested block, under a
per-file lock): a session is never loaded whole into RAM. The player does not read files from
the audio callback directly: it goes through :class:`~progdemix_tui.playback.prefetch.ChunkCache`,
which a background thread fills ahead of the playhead.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf


class Source:
    """Base class. Subclasses set ``samplerate``, ``channels``, ``frames``, implement ``_read``."""

    samplerate: int
    channels: int
    frames: int
    #: True when ``read`` is cheap enough for the audio callback (no IO, no DSP).
    realtime_safe = False

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.samplerate

    def read(self, start: int, frames: int) -> np.ndarray:
        """Frames ``[start, start+frames)`` as ``[frames, channels]`` float32, zero-padded."""
        out = np.zeros((frames, self.channels), dtype=np.float32)
        lo, hi = max(start, 0), min(start + frames, self.frames)
        if hi > lo:
            out[lo - start:hi - start] = self._read(lo, hi - lo)
        return out

    def _read(self, start: int, frames: int) -> np.ndarray:
        """Frames inside the signal: ``0 <= start``, ``start + frames <= self.frames``."""
        raise NotImplementedError

    def read_all(self) -> np.ndarray:
        """The whole signal, ``[frames, channels]`` float32 (for loudness and export only)."""
        return self.read(0, self.frames)


class MemorySource(Source):
    """A signal held in memory: numpy or torch ``[channels, time]`` (or ``[time]`` for mono)."""

    realtime_safe = True

    def __init__(self, data: Any, samplerate: int) -> None:
        if hasattr(data, "detach"):  # a torch tensor
            data = data.detach().cpu().numpy()
        arr = np.asarray(data, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] == 0:
            raise ValueError(f"audio must be [channels, time] with time > 0, got {arr.shape}")
        self._data = np.ascontiguousarray(arr.T)  # [time, channels]
        self.samplerate = int(samplerate)
        self.frames, self.channels = self._data.shape

    def _read(self, start: int, frames: int) -> np.ndarray:
        return self._data[start:start + frames]


class FileSource(Source):
    """An audio file read block by block with ``soundfile`` (never loaded whole)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file = sf.SoundFile(str(self.path))
        except (OSError, RuntimeError, sf.LibsndfileError) as exc:
            raise ValueError(f"cannot open audio file {self.path}: {exc}") from exc
        self.samplerate = int(self._file.samplerate)
        self.channels = int(self._file.channels)
        self.frames = int(self._file.frames)
        if self.frames <= 0:
            raise ValueError(f"audio file {self.path} is empty")
        self._lock = threading.Lock()

    def _read(self, start: int, frames: int) -> np.ndarray:
        with self._lock:
            self._file.seek(start)
            data = self._file.read(frames, dtype="float32", always_2d=True)
        if len(data) < frames:  # a truncated file: pad rather than fail mid-play
            data = np.pad(data, ((0, frames - len(data)), (0, 0)))
        return data

    def close(self) -> None:
        with self._lock:
            self._file.close()


class ResampledSource(Source):
    """``source`` resampled to ``samplerate`` with julius (windowed sinc), block by block.

    Each read resamples the requested span plus ``context`` input frames on both sides and
    trims them, so consecutive reads join seamlessly (identical to resampling the whole signal
    away from its ends). Costs a few ms per 30k frames: read it through a ChunkCache.
    """

    def __init__(self, source: Source, samplerate: int) -> None:
        self.source = source
        self.samplerate = int(samplerate)
        self.channels = source.channels
        self.frames = source.frames * self.samplerate // source.samplerate  # as julius
        g = math.gcd(source.samplerate, self.samplerate)
        self._old, self._new = source.samplerate // g, self.samplerate // g
        self._context = self._old * max(1, math.ceil(64 / self._old))  # input frames, >= 64

    def read(self, start: int, frames: int) -> np.ndarray:
        import julius
        import torch

        old, new = self._old, self._new
        first = (start // new) * new            # align to a whole resampling period
        last = -(-(start + frames) // new) * new
        in_lo = first // new * old - self._context
        in_hi = last // new * old + self._context
        x = self.source.read(in_lo, in_hi - in_lo)  # [time, channels]
        y = julius.resample_frac(torch.from_numpy(x.T.copy()), old, new)
        skip = self._context // old * new + (start - first)
        y = y[:, skip:skip + frames].numpy().T
        out = np.ascontiguousarray(y, dtype=np.float32)
        if start + frames > self.frames:  # exact zeros past the end
            out[max(self.frames - start, 0):] = 0.0
        if start < 0:
            out[:min(-start, frames)] = 0.0
        return out


def as_source(data: Any, samplerate: int | None = None) -> Source:
    """A :class:`Source` from a Source, a file path, or a ``[channels, time]`` array/tensor."""
    if isinstance(data, Source):
        return data
    if isinstance(data, str | Path):
        return FileSource(data)
    if samplerate is None:
        raise ValueError("samplerate is required for in-memory audio")
    return MemorySource(data, samplerate)


def at_rate(source: Source, samplerate: int) -> Source:
    """``source`` itself if already at ``samplerate``, else a :class:`ResampledSource`."""
    if source.samplerate == samplerate:
        return source
    return ResampledSource(source, samplerate)
