"""The audition player: one output (:mod:`.outputs`: a sound card, the browser page), named
sources, instant A/B.

Threading rules
---------------
- Every public method may be called from any thread; each takes the player's lock for
  microseconds and never while waiting on the output device. The audio callback takes the same lock
  to render one block, so a request made between two callbacks takes effect at the start of
  the next block, at the same sample position (A/B keeps the position exactly).
- Reading files and computing loudness happen in the calling thread (before the lock) or in
  the prefetch thread, never under the lock in the common case.
- ``on_error(err)`` is called from the output's thread when the device is lost mid-play; a UI
  should forward it to its own thread (e.g. Textual's ``call_from_thread``).
- Device problems raise :class:`AudioUnavailable` from ``play()`` / ``set_device()`` and are
  kept in ``state.error``; nothing else in the player raises on a bad device.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .blind import BlindTest
from .errors import AudioUnavailable
from .export import edge_fade, write_wav_atomic
from .levels import LevelMatch, match_levels
from .levels import loudness as measure_loudness
from .mixer import Event, Mixer
from .outputs import Device, Output, OutputAbort, OutputRequest, open_output
from .prefetch import ChunkCache, Prefetcher
from .sources import Source, as_source, at_rate
from .state import PlayerState


class Player:
    """Play named sources through one output; switch between them without a click.

    ``device`` names the output (:func:`.outputs.open_output`: a sound card's index or name,
    None for the default one, ``web``/``web:PORT`` for the browser page).
    ``samplerate``: the audio's rate (positions are reported in it); default: the first
    source's. ``stream_samplerate``: force the device rate (default: the audio's; if the
    device refuses it, its own default rate, and sources are resampled with julius).
    ``crossfade``: seconds of every switch/seek/pause fade, and of the loop seam unless
    ``loop_crossfade`` is off (then loops repeat bit for bit, and the seam may click).
    ``blocksize`` frames per callback.
    """

    def __init__(self, samplerate: int | None = None, *, device: Device = None,
                 blocksize: int = 512, latency: float | str = "low", crossfade: float = 0.010,
                 channels: int = 2, stream_samplerate: int | None = None,
                 skip_seconds: float = 5.0, chunk_frames: int = 32768,
                 loop_crossfade: bool = True,
                 on_error: Callable[[AudioUnavailable], None] | None = None) -> None:
        if crossfade < 0:
            raise ValueError("crossfade must be >= 0")
        self._rate = samplerate
        self._device = device
        self._blocksize, self._latency, self._channels = blocksize, latency, channels
        self._stream_rate_wanted = stream_samplerate
        self._crossfade = crossfade
        self.skip_seconds = skip_seconds
        self._chunk = chunk_frames
        self.on_error = on_error
        self._lock = threading.Lock()          # mixer state; the audio callback holds it
        self._stream_lock = threading.RLock()  # stream open/start/stop/close
        self._sources: dict[str, Source] = {}
        srate = stream_samplerate or samplerate or 44100
        self._mixer = Mixer(srate, channels, round(crossfade * srate), loop_crossfade)
        self._prefetcher: Prefetcher | None = None
        self._stream: Output | None = None
        self._stream_dead = False
        self._expect_finish = False
        self._device_name: str | None = None  # the last output opened
        self._stopped = True
        self._idle = threading.Event()
        self._underruns = 0
        self._error: AudioUnavailable | None = None
        self._a: str | None = None
        self._b: str | None = None
        self._level_match = False
        self._levels: LevelMatch | None = None
        self._loudness: dict[str, float] = {}
        self._blind: BlindTest | None = None
        self.record_output = False  # an output that can, keeps a copy of the blocks sent (tests)

    # ================================================================ sources
    def add(self, name: str, data: Any, samplerate: int | None = None) -> Source:
        """Register (or replace) a source: a path (read lazily), a ``[channels, time]`` numpy
        array / torch tensor (``samplerate`` required), or a :class:`Source`. The first source
        added becomes the selected one."""
        source = as_source(data, samplerate)
        if self._rate is None:
            self._rate = source.samplerate
        reader = self._reader(source, self._mixer.rate)
        with self._lock:
            self._sources[name] = source
            self._mixer.readers[name] = reader
            self._loudness.pop(name, None)
            if self._mixer.source is None:
                self._mixer.source = name
        return source

    @property
    def sources(self) -> list[str]:
        return list(self._sources)

    def _reader(self, source: Source, rate: int) -> Any:
        src = at_rate(source, rate)
        if src.realtime_safe:
            return src
        if self._prefetcher is None:
            self._prefetcher = Prefetcher()
        cache = ChunkCache(src, self._chunk, prefetcher=self._prefetcher)
        with contextlib.suppress(Exception):  # a failing read is reported by the callback
            cache.warm(self._mixer.pos)
        return cache

    def _warm(self, pos: int, names: list[str | None]) -> None:
        """Load the chunks at ``pos`` now, so the callback finds them (best effort)."""
        for name in names:
            reader = self._mixer.readers.get(name) if name else None
            if isinstance(reader, ChunkCache):
                with contextlib.suppress(Exception):
                    reader.warm(pos)

    def _check(self, name: str) -> None:
        if name not in self._sources:
            raise KeyError(f"no source named {name!r} (have: {', '.join(self._sources)})")

    # ================================================================ device
    def set_device(self, device: Device) -> None:
        """Use another output device (index, name or None for the default); reopens the
        stream now if playing. Raises AudioUnavailable if it cannot be opened."""
        playing = self._mixer.playing
        self._close_stream()
        self._device = device
        if playing:
            self.play()

    def _ensure_stream(self) -> None:
        with self._stream_lock:
            if self._stream is not None and not self._stream_dead:
                return
            self._close_stream()
            request = OutputRequest(
                self._stream_rate_wanted or self._rate or 44100, self._channels,
                self._blocksize, self._latency, self._callback, self._finished,
                describe=self._now_playing, record=self.record_output)
            try:
                stream = open_output(self._device, request)
            except AudioUnavailable as exc:
                self._error = exc
                raise
            self._stream, self._stream_dead = stream, False
            self._device_name = stream.name
            self._retarget(int(stream.samplerate), int(stream.channels))

    def open_output(self) -> None:
        """Open the output now, without playing (a page's URL exists from here).
        Raises AudioUnavailable as :meth:`play` does."""
        self._ensure_stream()

    @property
    def output(self) -> Output | None:
        """The open output (None before :meth:`play` or :meth:`open_output`)."""
        return self._stream

    def _now_playing(self) -> dict[str, Any]:
        """What plays, for an output that shows it (a blind slot hides what it is)."""
        state = self.state
        blind = state.blind is not None and state.blind.revealed is None
        return {"playing": state.status == "playing", "blind": blind,
                "slot": state.source if blind else state.ab_side,
                "position": state.position, "duration": state.duration}

    def _retarget(self, rate: int, channels: int) -> None:
        """Move the mixer to the stream's rate/channels (resampling sources if needed)."""
        mixer = self._mixer
        if rate == mixer.rate and channels == mixer.channels:
            return
        readers = {name: self._reader(src, rate) for name, src in self._sources.items()}
        with self._lock:
            scale = rate / mixer.rate
            mixer.pos = round(mixer.pos * scale)
            if mixer.loop:
                mixer.loop = (round(mixer.loop[0] * scale), round(mixer.loop[1] * scale))
            mixer.rate, mixer.channels = rate, channels
            mixer.fade = round(self._crossfade * rate)
            mixer.tails.clear()
            mixer.readers = readers

    def _start_stream(self) -> None:
        with self._stream_lock:
            stream = self._stream
            if stream is None or stream.active:
                return
            try:
                stream.start()
            except AudioUnavailable as err:
                self._error = err
                self._close_stream()
                raise

    def _close_stream(self) -> None:
        with self._stream_lock:
            stream, self._stream = self._stream, None
            if stream is None:
                return
            self._expect_finish = True
            try:
                stream.abort() if self._stream_dead else stream.stop()
                stream.close()
            except Exception:  # a dead device may fail to close; nothing to do
                pass
            finally:
                self._expect_finish = False

    # --------------------------------------------------------- audio thread
    def _callback(self, outdata: np.ndarray, underflow: bool) -> None:
        if underflow:
            self._underruns += 1
        try:
            with self._lock:
                self._mixer.render(outdata)
                if not self._mixer.audible:
                    self._idle.set()
        except Exception as exc:  # a bug must not take the host app down
            outdata.fill(0)
            self._error = AudioUnavailable("stream_error", f"audio callback failed: {exc!r}")
            raise OutputAbort from exc

    def _finished(self) -> None:
        if self._expect_finish:
            return
        err = self._error or AudioUnavailable(
            "device_lost", "the audio device stopped while playing (unplugged, or its sound "
            "server went away)", "Press play to try again, or choose another output device")
        self._error = err
        self._stream_dead = True
        with self._lock:
            self._mixer.halt()
        self._idle.set()
        if self.on_error is not None:
            # the host's handler must not kill PortAudio's thread
            with contextlib.suppress(Exception):
                self.on_error(err)

    # ============================================================= transport
    def play(self) -> None:
        """Start or resume playback (fade in). Opens the device on first use; raises
        :class:`AudioUnavailable` if it cannot, and keeps it in ``state.error``."""
        t = time.monotonic()
        self._ensure_stream()
        self._error = None
        self._warm(self._mixer.pos, [self._mixer.source])
        with self._lock:
            self._idle.clear()
            self._mixer.play(t)
            self._stopped = False
        self._start_stream()

    def pause(self) -> None:
        """Fade out and hold the position (the stream keeps running, silent)."""
        with self._lock:
            self._mixer.pause()

    def toggle(self) -> None:
        """Play if paused/stopped, else pause."""
        if self._mixer.playing:
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        """Fade out, stop the stream (the device is released) and rewind to the loop start or 0."""
        with self._lock:
            self._mixer.pause()
            fading = self._mixer.audible
        stream = self._stream
        if fading and stream is not None and stream.active:
            block = self._blocksize / self._mixer.rate
            self._idle.wait(self._crossfade + 4 * block + 0.25)
        with self._stream_lock:
            if self._stream is not None:
                self._expect_finish = True
                try:
                    self._stream.stop()
                except Exception:  # a lost device: closed on next play()
                    self._stream_dead = True
                finally:
                    self._expect_finish = False
        with self._lock:
            m = self._mixer
            m.pos = m.loop[0] if m.loop else 0
            m.tails.clear()
            m.ended = False
            self._stopped = True

    def close(self) -> None:
        """Stop and release everything (stream, prefetch thread, open files)."""
        self.stop()
        self._close_stream()
        if self._prefetcher is not None:
            self._prefetcher.close()
            self._prefetcher = None
        for src in self._sources.values():
            close = getattr(src, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _frames(self, seconds: float) -> int:
        return round(seconds * self._mixer.rate)

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` (clamped to the audio), crossfading if playing."""
        pos = min(max(self._frames(seconds), 0), self._mixer.duration)
        self._warm(pos, [self._mixer.source, self._a, self._b])
        with self._lock:
            self._mixer.seek(pos, time.monotonic())

    def skip(self, seconds: float | None = None) -> None:
        """Seek relative to the position: ``+skip_seconds`` by default; negative goes back."""
        self.seek(self.position + (self.skip_seconds if seconds is None else seconds))

    def set_loop(self, start: float, end: float) -> None:
        """Loop ``[start, end)`` seconds (jumps to ``start`` if outside it); the seam is
        crossfaded unless the player was made with ``loop_crossfade=False``."""
        lo, hi = self._frames(start), min(self._frames(end), self._mixer.duration or 1 << 62)
        if not 0 <= lo < hi:
            raise ValueError(f"invalid loop region {start}..{end} s")
        self._warm(lo, [self._mixer.source, self._a, self._b])
        with self._lock:
            self._mixer.set_loop(lo, hi)

    def clear_loop(self) -> None:
        with self._lock:
            self._mixer.loop = None

    @property
    def volume(self) -> float:
        return self._mixer.volume

    @volume.setter
    def volume(self, value: float) -> None:
        """Linear gain 0..2, ramped over one block."""
        with self._lock:
            self._mixer.volume = float(min(max(value, 0.0), 2.0))

    @property
    def crossfade(self) -> float:
        return self._crossfade

    @crossfade.setter
    def crossfade(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("crossfade must be >= 0")
        with self._lock:
            self._crossfade = seconds
            self._mixer.fade = round(seconds * self._mixer.rate)

    # ================================================================ A / B
    def select(self, name: str) -> None:
        """Switch to source ``name`` at the same position (crossfade; no click)."""
        self._check(name)
        t = time.monotonic()
        self._warm(self._mixer.pos, [name])
        with self._lock:
            self._mixer.select(name, t)

    def set_ab(self, a: str, b: str, level_match: bool | None = None) -> None:
        """Mark sources ``a`` and ``b`` for A/B; ``level_match`` (if given) turns loudness
        matching on/off. Ends a running blind test."""
        self._check(a)
        self._check(b)
        self._blind = None
        self._a, self._b = a, b
        if level_match is not None:
            self._level_match = level_match
        self._apply_gains()

    def _apply_gains(self) -> None:
        gains = {name: 1.0 for name in self._sources}
        self._levels = None
        if self._level_match and self._a and self._b:
            self._levels = self._match(self._a, self._b)
            gains[self._a], gains[self._b] = self._levels.linear
        with self._lock:
            for name, g in gains.items():
                self._mixer.set_gain(name, g)

    @property
    def levels(self) -> LevelMatch | None:
        """The A/B level match playing (None while matching is off or A/B are not marked)."""
        return self._levels

    def loudness(self, name: str) -> float:
        """Integrated loudness of a source (LUFS, ITU-R BS.1770 via pyloudnorm; ``-inf``
        when undefined); cached."""
        if name not in self._loudness:
            src = self._sources[name]
            value = measure_loudness(src.read_all().T, src.samplerate)
            self._loudness[name] = float("-inf") if value is None else value
        return self._loudness[name]

    def _match(self, a: str, b: str) -> LevelMatch:
        sa, sb = self._sources[a], self._sources[b]
        la, lb = (value if np.isfinite(value := self.loudness(name)) else None
                  for name in (a, b))
        return match_levels(sa.read_all().T, sb.read_all().T, sa.samplerate, sb.samplerate,
                            measured=(la, lb))

    def match_gains(self, a: str, b: str) -> dict[str, float]:
        """Linear gains that give ``a`` and ``b`` the same level (:mod:`.levels`: loudness,
        RMS where it is undefined), attenuating only (so no clipping)."""
        gain_a, gain_b = self._match(a, b).linear
        return {a: gain_a, b: gain_b}

    def toggle_ab(self) -> None:
        """Switch between A and B (to A if neither is playing). Needs :meth:`set_ab`."""
        if self._a is None or self._b is None:
            raise ValueError("mark A and B first (set_ab)")
        if self._blind is not None:
            self.select_slot(self._blind.state().next_slot)
            return
        self.select(self._b if self._mixer.source == self._a else self._a)

    # ================================================================ blind
    def start_blind(self, mode: str = "abx", seed: int | None = None) -> BlindTest:
        """Start a blind test over A and B (see :mod:`~progdemix_tui.playback.blind`) and play
        its first slot."""
        if self._a is None or self._b is None:
            raise ValueError("mark A and B first (set_ab)")
        self._blind = BlindTest(self._a, self._b, mode, seed)
        self.select_slot(self._blind.slots[0])
        return self._blind

    def select_slot(self, slot: str) -> None:
        """Play a blind slot (``"A"``, ``"B"``, ``"X"`` or ``"1"``, ``"2"``)."""
        if self._blind is None:
            raise ValueError("no blind test running (start_blind)")
        self.select(self._blind.select(slot))

    def blind_answer(self, choice: str) -> bool | None:
        """Answer the current blind trial (see :meth:`BlindTest.answer`); the next trial
        starts at once and the current slot is re-resolved under the new draw."""
        if self._blind is None:
            raise ValueError("no blind test running (start_blind)")
        result = self._blind.answer(choice)
        self.select_slot(self._blind.slot)
        return result

    def reveal(self) -> dict[str, str]:
        """Reveal the current blind mapping ``slot -> source``."""
        if self._blind is None:
            raise ValueError("no blind test running (start_blind)")
        return self._blind.reveal()

    def stop_blind(self) -> None:
        self._blind = None

    # ================================================================ state
    @property
    def position(self) -> float:
        """Playhead in seconds (the start of the next block to render)."""
        with self._lock:
            return self._mixer.pos / self._mixer.rate

    @property
    def position_samples(self) -> int:
        """Playhead in samples of the audio's rate."""
        with self._lock:
            return self._to_samples(self._mixer.pos)

    def _to_samples(self, frames: int) -> int:
        rate = self._rate or self._mixer.rate
        return round(frames * rate / self._mixer.rate)

    @property
    def duration(self) -> float:
        return self._mixer.duration / self._mixer.rate

    @property
    def error(self) -> AudioUnavailable | None:
        """The last device error (cleared by a successful ``play()``)."""
        return self._error

    def events(self) -> list[Event]:
        """Recent transitions (select/seek/play/pause), oldest first; positions in stream frames."""
        with self._lock:
            return list(self._mixer.events)

    @property
    def stream_samplerate(self) -> int:
        return self._mixer.rate

    @property
    def state(self) -> PlayerState:
        with self._lock:
            m = self._mixer
            rate = m.rate
            duration = m.duration
            pos = min(m.pos, duration)
            status = "playing" if m.playing else (
                "stopped" if self._stopped or m.ended else "paused")
            source = m.source
            blind = self._blind.state() if self._blind else None
            if blind is not None and blind.revealed is None:
                source = blind.slot
            ab_side = None if blind else ("A" if source and source == self._a else
                                          "B" if source and source == self._b else None)
            gains = {name: m.gains.get(name, 1.0) for name in m.readers}
            misses = sum(getattr(r, "misses", 0) for r in m.readers.values())
            stream = self._stream
            return PlayerState(
                status=status, position=pos / rate, position_samples=self._to_samples(pos),
                duration=duration / rate, samplerate=self._rate or rate, source=source,
                a=self._a, b=self._b, ab_side=ab_side, level_match=self._level_match,
                gains=gains, loudness=dict(self._loudness),
                loop=(m.loop[0] / rate, m.loop[1] / rate) if m.loop else None,
                loop_count=m.loop_count, volume=m.volume, crossfade=self._crossfade,
                blind=blind, device=self._device_name,
                stream_samplerate=int(stream.samplerate) if stream is not None else None,
                latency=float(stream.latency) if stream is not None else None,
                blocks=m.blocks, underruns=self._underruns, cache_misses=misses,
                error=self._error, output_url=stream.url if stream is not None else None,
                listeners=stream.listeners if stream is not None else 0)

    # ================================================================ export
    def export_clip(self, name: str, path: str | Path, start: float, duration: float,
                    gain: float = 1.0, fade: float = 0.005) -> Path:
        """Write ``duration`` s of source ``name`` from ``start`` s as a float WAV (at the
        source's own rate, times ``gain``, with ``fade`` s edge fades). Needs no device."""
        self._check(name)
        src = self._sources[name]
        lo = max(round(start * src.samplerate), 0)
        n = max(min(round(duration * src.samplerate), src.frames - lo), 0)
        if n == 0:
            raise ValueError(f"nothing to export: {start}+{duration} s is past the end")
        data = src.read(lo, n) * np.float32(gain)
        data = edge_fade(data, round(fade * src.samplerate))
        return write_wav_atomic(path, data, src.samplerate)

    def export_ab(self, path_a: str | Path, path_b: str | Path, start: float,
                  duration: float) -> tuple[Path, Path]:
        """Write the A and B clips (level-matched if matching is on): the no-device fallback."""
        if self._a is None or self._b is None:
            raise ValueError("mark A and B first (set_ab)")
        gain_a, gain_b = self._levels.linear if self._levels is not None else (1.0, 1.0)
        return (self.export_clip(self._a, path_a, start, duration, gain_a),
                self.export_clip(self._b, path_b, start, duration, gain_b))
