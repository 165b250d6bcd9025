"""Issue "First hour", the TUI's part: one key to the first listen, runs told apart, words
that fit the screen (Pilot, 80×24 and 120 columns)."""

from __future__ import annotations

from tui_helpers import make_app, screen_text, sync, wait_for, write_fake_session

from progdemix_tui.tui.audition import NullBackend


class SoundingBackend(NullBackend):
    """A backend that says it can sound and records play/pause (nothing is heard)."""

    available = True

    def __init__(self) -> None:
        super().__init__("")
        self.calls: list[str] = []

    def play(self) -> None:
        self.calls.append("play")

    def pause(self) -> None:
        self.calls.append("pause")


@sync
async def test_space_with_nothing_marked_plays_the_selected_step_as_a(work, tiny_model_path):
    write_fake_session(work / "sessions" / "s", steps=3)
    backend = SoundingBackend()
    app = make_app(".", tiny_model_path, backend)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("down", "space")
        await wait_for(pilot, lambda: app.player.playing)
        assert app.player.a is not None and app.player.a.step == 1 and app.player.b is None
        assert backend.calls == ["play"]
        await wait_for(pilot, lambda: screen_text(app).count("▶ A") == 1)
        await pilot.press("space")  # then Space pauses, as before
        await wait_for(pilot, lambda: not app.player.playing)
        assert backend.calls == ["play", "pause"] and app.player.a.step == 1
