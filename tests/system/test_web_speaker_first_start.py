"""The browser speaker from the TUI's first second (issue 23, item 4): the URL is shown and the
port held before anything is marked, the page connects and idles without counting underruns,
shows what plays (A/B, step, stem, position), stays connected while the TUI swaps players and
counts nothing after the TUI has quit. Headless chromium, the real TUI under Pilot."""

from __future__ import annotations

import asyncio

from support.browser import Browser, chromium_path
from support.tui_helpers import make_app, sync, wait_for, write_fake_session
from tui.test_tui_audition import MODELS

from progdemix_tui.tui.player_backend import PlayerBackend


async def mark_ab(pilot, app, work):
    """Steps 0 and 2 of a session marked A and B, loaded. The audio lasts 8 s: the page
    reports what plays four times a second, so a short clip (the audition tests' 0.5 s) can
    end between two reports on a busy machine and 'playing' is never seen (the cause of this
    test's earlier flakiness)."""
    write_fake_session(work / "sessions" / "s", steps=3, seconds=8.0)
    app.open_session_folder(work / "sessions" / "s")
    await pilot.press("a", "down", "down", "b")
    await wait_for(pilot, lambda: app.player.levels is not None and not app.player.loading)


def status(app) -> str:
    """The player bar's status line and its speaker line (the web URL and listeners)."""
    return " ".join(str(app.query_one(f"#player-{part}").render())
                    for part in ("status", "speaker"))


@sync
async def test_url_from_the_start_and_the_page_shows_what_plays(work, tiny_model_path):
    chromium_path()
    backend = PlayerBackend(device="web:0")
    app = make_app(".", tiny_model_path, backend=backend, models=MODELS)
    browser = None
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            url = (backend.speaker() or "").split()[1]  # 'browser URL · 0 listeners'
            assert url.startswith("http://127.0.0.1:")
            await wait_for(pilot, lambda: f"browser {url} · 0 listeners" in status(app))
            assert app.player.a is None and app.player.b is None  # nothing marked yet
            browser = await asyncio.to_thread(Browser, url + "&buf=1000")
            await wait_for(pilot, lambda: "· 1 listener " in status(app) + " ")

            def page(expression: str, what: str):
                return asyncio.to_thread(browser.wait_for, expression, what)

            def js(expression: str):  # the browser's client has its own event loop
                return asyncio.to_thread(browser.js, expression)

            # the page plays silence while nothing is chosen: no underrun counted
            await page("window.pdx && window.pdx.stats && window.pdx.stats.consumed >= 2 * 44100",
                       "2 s of silence consumed")
            assert "nothing to play yet" in await js("document.getElementById('now').textContent")
            assert await js("window.pdx.stats.underruns") == 0

            await mark_ab(pilot, app, work)
            await pilot.press("space")
            now = await page("window.pdx.now && window.pdx.now.playing && "
                             "window.pdx.now.position > 0.3 && window.pdx.now", "playing")
            assert now["slot"] == "A" and now["label"].startswith("step ")
            text = await js("document.getElementById('now').textContent")
            assert text.startswith("▶ playing A: step ") and " / 0:0" in text
            await pilot.press("x")
            await page("window.pdx.now.slot === 'B'", "B playing")
            assert (await js("window.pdx.now.label")).startswith("step ")
            await pilot.press("space")
            await page("window.pdx.now.playing === false", "paused")
            assert "⏸ paused B: step " in await js("document.getElementById('now').textContent")
            await pilot.press("space")
            await page("window.pdx.now.playing === true", "playing again")
            assert await js("window.pdx.closed") is None  # one connection all along
        # the TUI has quit while playing: the page is told, and counts nothing from here on
        await page("window.pdx.closed", "the page sees the TUI quit")
        consumed, underruns = await js("[window.pdx.stats.consumed, window.pdx.stats.underruns]")
        await page("document.getElementById('status').textContent.includes('reconnecting')",
                   "the page says it is reconnecting")
        # (underruns while playing are the machine's scheduling, measured in the bench)
        assert await js("window.pdx.stats.underruns") == underruns
        assert await js("window.pdx.stats.consumed") == consumed
    finally:
        if browser is not None:
            await asyncio.to_thread(browser.close)
        backend.close()
