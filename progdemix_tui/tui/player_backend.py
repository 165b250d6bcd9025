"""The audition backend with sound: :mod:`progdemix_tui.playback`'s :class:`Player`.

Importing this module fails when the playback package is not available, and constructing
:class:`PlayerBackend` raises when no output device exists; :func:`.audition.open_backend`
then falls back to the silent :class:`.audition.NullBackend`. Later device failures
(``AudioUnavailable`` from ``play``) propagate to the bar, which shows them and keeps working.
Imports only the playback package (no cycle with :mod:`.audition`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from progdemix_tui.playback import BlindState, LevelMatch, Player
from progdemix_tui.playback.outputs import reserve_output

if TYPE_CHECKING:
    import torch


class PlayerBackend:
    """A/B playback of two cues on output ``device`` (index, name or None: the default).

    Level matching is the player's own (:mod:`progdemix_tui.playback.levels`, the function
    the bar's figure and the A/B clip export use too). Blind tests are the player's own
    (``start_blind``, ``select_slot``, ``blind_answer``, ``reveal``), which need no stream.

    The backend holds its output from its start (:func:`.outputs.reserve_output`): with the
    web speaker (``web``/``web:PORT``) the page's URL is known (and a page can connect)
    before anything is marked, and every player it loads plays into that same speaker.
    """

    available = True
    reason = ""

    def __init__(self, check_devices: bool = True, device: int | str | None = None) -> None:
        self._output = reserve_output(device, check=check_devices)  # raises AudioUnavailable
        self.device = self._output.spec
        self._player: Player | None = None
        self._lock = threading.Lock()
        self._which = "A"
        self._loop: tuple[float, float] | None = None
        self._volume = 1.0

    def load(self, a: torch.Tensor | None, b: torch.Tensor | None,
             rate: int) -> LevelMatch | None:
        """Replace the sources with ``a`` and ``b`` (tensors ``[channels, time]``; a missing
        one plays the other), level-matched when both are given; returns the match."""
        if a is None and b is None:
            raise ValueError("nothing to load: neither A nor B")
        both = a is not None and b is not None
        player = Player(rate, device=self.device)
        player.add("A", a if a is not None else b, rate)
        player.add("B", b if b is not None else a, rate)
        player.set_ab("A", "B", level_match=both)
        player.select(self._which)
        player.volume = self._volume
        with self._lock:
            old, self._player = self._player, player
        playing = False
        if old is not None:
            position = old.position
            playing = old.state.status == "playing"
            old.close()
            player.seek(position)
            if self._loop is not None:
                player.set_loop(*self._loop)
        if self._output.eager:
            player.open_output()  # the page's URL exists (and the port is held) from here
        if old is not None and playing:
            player.play()
        return player.levels

    def speaker(self) -> str | None:
        """Where it plays, when the output says (the web speaker: ``browser URL · N
        listener(s)``), else None."""
        return self._output.describe()

    def set_labels(self, labels: dict[str, str]) -> None:
        """What A and B are (``{"A": "step 3 vocals", ...}``), shown where the output shows
        it (the web speaker's page; never during a blind test)."""
        self._output.set_labels(labels)

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

    def stop(self) -> None:
        """Fade out, stop the stream, rewind (to the loop start, or 0)."""
        if self._player is not None:
            self._player.stop()

    def set_volume(self, volume: float) -> None:
        self._volume = volume
        if self._player is not None:
            self._player.volume = volume

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        self._loop = loop
        if self._player is None:
            return
        if loop is None:
            self._player.clear_loop()
        else:
            self._player.set_loop(*loop)

    # ------------------------------------------------------------------ blind tests
    def _loaded(self) -> Player:
        if self._player is None:
            raise ValueError("A and B are not loaded yet")
        return self._player

    def start_blind(self, mode: str) -> None:
        self._loaded().start_blind(mode)

    def select_slot(self, slot: str) -> None:
        self._loaded().select_slot(slot)

    def blind_answer(self, choice: str) -> bool | None:
        return self._loaded().blind_answer(choice)

    def reveal(self) -> dict[str, str]:
        return self._loaded().reveal()

    def stop_blind(self) -> None:
        if self._player is not None:
            self._player.stop_blind()

    def blind_state(self) -> BlindState | None:
        return None if self._player is None else self._player.state.blind

    def position(self) -> float | None:
        return None if self._player is None else self._player.position

    def close(self) -> None:
        if self._player is not None:
            self._player.close()
            self._player = None
        self._output.close()
