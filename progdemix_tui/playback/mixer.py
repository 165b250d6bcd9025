"""The sample-exact renderer behind :class:`~progdemix_tui.playback.player.Player`.

All positions are in output (stream) frames. Transitions happen between audio blocks and
never jump: a switch of source (A/B), a seek and a level change keep the old sound as a *tail*
that fades out with a raised-cosine over ``fade`` frames while the new one fades in (the two
weights always sum to 1, so identical signals pass through unchanged); play and pause ramp a
global envelope the same way. A loop wraps with the same crossfade (what follows the region's
end fades out while its start fades in), so the seam does not click; with ``loop_fade`` off
it wraps sample-exactly and the region repeats bit for bit. The mixer is not thread-safe: the
player calls it under its lock.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Reader(Protocol):
    """What the mixer reads: ``read(start, n) -> [n, channels]`` float32 at the stream rate."""

    frames: int
    channels: int

    def read(self, start: int, frames: int) -> np.ndarray: ...


@dataclass
class Tail:
    """A sound fading out: ``source`` from ``pos`` with a frozen ``gain``."""

    source: str
    pos: int
    gain: float
    weight0: float
    done: int = 0


@dataclass
class Event:
    """A transition, for tests and benchmarks: ``pos`` is its first frame (stream frames;
    ``from_pos`` the position left, for a seek);
    ``block`` the index of the first block rendering it, ``t_render`` that callback's time
    (``time.monotonic``), ``t_request`` when it was asked for."""

    kind: str
    source: str | None
    pos: int
    t_request: float
    from_pos: int = -1
    block: int = -1
    t_render: float = 0.0


def fade_curve(k: np.ndarray, length: int) -> np.ndarray:
    """Raised cosine from 1 (k=0) to 0 (k>=length); ``length`` 0 gives 0 everywhere."""
    if length <= 0:
        return np.zeros(k.shape, dtype=np.float32)
    x = np.clip(k / length, 0.0, 1.0)
    return (0.5 + 0.5 * np.cos(np.pi * x)).astype(np.float32)


def fit_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """``[n, c]`` to ``[n, channels]``: mono is copied to all, extra channels are dropped,
    many-to-mono is averaged, missing channels are silent."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1:
        return np.repeat(x, channels, axis=1)
    if channels == 1:
        return x.mean(axis=1, keepdims=True)
    if c > channels:
        return x[:, :channels]
    return np.pad(x, ((0, 0), (0, channels - c)))


class Mixer:
    """Block renderer: one main voice, fading tails, a play envelope, loop and volume."""

    def __init__(self, rate: int, channels: int, fade: int, loop_fade: bool = True) -> None:
        self.rate, self.channels, self.fade = rate, channels, fade
        self.loop_fade = loop_fade
        self.readers: dict[str, Reader] = {}
        self.gains: dict[str, float] = {}
        self.source: str | None = None
        self.pos = 0
        self.playing = False
        self.ended = False
        self.tails: list[Tail] = []
        self.loop: tuple[int, int] | None = None
        self.loop_count = 0
        self.volume = 1.0
        self._vol_now = 1.0
        self._env_from, self._env_to, self._env_k = 0.0, 0.0, fade
        self.blocks = 0
        self.events: deque[Event] = deque(maxlen=256)
        self._pending: list[Event] = []

    # ----------------------------------------------------------------- state
    @property
    def duration(self) -> int:
        """Frames of the longest source."""
        return max((r.frames for r in self.readers.values()), default=0)

    def env(self) -> float:
        """The play envelope now (0 silent, 1 full)."""
        c = float(fade_curve(np.array([self._env_k]), self.fade)[0])
        return self._env_to + (self._env_from - self._env_to) * c

    @property
    def audible(self) -> bool:
        """True while the main voice advances (playing, or fading out after a pause)."""
        return self.playing or self.env() > 0.0

    def _tail_weights_now(self) -> float:
        return sum(float(fade_curve(np.array([t.done]), self.fade)[0]) * t.weight0
                   for t in self.tails)

    def _event(self, kind: str, t_request: float | None, from_pos: int | None = None) -> None:
        t = time.monotonic() if t_request is None else t_request
        ev = Event(kind, self.source, self.pos, t, self.pos if from_pos is None else from_pos)
        self.events.append(ev)
        self._pending.append(ev)

    def _push_tail(self) -> None:
        """Freeze the current main voice into a fading tail (if anything is audible)."""
        if self.source is None or not self.audible:
            return
        weight = 1.0 - self._tail_weights_now()
        if weight > 1e-6:
            self.tails.append(Tail(self.source, self.pos, self.gains.get(self.source, 1.0), weight))
        if len(self.tails) > 8:  # pathological rapid toggling: drop the oldest (the quietest)
            del self.tails[0]

    # ----------------------------------------------------------- transitions
    def select(self, name: str | None, t_request: float | None = None) -> None:
        """Make ``name`` the main voice at the same position (crossfade if audible)."""
        if name == self.source:
            return
        self._push_tail()
        self.source = name
        self._event("select", t_request)

    def set_gain(self, name: str, gain: float) -> None:
        """Change a source's gain; a sounding main voice crossfades to the new level."""
        if abs(self.gains.get(name, 1.0) - gain) < 1e-9:
            return
        if name == self.source:
            self._push_tail()
        self.gains[name] = gain

    def seek(self, pos: int, t_request: float | None = None) -> None:
        """Move the main voice to ``pos`` (crossfade if audible)."""
        pos = max(0, int(pos))
        if pos == self.pos:
            return
        self._push_tail()
        old, self.pos = self.pos, pos
        self.ended = False
        self._event("seek", t_request, old)

    def _ramp_env(self, target: float) -> None:
        self._env_from, self._env_to, self._env_k = self.env(), target, 0

    def play(self, t_request: float | None = None) -> None:
        """Start or resume (fade in). At the end, restart from the loop start or 0."""
        if self.ended or (self.loop is None and self.pos >= self.duration):
            self.pos = self.loop[0] if self.loop else 0
            self.ended = False
        if not self.playing:
            self.playing = True
            self._ramp_env(1.0)
            self._event("play", t_request)

    def pause(self, t_request: float | None = None) -> None:
        """Fade out; the position then stays put."""
        if self.playing:
            self.playing = False
            self._ramp_env(0.0)
            self._event("pause", t_request)

    def halt(self) -> None:
        """Silence at once (the device is gone): not playing, no tails, envelope 0."""
        self.playing = False
        self.tails.clear()
        self._env_from = self._env_to = 0.0
        self._env_k = self.fade

    def set_loop(self, start: int, end: int) -> None:
        """Loop ``[start, end)``; jumps to ``start`` if the position is outside the region."""
        self.loop = (int(start), int(end))
        self.loop_count = 0
        if not start <= self.pos < end:
            self.seek(start)

    # ------------------------------------------------------------- rendering
    def render(self, out: np.ndarray) -> None:
        """Fill ``out`` ``[frames, channels]`` with the next block."""
        now = time.monotonic()
        for ev in self._pending:
            ev.block, ev.t_render = self.blocks, now
        self._pending.clear()
        self.blocks += 1
        out.fill(0.0)
        total, done = len(out), 0
        while done < total:
            if not self.audible:
                self.tails.clear()
                break
            n = total - done
            if self.loop is not None and self.playing and self.pos < self.loop[1]:
                n = min(n, self.loop[1] - self.pos)
            elif self.playing and self.pos < self.duration:
                n = min(n, self.duration - self.pos)
            if self._env_k < self.fade:
                n = min(n, self.fade - self._env_k)
            self._segment(out[done:done + n])
            done += n
            if self.loop is not None and self.playing and self.pos == self.loop[1]:
                if self.loop_fade:
                    self._push_tail()  # the region's end plays on, fading out
                self.pos = self.loop[0]
                self.loop_count += 1
            elif self.playing and self.pos >= self.duration:
                self.ended = True
                self.playing = False
                self._ramp_env(0.0)

    def _voice(self, source: str, pos: int, n: int) -> np.ndarray:
        reader = self.readers.get(source)
        if reader is None:
            return np.zeros((n, self.channels), dtype=np.float32)
        return fit_channels(reader.read(pos, n), self.channels)

    def _segment(self, out: np.ndarray) -> None:
        n = len(out)
        k = np.arange(n, dtype=np.float64)
        main_w = np.ones(n, dtype=np.float32)
        acc = np.zeros_like(out)
        for tail in self.tails:
            w = fade_curve(k + tail.done, self.fade) * tail.weight0
            main_w -= w
            if w[0] > 0:
                acc += (w * tail.gain)[:, None] * self._voice(tail.source, tail.pos, n)
            tail.pos += n
            tail.done += n
        self.tails = [t for t in self.tails if t.done < self.fade]
        if self.source is not None:
            acc += (main_w * self.gains.get(self.source, 1.0))[:, None] * self._voice(
                self.source, self.pos, n)
        env = self._env_to + (self._env_from - self._env_to) * fade_curve(k + self._env_k, self.fade)
        vol = np.linspace(self._vol_now, self.volume, n + 1, dtype=np.float32)[1:]
        self._vol_now = self.volume
        np.clip(acc * (env * vol)[:, None], -1.0, 1.0, out=out)
        self.pos += n
        self._env_k = min(self._env_k + n, self.fade)
