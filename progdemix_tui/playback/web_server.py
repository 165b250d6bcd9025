"""The web speaker's server: one aiohttp server on 127.0.0.1, in its own thread, that pages
connect to and the player's stream attaches to.

A :class:`WebSpeaker` holds its port from :func:`acquire` to the last :func:`release`, so the
page's URL exists before anything plays and stays the same while the TUI swaps players.
Whatever :class:`AudioSource` is attached renders the blocks (silence while none is).

Bounded against slow, stalled and hostile pages (numbers in :class:`Limits`):

- every page has its own bounded send queue and a writer task; the shared path (rendering on a
  pull) only enqueues, so a page that stops reading never blocks another one. A page whose
  queue overflows, or whose socket has not taken a block for ``stall_s``, is dropped;
- aiohttp's WebSocket heartbeat drops a page that stops answering pings;
- the *leader* is the page whose pulls render blocks: the first one, until it stops pulling
  for ``lead_stale_s`` while another page pulls; then the lead passes to that page;
- at most ``max_listeners`` pages; one more is told why on its page and closed;
- a connection that has not sent a whole request within ``header_timeout_s`` is closed;
- :meth:`WebSpeaker.close` ends within a bound (about ``3 × close_s``) and leaves no task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

from progdemix_tui.engine.extras import ExtraMissing, require

from .errors import AudioUnavailable
from .web_messages import MAX_PULL, BadMessage, ListenerStats, Ping, Pull, parse

HOST = "127.0.0.1"
#: drawn once per start of the program: a page stays valid while the TUI reloads its player
TOKEN = secrets.token_urlsafe(16)
DEFAULT_FORMAT = (44100, 2, 512)  # rate, channels, block: the silence before a player attaches


@dataclass(frozen=True)
class Limits:
    """What one speaker allows its pages."""

    max_listeners: int = 8
    queue_messages: int = 256  # per page: ≈ 3 s of 512-frame blocks at 44.1 kHz
    stall_s: float = 5.0  # a send blocked this long: the page is dropped
    heartbeat_s: float = 5.0  # WebSocket ping period (no pong within half of it: dropped)
    header_timeout_s: float = 10.0  # to send a whole request line and headers
    lead_stale_s: float = 0.5  # a leader silent this long hands the lead to a page that pulls
    close_s: float = 1.0  # each step of closing (close frames, handlers)
    send_buffer: int = 256 * 1024  # the kernel's send buffer per page socket


LIMITS = Limits()


def require_aiohttp() -> None:
    """``AudioUnavailable`` in one line naming the ``[web]`` extra when aiohttp is absent."""
    try:
        require("web", "the web speaker (web, web:PORT)", "choose another audio device")
    except ExtraMissing as exc:
        raise AudioUnavailable("stream_error", str(exc)) from None


class AudioSource(Protocol):
    """What renders the blocks: the player's :class:`~.outputs.web.WebStream`."""

    samplerate: int
    channels: int
    blocksize: int

    def render(self) -> bytes:
        """The next block: interleaved little-endian int16."""
        ...

    def now(self) -> dict[str, Any]:
        """What plays: ``playing``, ``slot``, ``blind``, ``position``, ``duration`` (s)."""
        ...


@dataclass(eq=False)
class _Listener:
    ws: Any
    transport: Any
    queue: asyncio.Queue[bytes | str]
    stats: ListenerStats = field(default_factory=ListenerStats)
    last_pull: float = field(default_factory=time.monotonic)
    pending: int = 0  # blocks asked for while following (served if it takes the lead)
    sending_since: float | None = None
    writer: asyncio.Task[None] | None = None


class WebSpeaker:
    """The server on ``port`` (0: any free one; :attr:`port` is the real one after start).

    Raises ``AudioUnavailable('device_busy')`` when the port is in use.
    """

    def __init__(self, port: int, limits: Limits = LIMITS) -> None:
        require_aiohttp()
        self.port, self.limits, self.token = port, limits, TOKEN
        self.labels: dict[str, str] = {}  # slot -> what it is ("step 3 vocals"), from the UI
        self.dropped = 0  # pages dropped for stalling
        self.refused = 0  # pages refused: too many listeners
        self._source: AudioSource | None = None
        self._format = DEFAULT_FORMAT
        self._listeners: list[_Listener] = []
        self._leader: _Listener | None = None
        self._closing = False
        self._runner: Any = None
        self._watchdog: asyncio.Task[None] | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="web-speaker", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._startup_error is not None:
            exc = self._startup_error
            self._thread.join(5)
            if isinstance(exc, OSError):
                raise port_in_use(port) from exc
            raise AudioUnavailable("stream_error", f"cannot start the web speaker ({exc})") from exc

    # ------------------------------------------------------------------ public
    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?t={self.token}"

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    def stats(self) -> list[ListenerStats]:
        """The last report of each connected page (leader first)."""
        pages = list(self._listeners)
        leader = self._leader
        return [p.stats for p in sorted(pages, key=lambda p: p is not leader)]

    def attach(self, source: AudioSource) -> None:
        """Render from ``source`` from now on (its format is announced to the pages)."""
        self._source = source
        self._call(self._announce)

    def detach(self, source: AudioSource) -> None:
        """Stop rendering from ``source`` (if it is the attached one): silence follows."""
        if self._source is source:
            self._source = None

    def close(self) -> None:
        """Close every page and the server, within a bound; idempotent."""
        if self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(4 * self.limits.close_s + 2)
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(4 * self.limits.close_s + 2)

    # ------------------------------------------------------------------ server thread
    def _call(self, fn: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to tell
            self._loop.call_soon_threadsafe(fn)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_server())
        except BaseException as exc:  # reported to the opener
            self._startup_error = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:  # no task left pending ("Task was destroyed but it is pending!")
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
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
        # keepalive_timeout runs from the connection's start: a client that never completes
        # its request line and headers is closed after it
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     keepalive_timeout=self.limits.header_timeout_s,
                                     shutdown_timeout=self.limits.close_s)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.port)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        self._watchdog = asyncio.create_task(self._watch())

    async def _shutdown(self) -> None:
        self._closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        pages = list(self._listeners)
        for page in pages:
            if page.writer is not None:
                page.writer.cancel()
        if pages:  # "bye" and a close frame to each page that still reads, then cut them all
            await asyncio.wait([asyncio.create_task(self._bye(page)) for page in pages],
                               timeout=self.limits.close_s)
        for page in pages:
            self._drop(page)
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    async def _bye(page: _Listener) -> None:
        """Tell a page the player is gone (it stops counting underruns at once), then close."""
        from aiohttp import WSCloseCode
        with contextlib.suppress(Exception):
            await page.ws.send_str(json.dumps({"type": "bye"}))
            await page.ws.close(code=WSCloseCode.GOING_AWAY, message=b"the player closed")

    async def _page(self, request: Any) -> Any:
        from aiohttp import web
        html = resources.files("progdemix_tui.playback.web").joinpath("speaker.html").read_text()
        return web.Response(text=html, content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def _socket(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web
        limits = self.limits
        ws = web.WebSocketResponse(max_msg_size=64 * 1024, heartbeat=limits.heartbeat_s,
                                   timeout=limits.close_s)
        await ws.prepare(request)
        if self._closing or len(self._listeners) >= limits.max_listeners:
            self.refused += 1
            reason = (f"{limits.max_listeners} pages are already listening, the most this "
                      "speaker serves: close one of them and reload this page")
            await ws.send_str(json.dumps({"type": "refused", "reason": reason}))
            await ws.close(code=1013, message=b"too many listeners")  # 1013: try again later
            return ws
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:  # a stalled page fills a small buffer, not megabytes of it
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limits.send_buffer)
        page = _Listener(ws, transport, asyncio.Queue(limits.queue_messages))
        page.writer = asyncio.create_task(self._write(page))
        self._listeners.append(page)
        if self._leader is None:
            self._leader = page
        rate, channels, block = self._format
        self._send(page, json.dumps({"type": "config", "rate": rate, "channels": channels,
                                     "block": block}))
        self._send(page, self._now())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    message = parse(msg.data)
                except BadMessage:
                    continue  # a page's bug or a hostile client: ignored
                if isinstance(message, Pull):
                    self._pull(page, message.n)
                elif isinstance(message, Ping):
                    self._send(page, json.dumps({"type": "pong", "t": message.t}))
                else:
                    page.stats = message
        finally:
            self._drop(page, stalled=False)
        return ws

    # ------------------------------------------------------------------ sending
    def _send(self, page: _Listener, item: bytes | str) -> None:
        """Queue ``item`` for one page; never waits (a full queue drops the page)."""
        try:
            page.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._drop(page)

    async def _write(self, page: _Listener) -> None:
        try:
            while True:
                item = await page.queue.get()
                page.sending_since = time.monotonic()
                if isinstance(item, bytes):
                    await page.ws.send_bytes(item)
                else:
                    await page.ws.send_str(item)
                page.sending_since = None
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection went away: the handler ends and drops it
            self._drop(page, stalled=False)

    def _drop(self, page: _Listener, stalled: bool = True) -> None:
        """Forget ``page`` and cut its socket at once (a stalled socket never flushes)."""
        if page in self._listeners:
            self._listeners.remove(page)
            self.dropped += stalled
        if self._leader is page:
            self._leader = None
        if page.writer is not None and page.writer is not asyncio.current_task():
            page.writer.cancel()
        if page.transport is not None:
            page.transport.abort()

    # ------------------------------------------------------------------ the clock
    def _pull(self, page: _Listener, n: int) -> None:
        now = time.monotonic()
        leader = self._leader
        if leader is None or (leader is not page and now - leader.last_pull > self.limits.lead_stale_s):
            self._leader = leader = page  # the leader stopped pulling: this page leads
        page.last_pull = now
        if leader is page:
            self._render(n + page.pending)
            page.pending = 0
        else:
            page.pending = min(page.pending + n, 4 * MAX_PULL)

    def _render(self, n: int) -> None:
        for _ in range(min(n, 4 * MAX_PULL)):
            source = self._source
            if source is not None:
                payload = source.render()
            else:
                rate, channels, block = self._format
                payload = bytes(2 * channels * block)
            for page in list(self._listeners):
                self._send(page, payload)
                if page is not self._leader and page.pending:
                    page.pending -= 1

    async def _watch(self) -> None:
        """Four times a second: drop stalled pages, pass on a stale lead, say what plays."""
        last, sent_at = "", 0.0
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            for page in list(self._listeners):
                if page.sending_since is not None and now - page.sending_since > self.limits.stall_s:
                    self._drop(page)
            leader = self._leader
            if leader is None or now - leader.last_pull > self.limits.lead_stale_s:
                waiting = [p for p in self._listeners if p.pending and p is not leader]
                if waiting:
                    page = max(waiting, key=lambda p: p.last_pull)
                    self._leader = page
                    self._render(page.pending)
                    page.pending = 0
            text = self._now()
            if text != last or now - sent_at > 1.0:
                for page in list(self._listeners):
                    self._send(page, text)
                last, sent_at = text, now

    def _announce(self) -> None:
        source = self._source
        if source is None:
            return
        fmt = (int(source.samplerate), int(source.channels), int(source.blocksize))
        if fmt == self._format:
            return
        self._format = fmt
        text = json.dumps({"type": "config", "rate": fmt[0], "channels": fmt[1],
                           "block": fmt[2]})
        for page in list(self._listeners):
            self._send(page, text)

    def _now(self) -> str:
        """The ``now`` message: what plays (A/B, what it is, position), for the page."""
        source = self._source
        try:
            state = source.now() if source is not None else {}
        except Exception:  # a player being closed: say nothing plays
            state = {}
        slot = state.get("slot")
        label = None if state.get("blind") or slot is None else self.labels.get(str(slot))
        return json.dumps({
            "type": "now", "loaded": source is not None,
            "playing": bool(state.get("playing", False)), "slot": slot, "label": label,
            "blind": bool(state.get("blind", False)),
            "position": round(float(state.get("position", 0.0)), 1),
            "duration": round(float(state.get("duration", 0.0)), 1)})


def port_in_use(port: int) -> AudioUnavailable:
    return AudioUnavailable("device_busy", f"port {port} on {HOST} is in use",
                            "Choose another port: --audio-device web:PORT")


_OPEN: dict[int, tuple[WebSpeaker, int]] = {}  # port -> (speaker, holders)
_OPEN_LOCK = threading.Lock()


def acquire(port: int, limits: Limits = LIMITS) -> WebSpeaker:
    """The speaker on ``port``: the one already open there (shared), else a new one
    (``port`` 0: always a new one, on any free port). Give it back with :func:`release`."""
    with _OPEN_LOCK:
        if port and port in _OPEN:
            speaker, holders = _OPEN[port]
            _OPEN[port] = (speaker, holders + 1)
            return speaker
        speaker = WebSpeaker(port, limits)
        _OPEN[speaker.port] = (speaker, 1)
        return speaker


def release(speaker: WebSpeaker) -> None:
    """Give back one :func:`acquire`; the last one closes the speaker."""
    with _OPEN_LOCK:
        entry = _OPEN.get(speaker.port)
        if entry is None or entry[0] is not speaker:
            last = True
        else:
            last = entry[1] <= 1
            if last:
                del _OPEN[speaker.port]
            else:
                _OPEN[speaker.port] = (speaker, entry[1] - 1)
    if last:
        speaker.close()
