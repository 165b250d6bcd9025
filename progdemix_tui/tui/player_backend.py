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

from progdemix_tui.playback import BlindState, LevelMatch, Player, list_output_devices
from progdemix_tui.playback.devices import resolve_device
from progdemix_tui.playback.errors import no_device
from progdemix_tui.playback.web_output import parse_web_device
from progdemix_tui.playback.web_server import WebSpeaker, acquire, release

if TYPE_CHECKING:
    import torch


class PlayerBackend:
    """A/B playback of two cues on output ``device`` (index, name or None: the default).

    Level matching is the player's own (:mod:`progdemix_tui.playback.levels`, the function
    the bar's figure and the A/B clip export use too). Blind tests are the player's own
    (``start_blind``, ``select_slot``, ``blind_answer``, ``reveal``), which need no stream.

    With the web speaker (``web``/``web:PORT``) the backend holds the port from its start,
    so the page's URL is known (and a page can connect) before anything is marked; every
    player it loads plays into that same speaker.
    """

    available = True
    reason = ""

    def __init__(self, check_devices: bool = True, device: int | str | None = None) -> None:
        if check_devices:
            if parse_web_device(device) is not None:
                pass  # the browser speaker: no PortAudio device needed
            elif device is not None:
                resolve_device(device)  # raises AudioUnavailable("invalid_device", ...)
            elif not list_output_devices():  # raises AudioUnavailable
                raise no_device("no audio output device found")
        self.device = device
        self._web: WebSpeaker | None = None
        web_port = parse_web_device(device)
        if web_port is not None:  # AudioUnavailable('device_busy') when the port is taken
            self._web = acquire(web_port)
            self.device = f"web:{self._web.port}"  # web:0 -> the port it got, shared
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
        if parse_web_device(self.device) is not None:
            player.open_output()  # the page's URL exists (and the port is held) from here
        if old is not None and playing:
            player.play()
        return player.levels

    def speaker(self) -> str | None:
        """``browser URL · N listener(s)`` when the output is the web speaker, else None."""
        web = self._web
        if web is None:
            return None
        n = web.listeners
        return f"browser {web.url} · {n} listener{'s' if n != 1 else ''}"

    def set_labels(self, labels: dict[str, str]) -> None:
        """What A and B are (``{"A": "step 3 vocals", ...}``), shown on the web speaker's
        page while they play (never during a blind test)."""
        if self._web is not None:
            self._web.labels = dict(labels)

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
        web, self._web = self._web, None
        if web is not None:
            release(web)
