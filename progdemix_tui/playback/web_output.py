"""The browser as an output device of the :class:`~progdemix_tui.playback.player.Player`.

``--audio-device web`` (port 8765) or ``web:PORT`` opens a :class:`WebStream` instead of a
PortAudio stream. It has the stream interface the player uses (``start``/``stop``/``abort``/
``close``, ``samplerate``, ``channels``, ``active``, ``stopped``, ``latency``) and calls the
player's audio callback, so the browser hears the same blocks (A/B crossfades, loop seams,
level matching, blind tests) a sound card would.

The browser's clock drives playback: the page's AudioWorklet asks for blocks as its jitter
buffer drains; each request renders one block (16-bit PCM, interleaved, at the session rate)
which is sent to every connected page. The first page connected is the *leader*: only its
requests render; later pages hear the same blocks.

The server (aiohttp, on 127.0.0.1 only) runs in its own thread. Every start of the program
draws a random token; any request without it gets 403 and nothing else. It serves only the page and the
socket.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from types import SimpleNamespace
from typing import Any

import numpy as np

from .devices import OutputDevice
from .errors import AudioUnavailable

DEFAULT_PORT = 8765
HOST = "127.0.0.1"
#: drawn once per start of the program: a page stays valid while the TUI reloads its player
TOKEN = secrets.token_urlsafe(16)
MAX_PULL = 64  # blocks one request may ask for (a hostile page cannot inflate it further)


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


def port_in_use(port: int) -> AudioUnavailable:
    return AudioUnavailable("device_busy", f"port {port} on {HOST} is in use",
                            "Choose another port: --audio-device web:PORT")


def check_web_device(device: object) -> None:
    """For a command line: refuse a bad ``web:PORT`` or a busy port before the app starts
    (``AudioUnavailable``, exit 2). Other devices are checked when they are opened."""
    port = parse_web_device(device)
    if not port:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise port_in_use(port) from exc


@dataclass
class ListenerStats:
    """What one page last reported: its buffer, the latency it measured, its underruns."""

    buffer_ms: float = 0.0
    latency_ms: float | None = None
    underruns: int = 0
    consumed: int = 0


@dataclass
class _Listener:
    ws: Any
    stats: ListenerStats = field(default_factory=ListenerStats)


class _Status:
    output_underflow = False


class WebStream:
    """A stream whose "sound card" is every browser page connected to its server.

    ``callback(outdata: float32 (frames, channels), frames, time_info, status)`` is the
    player's; it runs in the server thread when the leading page asks for blocks.
    ``record=True`` keeps a copy of every block sent (int16, (frames, channels)) for tests.
    """

    def __init__(self, port: int, samplerate: int, channels: int, blocksize: int,
                 callback: Callable[..., Any], finished_callback: Callable[[], None],
                 *, record: bool = False) -> None:
        self.samplerate, self.channels, self.blocksize = samplerate, channels, blocksize
        self.latency = 0.1
        self.token = TOKEN
        self._callback, self._finished = callback, finished_callback
        self._active = False
        self._listeners: list[_Listener] = []
        self.sent: list[np.ndarray] | None = [] if record else None
        self.blocks_sent = 0
        self.sent_at: list[tuple[int, float]] = []  # (first frame of block, monotonic time) if record
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._runner: Any = None
        self.port = port
        self._thread = threading.Thread(target=self._serve, name="web-speaker", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            exc = self._startup_error
            self._thread.join(5)
            if isinstance(exc, OSError):
                raise port_in_use(port) from exc
            raise AudioUnavailable("stream_error", f"cannot start the web speaker ({exc})") from exc

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
        self._active = False
        if self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                fut.result(10)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def stats(self) -> list[ListenerStats]:
        """The last report of each connected page (leader first)."""
        return [listener.stats for listener in list(self._listeners)]

    # --------------------------------------------------------------- server
    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_server())
        except BaseException as exc:  # reported to the opener
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _start_server(self) -> None:
        from aiohttp import web

        @web.middleware
        async def token_only(request: web.Request, handler: Any) -> Any:
            if not secrets.compare_digest(request.query.get("t", ""), self.token):
                return web.Response(status=403, text="forbidden\n")
            return await handler(request)

        app = web.Application(middlewares=[token_only])
        app.router.add_get("/", self._page)
        app.router.add_get("/ws", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.port)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _shutdown(self) -> None:
        for listener in list(self._listeners):
            await listener.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _page(self, request: Any) -> Any:
        from aiohttp import web
        html = resources.files("progdemix_tui.playback.web").joinpath("speaker.html").read_text()
        return web.Response(text=html, content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def _socket(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web
        ws = web.WebSocketResponse(max_msg_size=64 * 1024)
        await ws.prepare(request)
        listener = _Listener(ws)
        self._listeners.append(listener)
        await ws.send_str(json.dumps({"type": "config", "rate": self.samplerate,
                                      "channels": self.channels, "block": self.blocksize}))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                    kind = data.get("type")
                except (ValueError, AttributeError):
                    continue
                if kind == "pull" and self._listeners and self._listeners[0] is listener:
                    n = data.get("n")
                    if isinstance(n, int) and n > 0:
                        for _ in range(min(n, MAX_PULL)):
                            await self._send_block()
                elif kind == "ping":
                    await ws.send_str(json.dumps({"type": "pong", "t": data.get("t")}))
                elif kind == "stats":
                    listener.stats = ListenerStats(
                        buffer_ms=float(data.get("buffer_ms", 0)),
                        latency_ms=_float_or_none(data.get("latency_ms")),
                        underruns=int(data.get("underruns", 0)),
                        consumed=int(data.get("consumed", 0)))
        finally:
            self._listeners.remove(listener)
        return ws

    async def _send_block(self) -> None:
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
        payload = pcm.tobytes()
        for listener in list(self._listeners):
            if not listener.ws.closed:
                await listener.ws.send_bytes(payload)


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def open_web_stream(port: int, samplerate: int, channels: int, blocksize: int,
                    callback: Callable[..., Any], finished_callback: Callable[[], None],
                    *, record: bool = False) -> tuple[WebStream, OutputDevice]:
    """Start the web speaker's server (not the audio) and describe it as an output device.

    Raises ``AudioUnavailable('device_busy')`` when the port is in use.
    """
    stream = WebStream(port, samplerate, channels, blocksize, callback, finished_callback,
                       record=record)
    device = OutputDevice(index=-1, name=f"web {stream.url}", hostapi="web",
                          channels=channels, default_samplerate=float(samplerate),
                          is_default=False)
    return stream, device
