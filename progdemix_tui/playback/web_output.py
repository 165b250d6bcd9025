"""The browser as an output device of the :class:`~progdemix_tui.playback.player.Player`.

``--audio-device web`` (port 8765) or ``web:PORT`` opens a :class:`WebStream` instead of a
PortAudio stream. It has the stream interface the player uses (``start``/``stop``/``abort``/
``close``, ``samplerate``, ``channels``, ``active``, ``stopped``, ``latency``) and calls the
player's audio callback, so the browser hears the same blocks (A/B crossfades, loop seams,
level matching, blind tests) a sound card would.

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
from types import SimpleNamespace
from typing import Any

import numpy as np

from .devices import OutputDevice
from .errors import AudioUnavailable
from .web_messages import MAX_PULL, ListenerStats
from .web_server import HOST, TOKEN, WebSpeaker, acquire, port_in_use, release, require_aiohttp

__all__ = ["DEFAULT_PORT", "HOST", "MAX_PULL", "TOKEN", "ListenerStats", "WebSpeaker",
           "WebStream", "check_web_device", "open_web_stream", "parse_web_device"]

DEFAULT_PORT = 8765


class WebCallbackAbort(Exception):
    """Raised by the player's callback to stop a web stream (as sounddevice.CallbackAbort)."""


class WebStreamError(Exception):
    """A web stream failed to start (as sounddevice.PortAudioError)."""


# what the player reads from ``self._sd`` when its stream is a WebStream
SD_COMPAT = SimpleNamespace(PortAudioError=WebStreamError, CallbackAbort=WebCallbackAbort)


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


class _Status:
    output_underflow = False


class WebStream:
    """A stream whose "sound card" is every browser page connected to the speaker on ``port``.

    ``callback(outdata: float32 (frames, channels), frames, time_info, status)`` is the
    player's; it runs in the server thread when the leading page asks for blocks.
    ``describe()`` says what plays (for the pages: see :meth:`now`).
    ``record=True`` keeps a copy of every block sent (int16, (frames, channels)) for tests.
    """

    def __init__(self, port: int, samplerate: int, channels: int, blocksize: int,
                 callback: Callable[..., Any], finished_callback: Callable[[], None],
                 *, record: bool = False,
                 describe: Callable[[], dict[str, Any]] | None = None) -> None:
        self.samplerate, self.channels, self.blocksize = samplerate, channels, blocksize
        self.latency = 0.1
        self._callback, self._finished, self._describe = callback, finished_callback, describe
        self._active = False
        self.sent: list[np.ndarray] | None = [] if record else None
        self.blocks_sent = 0
        self.sent_at: list[tuple[int, float]] = []  # (first frame of block, monotonic time) if record
        self.speaker: WebSpeaker | None = acquire(port)
        self.port, self.token = self.speaker.port, self.speaker.token
        self.speaker.attach(self)

    # ----------------------------------------------------------- stream API
    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?t={self.token}"

    @property
    def active(self) -> bool:
        return self._active

    @property
    def stopped(self) -> bool:
        return not self._active

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
                self._callback(out, self.blocksize, None, _Status())
            except WebCallbackAbort:
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


def open_web_stream(port: int, samplerate: int, channels: int, blocksize: int,
                    callback: Callable[..., Any], finished_callback: Callable[[], None],
                    *, record: bool = False,
                    describe: Callable[[], dict[str, Any]] | None = None
                    ) -> tuple[WebStream, OutputDevice]:
    """Start the web speaker's server (not the audio) and describe it as an output device.

    Raises ``AudioUnavailable('device_busy')`` when the port is in use.
    """
    stream = WebStream(port, samplerate, channels, blocksize, callback, finished_callback,
                       record=record, describe=describe)
    device = OutputDevice(index=-1, name=f"web {stream.url}", hostapi="web",
                          channels=channels, default_samplerate=float(samplerate),
                          is_default=False)
    return stream, device
