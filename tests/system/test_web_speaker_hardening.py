"""The web speaker against hostile, stalled and slow clients (issue 22, items 13 and 14).

Real sockets on loopback: the speaker's own aiohttp server, aiohttp clients playing the page's
protocol, and raw sockets that do a real WebSocket handshake and then never read. Every wait
is on an event (a block received, a socket closed, a count reached) bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import subprocess
import sys
import time

import aiohttp
import numpy as np
import pytest
from support.browser import HANG

from progdemix_tui.playback import Player
from progdemix_tui.playback.web_messages import MAX_PULL, BadMessage, ListenerStats, Pull, parse

SR = 44100
RECEIVE = 60.0  # one message; the old server never sent it (bounded, not a race)


def wait_until(cond, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not cond():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


def web_player() -> Player:
    t = np.arange(4 * SR) / SR
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    p = Player(SR, device="web:0", blocksize=512)
    p.add("A", np.stack([x, x]), SR)
    p.set_loop(0.0, 3.0)
    p.open_output()
    return p


def ws_url(p: Player) -> str:
    stream = p.output
    assert stream is not None
    return f"ws://127.0.0.1:{stream.port}/ws?t={stream.token}"


def stalled_socket(p: Player | tuple[int, str]) -> socket.socket:
    """A WebSocket handshake, then nothing read ever again (a laptop asleep on the tunnel)."""
    if isinstance(p, tuple):
        port, token = p
    else:
        stream = p.output
        assert stream is not None
        port, token = stream.port, stream.token
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(RECEIVE)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /ws?t={token} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return s


async def pull(ws: aiohttp.ClientWebSocketResponse, blocks: int) -> list[dict]:
    """Ask for ``blocks`` blocks as a page does (MAX_PULL at a time) and receive them; the
    text messages seen on the way."""
    texts, got = [], 0
    while got < blocks:
        n = min(MAX_PULL, blocks - got)
        await ws.send_str(json.dumps({"type": "pull", "n": n}))
        want = got + n
        while got < want:
            msg = await ws.receive(timeout=RECEIVE)
            if msg.type == aiohttp.WSMsgType.BINARY:
                got += 1
            elif msg.type == aiohttp.WSMsgType.TEXT:
                texts.append(json.loads(msg.data))
            else:
                raise AssertionError(f"socket closed: {msg}")
    return texts


async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Read (and so answer pings) until the socket closes, as a page does."""
    while (await ws.receive()).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                             aiohttp.WSMsgType.ERROR):
        pass


async def pong(ws: aiohttp.ClientWebSocketResponse, t: float) -> dict:
    await ws.send_str(json.dumps({"type": "ping", "t": t}))
    while True:
        msg = await ws.receive(timeout=RECEIVE)
        assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
        if msg.type == aiohttp.WSMsgType.TEXT and (data := json.loads(msg.data))["type"] == "pong":
            return data


HOSTILE = [
    '{"type": "stats", "buffer_ms": "lots"}', '{"type": "stats", "buffer_ms": 1e309}',
    '{"type": "stats", "underruns": [1, 2]}', '{"type": "stats", "consumed": 1e309}',
    '{"type": "stats", "latency_ms": NaN}', '{"type": "stats", "latency_ms": -Infinity}',
    '{"type": "stats", "underruns": true}', '{"type": "stats", "underruns": -5}',
    '{"type": "stats", "buffer_ms": {"a": 1}}', '{"type": "stats", "consumed": 1.5}',
    '{"type": "pull", "n": "64"}', '{"type": "pull", "n": 1e309}', '{"type": "pull", "n": -1}',
    '{"type": "pull", "n": [64]}', '{"type": "ping", "t": [1]}', '{"type": "ping", "t": 1e309}',
    '{"type": ["stats"]}', '[1, 2, 3]', '"stats"', 'null', '{"type": "nope"}', 'not json',
    "[" * 60000, '{"type": "stats", "buffer_ms": ' + "9" * 5000 + "}",
]


def test_bad_socket_messages_are_ignored_without_a_traceback(caplog):
    """22.13: a stats message with a string, 1e309 or a list (and worse) is ignored: the
    socket stays open, the page's last good stats stand, nothing is logged."""
    p = web_player()

    async def client() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url(p)) as ws:
            await ws.send_str(json.dumps({"type": "stats", "buffer_ms": 12.5, "latency_ms": None,
                                          "underruns": 3, "consumed": 4096}))
            assert (await pong(ws, 1.0))["t"] == 1.0
            for text in HOSTILE:
                await ws.send_str(text)
            await ws.send_bytes(b"\x00" * 100)
            assert (await pong(ws, 2.0))["t"] == 2.0  # still served, in order
            await pull(ws, 3)

    try:
        with caplog.at_level(logging.DEBUG):
            asyncio.run(client())
        stream = p.output
        assert stream is not None
        assert stream.stats() == [] or stream.stats()[0] == ListenerStats(12.5, None, 3, 4096)
        assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], \
            [r.getMessage() for r in caplog.records]
    finally:
        p.close()


def test_message_parser_refuses_what_is_not_the_protocol():
    for text in HOSTILE:
        with pytest.raises(BadMessage):
            parse(text)
    assert parse('{"type": "pull", "n": 1000}') == Pull(MAX_PULL)
    assert parse('{"type": "stats", "buffer_ms": 5, "latency_ms": 7.5, "underruns": 2, '
                 '"consumed": 10}') == ListenerStats(5.0, 7.5, 2, 10)


def test_a_stalled_page_does_not_stop_the_others_and_is_dropped():
    """22.14: a page that stops reading (its socket full) must not block the server: the page
    that leads keeps getting every block it asks for, and the stalled one is dropped."""
    p = web_player()
    p.play()
    stalled = None

    async def leader() -> None:
        nonlocal stalled
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url(p)) as ws:
            await pull(ws, 8)  # it leads
            stalled = stalled_socket(p)
            wait_until(lambda: p.state.listeners == 2, "the stalled page is connected")
            await pull(ws, 4000)  # ≈ 46 s of audio, 8 MB: far beyond every buffer on the way
            await asyncio.to_thread(wait_until, lambda: p.state.listeners == 1,
                                    "the stalled page is dropped")

    try:
        asyncio.run(asyncio.wait_for(leader(), HANG))
        stream = p.output
        assert stream is not None and stream.speaker is not None
        assert stream.speaker.dropped == 1
    finally:
        if stalled is not None:
            stalled.close()
        p.close()


def test_the_lead_passes_to_a_page_that_pulls():
    """22.14: the first page never pulls (not yet unlocked, or asleep): a later page that
    pulls takes the lead and hears the player."""
    p = web_player()
    p.play()
    first = stalled_socket(p)
    try:
        wait_until(lambda: p.state.listeners == 1, "the first page is connected")

        async def second() -> None:
            async with aiohttp.ClientSession() as session, session.ws_connect(ws_url(p)) as ws:
                await pull(ws, 200)

        asyncio.run(asyncio.wait_for(second(), HANG))
        assert p.position > 0.0
    finally:
        first.close()
        p.close()


def test_a_ninth_page_is_refused_with_a_reason():
    """22.14: at most 8 listeners; the 9th is told why and closed (try again later)."""
    p = web_player()

    async def pages() -> None:
        async with aiohttp.ClientSession() as session:
            eight = [await session.ws_connect(ws_url(p)) for _ in range(8)]
            readers = [asyncio.ensure_future(drain(ws)) for ws in eight]  # they answer pings
            await asyncio.to_thread(wait_until, lambda: p.state.listeners == 8, "8 listeners")
            ninth = await session.ws_connect(ws_url(p))
            msg = await ninth.receive(timeout=RECEIVE)
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            refusal = json.loads(msg.data)
            assert refusal["type"] == "refused" and "8 pages" in refusal["reason"]
            msg = await ninth.receive(timeout=RECEIVE)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1013
            assert p.state.listeners == 8
            await eight[0].close()
            await asyncio.to_thread(wait_until, lambda: p.state.listeners == 7, "one left")
            again = await session.ws_connect(ws_url(p))  # a free place is taken again
            await pull(again, 2)
            for ws in [*eight[1:], again]:
                await ws.close()
            await asyncio.gather(*readers)

    try:
        asyncio.run(asyncio.wait_for(pages(), HANG))
    finally:
        p.close()


@pytest.mark.slow
def test_a_client_that_never_finishes_its_request_is_cut():
    """22.14: a connection that trickles an incomplete request line and headers is closed
    (after the speaker's header timeout, 10 s), while a page connected before it plays on."""
    p = web_player()
    stream = p.output
    assert stream is not None

    async def page_then_slow() -> None:
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url(p)) as ws:
            await pull(ws, 4)
            slow = socket.create_connection(("127.0.0.1", stream.port))
            slow.settimeout(RECEIVE)
            slow.sendall(b"GET /?t=")
            t0 = time.monotonic()
            cut = asyncio.ensure_future(asyncio.to_thread(slow.recv, 100))
            while not cut.done():  # the page keeps playing (and answering pings) meanwhile
                await pull(ws, 4)
                await asyncio.wait([cut], timeout=0.05)
            slow.close()
            assert cut.result() == b"" and time.monotonic() - t0 < 30
            await pull(ws, 4)  # the page outlived the timeout

    try:
        asyncio.run(asyncio.wait_for(page_then_slow(), HANG))
    finally:
        p.close()


CLOSE_SCRIPT = """
import sys, time
import numpy as np
from progdemix_tui.playback import Player
p = Player(44100, device="web:0")
p.add("A", np.zeros((2, 44100 * 5), np.float32), 44100)
p.open_output()
p.play()
s = p.output
print(s.port, s.token, flush=True)
sys.stdin.readline()
t0 = time.monotonic()
p.close()
print(f"{time.monotonic() - t0:.3f}", flush=True)
"""


def test_quitting_with_a_stalled_page_is_quick_and_quiet():
    """22.14: closing the speaker while a page is stalled ends within a bound (the old server
    took 13 s) and prints nothing ("Task was destroyed but it is pending!")."""
    proc = subprocess.Popen([sys.executable, "-c", CLOSE_SCRIPT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    stalled = None
    try:
        port, token = proc.stdout.readline().split()

        async def page() -> None:
            nonlocal stalled
            url = f"ws://127.0.0.1:{port}/ws?t={token}"
            async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
                await pull(ws, 8)  # this page leads
                stalled = stalled_socket((int(port), token))
                got = [0, time.monotonic()]  # blocks received, when the last one came

                async def play() -> None:
                    for _ in range(50):  # 3200 blocks: more than the stalled socket holds
                        await ws.send_str(json.dumps({"type": "pull", "n": MAX_PULL}))
                        want = got[0] + MAX_PULL
                        while got[0] < want:
                            kind = (await ws.receive()).type
                            if kind == aiohttp.WSMsgType.BINARY:
                                got[:] = [got[0] + 1, time.monotonic()]
                            elif kind != aiohttp.WSMsgType.TEXT:
                                return  # closed

                task = asyncio.ensure_future(play())
                # quit once the page has heard it all, or once it has been starved for 3 s
                # (the old server froze here); either way the stalled page was there
                while not task.done() and time.monotonic() - got[1] < 3.0:
                    await asyncio.wait([task], timeout=0.1)
                proc.stdin.write("\n")
                proc.stdin.flush()
                await asyncio.to_thread(proc.wait, RECEIVE)  # the old server: never
                task.cancel()

        asyncio.run(page())
        elapsed = float(proc.stdout.readline())
        err = proc.stderr.read()
        assert proc.returncode == 0, err
        assert err == "", err
        assert elapsed < 6.0, f"closing took {elapsed} s"
    finally:
        if stalled is not None:
            stalled.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_page_that_stops_answering_is_dropped_by_the_heartbeat():
    """22.14: a page that neither reads nor pulls (nothing flows to fill its queue) is found
    by the WebSocket heartbeat (a ping every 5 s, no pong) and dropped."""
    p = web_player()
    silent = stalled_socket(p)
    try:
        wait_until(lambda: p.state.listeners == 1, "the page is connected")
        wait_until(lambda: p.state.listeners == 0, "the silent page is dropped")
    finally:
        silent.close()
        p.close()


def test_a_ninth_browser_page_says_why():
    """The refusal as a listener sees it: the page shows the reason, not a silent retry."""
    from support.browser import Browser, chromium_path
    chromium_path()
    p = web_player()
    stream = p.output
    assert stream is not None
    browser = None

    async def pages() -> None:
        nonlocal browser
        async with aiohttp.ClientSession() as session:
            eight = [await session.ws_connect(ws_url(p)) for _ in range(8)]
            readers = [asyncio.ensure_future(drain(ws)) for ws in eight]
            await asyncio.to_thread(wait_until, lambda: p.state.listeners == 8, "8 listeners")
            browser = await asyncio.to_thread(Browser, stream.url)
            error = await asyncio.to_thread(browser.wait_for, "window.pdx && window.pdx.error",
                                            "the refusal shown")
            assert "8 pages are already listening" in error
            assert "refused" in await asyncio.to_thread(
                browser.js, "document.getElementById('status').textContent")
            assert p.state.listeners == 8 and stream.speaker is not None
            assert stream.speaker.refused == 1
            for ws in eight:
                await ws.close()
            await asyncio.gather(*readers)

    try:
        asyncio.run(asyncio.wait_for(pages(), HANG))
    finally:
        if browser is not None:
            browser.close()
        p.close()
