"""Issue 22 item 2 in the TUI, gaps the first pass left: a file or folder name from a folder
someone sent you reaches the terminal inert in the file browser, its info line and the run
that follows (control characters visible, markup shown as written)."""

from __future__ import annotations

import shutil

from support.tui_helpers import make_app, screen_text, sync, wait_for

TITLE = "\x1b]2;owned\x07"  # sets the window title
CLEAR = "\x1b[2J"  # clears the screen
RAW = ("\x1b", "\x07", "\x9b")


def _inert(text: str) -> None:
    assert not any(ch in text for ch in RAW), repr(text)


@sync
async def test_file_names_with_escapes_are_shown_inert_in_the_browser_and_the_run(
        work, tiny_model_path):
    name = f"song{TITLE}[bold]x{CLEAR}.wav"
    shutil.copy(work / "track" / "mixture.wav", work / name)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: "song" in screen_text(app))
        text = screen_text(app)
        _inert(text)
        assert "song\\x1b]2;owned\\x07[bold]x" in text  # markup shown, not parsed
        browser = app.query_one("FileBrowser")
        assert browser.choose(work / name)
        await wait_for(pilot, lambda: app.input == work / name)
        _inert(screen_text(app))
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.run_view.running and len(app.timeline.rows) == 3)
        await wait_for(pilot, lambda: "complete" in screen_text(app))
        _inert(screen_text(app))


@sync
async def test_a_session_folder_named_with_escapes_opens_and_exports_inert(work,
                                                                          tiny_model_path):
    from support.tui_helpers import write_fake_session

    folder = write_fake_session(work / "sessions" / f"s{TITLE}{CLEAR}", steps=2)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        await wait_for(pilot, lambda: "1 session(s)" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ != "SessionsScreen"
                       and len(app.timeline.rows) == 2)
        text = screen_text(app)
        _inert(text)
        assert "s\\x1b]2;owned\\x07" in text
        await pilot.press("t", "down", "e")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ExportScreen")
        _inert(screen_text(app))
        await pilot.press("enter")  # a blank folder field: the session's own export folder
        await wait_for(pilot, lambda: any((folder / "export").glob("*.wav")))
