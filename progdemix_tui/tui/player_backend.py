"""Adapter from the player bar to :mod:`progdemix_tui.audio`'s :class:`Player`.

Importing this module fails when the audio package is not available, and constructing
:class:`PlayerBackend` raises when no output device exists; :func:`.audition.open_backend`
then falls back to a silent backend. Later device failures (``AudioUnavailable`` from
``play``) propagate to the bar, which shows them and keeps working.
"""

from __future__ import annotations

import threading

from progdemix_tui.audio import Player, list_output_devices
from progdemix_tui.audio.errors import no_device


class PlayerBackend:
    """A/B playback of two cues, level-matched by the player (integrated loudness)."""

    available = True
    reason = ""

    def __init__(self, check_devices: bool = True) -> None:
        if check_devices and not list_output_devices():  # raises AudioUnavailable
            raise no_device("no audio output device found")
        self._player: Player | None = None
        self._lock = threading.Lock()
        self._which = "A"
        self._loop: tuple[float, float] | None = None

    def load(self, a, b, rate: int, gain_b_db: float) -> None:
        """Replace the sources with ``a`` and ``b`` (tensors ``[channels, time]``)."""
        player = Player(rate)
        player.add("A", a if a is not None else b, rate)
        player.add("B", b if b is not None else a, rate)
        player.set_ab("A", "B", level_match=True)
        player.select(self._which)
        with self._lock:
            old, self._player = self._player, player
        if old is not None:
            position = old.position
            playing = old.state.status == "playing"
            old.close()
            player.seek(position)
            if self._loop is not None:
                player.set_loop(*self._loop)
            if playing:
                player.play()

    def play(self) -> None:
        if self._player is not None:
            self._player.play()

    def pause(self) -> None:
        if self._player is not None:
            self._player.pause()

    def select(self, which: str) -> None:
        self._which = which
        if self._player is not None:
            self._player.select(which)

    def seek(self, seconds: float) -> None:
        if self._player is not None:
            self._player.seek(seconds)

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        self._loop = loop
        if self._player is None:
            return
        if loop is None:
            self._player.clear_loop()
        else:
            self._player.set_loop(*loop)

    def position(self) -> float | None:
        return None if self._player is None else self._player.position

    def close(self) -> None:
        if self._player is not None:
            self._player.close()
            self._player = None
