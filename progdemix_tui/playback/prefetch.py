"""Chunked read-ahead so the audio callback never waits on disk or DSP in the common case.

:class:`ChunkCache` splits a source into fixed chunks and keeps the few most recently used;
the callback asks it for frames, and on first touching a chunk it queues the next one for
:class:`Prefetcher`, a single background thread that fills caches. A chunk missing when the
callback needs it (after a seek the control thread did not warm) is read synchronously, so the
output is always the exact samples, at the risk of one late block; ``misses`` counts those.
"""

from __future__ import annotations

import contextlib
import queue
import threading

import numpy as np

from ..lru import LRU
from .sources import Source


class ChunkCache:
    """A read-through LRU cache of ``chunk``-frame blocks of ``source`` (thread-safe)."""

    def __init__(self, source: Source, chunk: int = 32768, keep: int = 6,
                 prefetcher: Prefetcher | None = None) -> None:
        self.source = source
        self.samplerate, self.channels, self.frames = source.samplerate, source.channels, source.frames
        self.chunk = chunk
        self.prefetcher = prefetcher
        self.misses = 0
        self._chunks: LRU[int, np.ndarray] = LRU(keep)
        self._lock = threading.Lock()  # guards _chunks only; never held during IO

    def _get(self, index: int, count_miss: bool) -> np.ndarray:
        with self._lock:
            data = self._chunks.get(index)
            if data is not None:
                return data
        if count_miss:
            self.misses += 1
        data = self.source.read(index * self.chunk, self.chunk)
        with self._lock:
            self._chunks.put(index, data)
        if self.prefetcher is not None:
            self.prefetcher.request(self, index + 1)
        return data

    def has(self, index: int) -> bool:
        with self._lock:
            return index in self._chunks

    def fill(self, index: int) -> None:
        """Load chunk ``index`` if absent (prefetch thread or control thread)."""
        if 0 <= index * self.chunk < self.frames and not self.has(index):
            self._get(index, count_miss=False)

    def warm(self, start: int, frames: int | None = None) -> None:
        """Load the chunks covering ``[start, start+frames)`` (default: two chunks) now."""
        frames = 2 * self.chunk if frames is None else frames
        for index in range(max(start, 0) // self.chunk, max(start + frames - 1, 0) // self.chunk + 1):
            self.fill(index)

    def read(self, start: int, frames: int) -> np.ndarray:
        """``[frames, channels]`` float32 at ``[start, start+frames)``, zero outside the signal."""
        out = np.zeros((frames, self.channels), dtype=np.float32)
        lo, hi = max(start, 0), min(start + frames, self.frames)
        pos = lo
        while pos < hi:
            index, offset = divmod(pos, self.chunk)
            n = min(self.chunk - offset, hi - pos)
            out[pos - start:pos - start + n] = self._get(index, count_miss=True)[offset:offset + n]
            pos += n
        return out


class Prefetcher:
    """One daemon thread that loads requested chunks in the background."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[ChunkCache, int] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audio-prefetch", daemon=True)
        self._thread.start()

    def request(self, cache: ChunkCache, index: int) -> None:
        """Queue chunk ``index`` of ``cache`` (non-blocking, safe from the audio callback)."""
        self._queue.put((cache, index))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            cache, index = item
            with contextlib.suppress(Exception):  # a failed prefetch: read in the callback
                cache.fill(index)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=2.0)
