"""Debian's headless chromium, driven over the DevTools protocol (aiohttp's websocket client).

Nothing is downloaded: the browser is ``/usr/bin/chromium`` (or $CHROMIUM). Without it the
tests skip with a reason, except in CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

HANG = 300.0  # bounds a wait that would otherwise hang; never a race against a busy machine


def chromium_path() -> str:
    """The browser's path, or skip (fail in CI) when there is none."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        reason = "no chromium (apt-get install chromium) for the web speaker tests"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


class Browser:
    """One headless chromium with one page at ``url``; :meth:`js` evaluates in that page."""

    def __init__(self, url: str, before_load: str | None = None) -> None:
        """``before_load``: a script run in the page before its own (the page is navigated to
        ``url`` after it is installed)."""
        self._dir = tempfile.mkdtemp(prefix="pdx-chromium-")
        self.proc = subprocess.Popen(
            [chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--autoplay-policy=no-user-gesture-required",
             "--remote-debugging-port=0", f"--user-data-dir={self._dir}", "about:blank" if before_load else url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._dir) / "DevToolsActivePort"
        deadline = time.monotonic() + HANG
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"chromium did not start (exit {self.proc.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets: list[dict[str, Any]] = []
        while not any(t.get("type") == "page" for t in targets):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                targets = json.load(r)
            time.sleep(0.05)
        ws_url = next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"]
        self._loop = asyncio.new_event_loop()
        self._ws, self._session = self._loop.run_until_complete(self._connect(ws_url))
        self._id = 0
        if before_load:
            self.call("Page.enable", {})
            self.call("Page.addScriptToEvaluateOnNewDocument", {"source": before_load})
            self.call("Page.navigate", {"url": url})

    async def _connect(self, url: str) -> tuple[Any, Any]:
        import aiohttp
        session = aiohttp.ClientSession()
        return await session.ws_connect(url, max_msg_size=0), session

    def js(self, expression: str) -> Any:
        """The value of ``expression`` (awaited if a promise) in the page."""
        result = self.call("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"page error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One DevTools protocol command; its result."""
        self._id += 1
        return self._loop.run_until_complete(self._call(self._id, method, params))

    async def _call(self, ident: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            msg = json.loads((await self._ws.receive(timeout=HANG)).data)
            if msg.get("id") == ident:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return dict(msg["result"])

    def wait_for(self, expression: str, what: str) -> Any:
        """Poll ``expression`` until truthy (no deadline but :data:`HANG`)."""
        deadline = time.monotonic() + HANG
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"page never reached: {what}")
            time.sleep(0.05)

    def close(self) -> None:
        self._loop.run_until_complete(self._ws.close())
        self._loop.run_until_complete(self._session.close())
        self._loop.close()
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)
