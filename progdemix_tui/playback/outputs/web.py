"""The browser as an output device (:class:`~.base.Output`) of the
:class:`~progdemix_tui.playback.player.Player`.

``--audio-device web`` (port 8765) or ``web:PORT`` opens a :class:`WebStream`. It calls the
player's render callback as a sound card would, so the browser hears the same blocks (A/B
crossfades, loop seams, level matching, blind tests).

The browser's clock drives playback: the page's AudioWorklet asks for blocks as its jitter
buffer drains; each request of the leading page renders one block (16-bit PCM, interleaved,
at the session rate) which is sent to every connected page. The server, its token and its
limits on slow or stalled pages are :mod:`.web_server`'s; a stream attaches to the server on
its port (shared with whoever holds it, e.g. the TUI from its start) and detaches on close.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..devices import Device
from ..errors import AudioUnavailable
from ..web_messages import MAX_PULL, ListenerStats
from ..web_server import HOST, TOKEN, WebSpeaker, acquire, port_in_use, release, require_aiohttp
from .base import OutputAbort, OutputRequest, Render, Reservation

__all__ = ["DEFAULT_PORT", "HOST", "KIND", "MAX_PULL", "TOKEN", "ListenerStats", "WebSpeaker",
           "WebStream", "check_web_device", "parse_web_device"]

DEFAULT_PORT = 8765


def parse_web_device(device: object) -> int | None:
    """The port for ``"web"``/``"web:PORT"``; None for any other device.

    Raises ``AudioUnavailable('invalid_device')`` for ``web:`` with a bad port.
    """
    if not isinstance(device, str) or not (device == "web" or device.startswith("web:")):
        return None
    if device == "web":
        return DEFAULT_PORT
    text = device[4:]
    if not (text.isascii() and text.isdigit() and len(text) <= 5) or not (
            int(text) == 0 or 1024 <= int(text) <= 65535):
        raise AudioUnavailable("invalid_device", f"bad port in {device!r}",
                               "Use web or web:PORT with PORT from 1024 to 65535 (0 = any free)")
    return int(text)


def check_web_device(device: object) -> None:
    """For a command line: refuse a bad ``web:PORT``, a busy port or a missing aiohttp (the
    ``[web]`` extra) before the app starts (``AudioUnavailable``, exit 2). Other devices are
    checked when they are opened."""
    port = parse_web_device(device)
    if port is None:
        return
    require_aiohttp()
    if not port:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise port_in_use(port) from exc


class WebStream:
    """A stream whose "sound card" is every browser page connected to the speaker on ``port``.

    ``render(out: float32 (frames, channels), underflow)`` is the player's; it runs in the
    server thread when the leading page asks for blocks.
    ``describe()`` says what plays (for the pages: see :meth:`now`).
    ``record=True`` keeps a copy of every block sent (int16, (frames, channels)) for tests.
    """

    def __init__(self, port: int, samplerate: int, channels: int, blocksize: int,
                 render: Render, finished: Callable[[], None], *, record: bool = False,
                 describe: Callable[[], dict[str, Any]] | None = None) -> None:
        self.samplerate, self.channels, self.blocksize = samplerate, channels, blocksize
        self.latency = 0.1
        self._render, self._finished, self._describe = render, finished, describe
        self._active = False
        self.sent: list[np.ndarray] | None = [] if record else None
        self.blocks_sent = 0
        self.sent_at: list[tuple[int, float]] = []  # (first frame of block, monotonic time) if record
        self.speaker: WebSpeaker | None = acquire(port)
        self.port, self.token = self.speaker.port, self.speaker.token
        self.speaker.attach(self)
        self.name = f"web {self.url}"

    # ----------------------------------------------------------- output API
    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?t={self.token}"

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> None:
        self._active = True

    def stop(self) -> None:
        self._active = False

    abort = stop

    def close(self) -> None:
        """Detach from the speaker (which closes when nobody else holds it)."""
        self._active = False
        speaker, self.speaker = self.speaker, None
        if speaker is not None:
            speaker.detach(self)
            release(speaker)

    @property
    def listeners(self) -> int:
        return self.speaker.listeners if self.speaker is not None else 0

    def stats(self) -> list[ListenerStats]:
        """The last report of each connected page (leader first)."""
        return self.speaker.stats() if self.speaker is not None else []

    # ------------------------------------------------------- the speaker's source
    def render(self) -> bytes:
        """The next block for the pages (the player's, or silence while stopped)."""
        out = np.zeros((self.blocksize, self.channels), dtype=np.float32)
        if self._active:
            try:
                self._render(out, False)
            except OutputAbort:
                self._active = False
                self._finished()
                out.fill(0)
        pcm = np.clip(np.round(out * 32768.0), -32768, 32767).astype("<i2")
        if self.sent is not None:
            self.sent.append(pcm)
            self.sent_at.append((self.blocks_sent * self.blocksize, time.monotonic()))
        self.blocks_sent += 1
        return pcm.tobytes()

    def now(self) -> dict[str, Any]:
        """What plays: ``playing``, ``slot`` (A/B, or a blind slot), ``blind``, ``position``
        and ``duration`` in seconds."""
        if self._describe is not None:
            return self._describe()
        return {"playing": self._active}


class WebReservation(Reservation):
    """The speaker's port held from a UI's start: its URL is known (and a page can connect)
    before anything plays; every player opened on :attr:`spec` plays into it."""

    eager = True  # a player's output opens once loaded: the page shows what is loaded

    def __init__(self, port: int) -> None:
        self._web: WebSpeaker | None = acquire(port)  # AudioUnavailable('device_busy')
        super().__init__(f"web:{self._web.port}")  # web:0 -> the port it got, shared

    def describe(self) -> str | None:
        web = self._web
        if web is None:
            return None
        n = web.listeners
        return f"browser {web.url} · {n} listener{'s' if n != 1 else ''}"

    def set_labels(self, labels: dict[str, str]) -> None:
        if self._web is not None:
            self._web.labels = dict(labels)

    def close(self) -> None:
        web, self._web = self._web, None
        if web is not None:
            release(web)


class WebKind:
    """The browser page: ``web`` or ``web:PORT``."""

    name = "web"

    def claims(self, spec: Device) -> bool:
        return parse_web_device(spec) is not None

    def check(self, spec: Device) -> None:
        check_web_device(spec)

    def reserve(self, spec: Device, *, check: bool = True) -> Reservation:
        port = parse_web_device(spec)
        assert port is not None
        return WebReservation(port)

    def open(self, spec: Device, request: OutputRequest) -> WebStream:
        """Start the web speaker's server (not the audio); ``AudioUnavailable('device_busy')``
        when the port is in use."""
        port = parse_web_device(spec)
        assert port is not None
        return WebStream(port, request.samplerate, request.channels, request.blocksize,
                         request.render, request.finished, record=request.record,
                         describe=request.describe)


KIND = WebKind()
