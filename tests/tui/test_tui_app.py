"""End-to-end pilot tests of the TUI at 80×24 with the tiny model and 2 s tracks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
from support import tui_helpers
from support.tui_helpers import screen_text, sync, wait_for, write_fake_session

from progdemix_tui.engine import open_session
from progdemix_tui.tui.app import ProgdemixApp
from progdemix_tui.tui.settings import Settings
from progdemix_tui.tui.widgets.file_browser import FileBrowser

MODELS = [("hdemucs_mmi (not cached)", "hdemucs_mmi"), ("demo (not cached)", "demo")]


def make_app(path, model_file, **params) -> ProgdemixApp:
    return tui_helpers.make_app(path, model_file, models=MODELS, **params)


def session_dirs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "sessions").glob("*") if p.is_dir())


@pytest.mark.smoke
@sync
async def test_pick_run_select_export(work, tiny_model_path):
    app = make_app(".", tiny_model_path, duration="1")
    async with app.run_test(size=(80, 24)) as pilot:
        # pick the track by typing its path
        await pilot.click("#path-input")
        await pilot.press(*"track", "enter")
        await wait_for(pilot, lambda: app.input is not None)
        assert app.input == Path("track")
        assert "reference stems found" in app.query_one(FileBrowser).info
        # set a parameter through the panel
        await pilot.press("p")
        app.panel.set_value("steps", "2")
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.run_view.running and len(app.timeline.rows) == 3)
        assert app.timeline.table.row_count == 3
        await wait_for(pilot, lambda: "complete" in screen_text(app))
        assert "★" in screen_text(app)
        # select step 1 and export its target
        await pilot.press("t", "down")
        await wait_for(pilot, lambda: app.player.selection and app.player.selection.step == 1)
        folder = session_dirs(work)[0]
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ExportScreen")
        await pilot.press("enter")
        export = folder / "export"
        await wait_for(pilot, lambda: (export / "step001_vocals.wav").is_file())
        assert sf.info(export / "step001_vocals.wav").subtype == "PCM_16"  # wav16, the first
        assert not (export / "step001_drums.wav").exists()
        # settings were saved on run
    saved = json.loads(Settings.load().path.read_text())
    assert saved["params"]["steps"] == "2"
    session = open_session(folder)
    assert session.status == "complete" and len(session.steps) == 3


def footer_keys(app) -> list[str]:
    return [key.description for key in app.screen.query("FooterKey")]


@sync
async def test_cancel_keeps_completed_steps(work, tiny_model_path):
    app = make_app("track", tiny_model_path, steps="500")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.input == Path("track")
        await wait_for(pilot, lambda: "Run" in footer_keys(app))  # the footer is drawn
        assert "Cancel" not in footer_keys(app)  # the footer shows it during a run only
        await pilot.press("r")
        await wait_for(pilot, lambda: len(app.timeline.rows) >= 1)
        await wait_for(pilot, lambda: "Cancel" in footer_keys(app))
        await pilot.press("c")
        await wait_for(pilot, lambda: not app.run_view.running)
        await wait_for(pilot, lambda: "cancelled" in screen_text(app))
        await wait_for(pilot, lambda: "Cancel" not in footer_keys(app))
    folder = session_dirs(work)[0]
    session = open_session(folder)
    assert session.status == "cancelled"
    assert 1 <= len(session.steps) < 501


@pytest.mark.smoke
@sync
async def test_invalid_parameters_block_the_run(work, tiny_model_path):
    app = make_app("track", tiny_model_path, steps="abc", beta_max="2")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await pilot.pause()
        assert not app.run_view.running
        assert app.query_one("#p-steps").has_class("-invalid")
        assert app.query_one("#p-beta_max").has_class("-invalid")
        await wait_for(pilot, lambda: "steps must be a whole number" in screen_text(app))
        assert "cannot run" in screen_text(app)
        # fixing them clears the flags
        app.panel.set_value("steps", "1")
        app.panel.set_value("beta_max", "0.5")
        await pilot.pause()
        assert not app.query_one("#p-steps").has_class("-invalid")
    assert not (work / "sessions").exists()


@sync
async def test_engine_errors_are_shown_and_the_app_survives(work, tiny_model_path):
    (work / "bad.wav").write_bytes(b"this is not audio at all" * 10)
    app = make_app("track", tiny_model_path, model_path="", model="no_such_model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.run_view.running and app.run_view.last_error is not None)
        assert "unknown model 'no_such_model'" in app.run_view.last_error
        await wait_for(pilot, lambda: "failed" in screen_text(app))
        assert any("unknown model" in str(n.message) for n in app._notifications)
        # a file that is not audio is refused as an input, with the reason
        await pilot.click("#path-input")
        await pilot.press(*"bad.wav", "enter")
        await wait_for(pilot, lambda: "not a readable audio" in app.query_one(FileBrowser).info)
        assert app.input == Path("track")
        # still responsive: Esc leaves the field, the help screen opens and closes
        await pilot.press("escape", "question_mark")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "Screen")


@pytest.mark.smoke
@sync
async def test_reopen_session_restores_timeline(work, tiny_model_path):
    write_fake_session(work / "sessions" / "old-run", steps=3)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        assert "Δ0 dB" in screen_text(app)  # the name is the last column (off screen at 80)
        assert [s.folder.name for s in app.screen.sessions] == ["old-run"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.timeline.rows) == 3)
        assert app.timeline.best == 1
        await wait_for(pilot, lambda: "tiny · vocals · add-to-mixture" in screen_text(app))
        # A from this session, B from another one
        write_fake_session(work / "sessions" / "other-run", steps=2)
        await pilot.press("a")
        app.open_session_folder(work / "sessions" / "other-run")
        await pilot.pause()
        await pilot.press("b")
        await wait_for(pilot, lambda: app.player.gain_b_db is not None)
        assert app.player.a.folder.name == "old-run"
        assert app.player.b.folder.name == "other-run"
        await wait_for(pilot, lambda: "‹old-run›" in screen_text(app)
                       and "‹other-run›" in screen_text(app))  # marks name their runs
        # export the A/B clips (useful without an audio device)
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ExportScreen")
        await pilot.click("#what-ab")
        await pilot.click("#export-go")
        dest = work / "sessions" / "other-run" / "export"
        await wait_for(pilot, lambda: (dest / "B.wav").is_file())
        assert sf.info(str(dest / "A.wav")).frames > 0


@sync
async def test_player_keys_without_audio_device(work, tiny_model_path):
    write_fake_session(work / "sessions" / "s", steps=3)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("down", "a", "s", "v", "down", "b")
        await wait_for(pilot, lambda: app.player.b is not None)
        assert app.player.b.stem == "drums" and app.player.b.source == "y_n"
        await pilot.press("space")
        await wait_for(pilot, lambda: "no audio device" in screen_text(app))
        await pilot.press("right_square_bracket", "l", "right_square_bracket", "l")
        assert app.player.loop is not None
        await pilot.press("x")
        assert app.player.active == "B"
        await pilot.press("m")
        await wait_for(pilot, lambda: "1: ? │ 2: ?" in screen_text(app))
        await pilot.press("d")
        assert app.theme == "textual-light"
        await pilot.press("z")
        assert not app.query_one("#sidebar").display


@sync
async def test_command_palette_runs_the_keys_actions(work, tiny_model_path):
    """The palette's entries (tui/keys.PALETTE) run the same actions as their keys."""
    from textual.command import CommandPalette

    from progdemix_tui.tui.keys import palette

    assert ("Toggle light/dark", "Switch theme (d)", "toggle_theme") in palette()
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        theme = app.theme
        for query, done in (("Toggle light", lambda: app.theme != theme),
                            ("Toggle side", lambda: not app.query_one("#sidebar").display)):
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*query)
            await wait_for(pilot, lambda q=query: q in screen_text(app))
            await pilot.press("enter")
            await wait_for(pilot, done)


@sync
async def test_palette_lists_keys_once_and_its_theme_is_kept(work, tiny_model_path):
    """Textual's own "Keys" is not listed beside ours; a theme picked with the palette's
    "Theme" is saved and applied at the next start."""
    from textual.command import CommandPalette

    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles.count("Keys") == 1
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Theme")
        await wait_for(pilot, lambda: "Change the current theme" in screen_text(app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "nord" in screen_text(app))
        await pilot.press(*"nord", "enter")
        await wait_for(pilot, lambda: app.theme == "nord")
    assert Settings.load().ui["theme"] == "nord"
    again = make_app(".", tiny_model_path)
    async with again.run_test(size=(80, 24)):
        assert again.theme == "nord"


@sync
async def test_notifications_leave_the_player_bar_visible(work, tiny_model_path):
    from textual.widgets._toast import Toast

    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        for n in range(3):
            app.notify(f"note {n}\nsecond line", timeout=30)
        await wait_for(pilot, lambda: len(app.screen.query(Toast)) == 3)
        await pilot.pause()
        bar = app.query_one("#player").region
        for toast in app.screen.query(Toast):
            assert not toast.region.overlaps(bar), (toast.region, bar)
        assert "sel: —" in screen_text(app)


@sync
async def test_a_refused_run_keeps_the_bad_field_safe_and_clears_when_fixed(work, tiny_model_path):
    """After a refusal the focus is in the field that was wrong (issue "First hour" 10: it
    went to the model field, 8 Tabs away); Esc leaves it with the footer's keys back; fixing
    the field takes the refusal away."""
    from textual.widgets import Input

    app = make_app("track", tiny_model_path, steps="abc")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: "cannot run" in screen_text(app))
        assert app.query_one("#params").display and app.query_one("#p-steps").has_class("-invalid")
        assert app.focused is app.query_one("#p-steps")
        await pilot.press("escape")  # out of the field: r tries again, the field untouched
        await wait_for(pilot, lambda: not isinstance(app.focused, Input))
        await pilot.press("r")  # refused again, back in the field
        await wait_for(pilot, lambda: app.focused is app.query_one("#p-steps"))
        assert app.panel.values()["steps"] == "abc"
        await pilot.press("escape")
        await wait_for(pilot, lambda: "Run" in screen_text(app).splitlines()[-1])  # footer
        await pilot.click("#p-steps")  # in a text field the footer names Esc
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await wait_for(pilot, lambda: "Leave field" in screen_text(app).splitlines()[-1])
        app.panel.set_value("steps", "1")
        await wait_for(pilot, lambda: "cannot run" not in screen_text(app))
        assert "input: track" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.focused, Input)
    assert not (work / "sessions").exists()


@sync
async def test_the_progress_bar_stops_after_a_failed_run(work, tiny_model_path):
    from textual.widgets import ProgressBar

    write_fake_session(work / "sessions" / "s", steps=2)
    app = make_app("track", tiny_model_path, model_path="", model="no_such_model")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.run_view.running
                       and app.run_view.last_error is not None)
        bar = app.query_one("#progress", ProgressBar)
        assert bar.total is not None  # None: the indeterminate bar, animating
        bar.update(total=None)  # as a run that never started leaves it
        assert app.open_session_folder(work / "sessions" / "s")
        assert bar.total is not None


@sync
async def test_listening_keys_with_nothing_marked_say_why(work, tiny_model_path):
    """x, l and Space with nothing marked say one line and change nothing; without a device
    the bar shows A/B's total length and never a ▶ over a clock that does not move."""
    from progdemix_tui.formatting import fmt_time

    write_fake_session(work / "sessions" / "s", steps=2, seconds=0.5)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one("#player-status")
        for key, words in (("x", "mark both first"), ("l", "loop: nothing to play"),
                           ("space", "nothing to play")):
            await pilot.press(key)
            await wait_for(pilot, lambda w=words: w in str(status.render()))
        assert app.player.active == "A" and app.player.loop_start is None
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("a", "down", "b")
        await wait_for(pilot, lambda: app.player.duration is not None and not app.player.loading)
        line = str(app.query_one("#player-line").render())
        assert f"0:00.0/{fmt_time(app.player.duration)}" in line
        await pilot.press("space")
        await wait_for(pilot, lambda: "nothing sounds" in str(status.render()))
        assert not app.player.playing and "⏸" in str(app.query_one("#player-line").render())


@sync
async def test_export_dialog_is_keyboard_first_and_reads_without_colour(work, tiny_model_path):
    write_fake_session(work / "sessions" / "s", steps=2)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ExportScreen")
        await wait_for(pilot, lambda: app.focused is not None
                       and app.focused.id == "export-what")
        assert "(•) target (vocals)" in screen_text(app) and "( ) all stems" in screen_text(app)
        assert all(f"{mark} {fmt}" in screen_text(app)  # the export command's formats
                   for mark, fmt in (("(•)", "wav16"), ("( )", "wav24"), ("( )", "float32"),
                                     ("( )", "flac"), ("( )", "mp3")))
        await pilot.press("down")  # arrows choose
        await wait_for(pilot, lambda: "(•) + no_vocals" in screen_text(app))
        await pilot.press("down")
        await wait_for(pilot, lambda: "(•) all stems" in screen_text(app))
        assert "( ) target" in screen_text(app)
        await pilot.press("enter")
        export = work / "sessions" / "s" / "export"
        await wait_for(pilot, lambda: (export / "step000_other.wav").is_file())
        assert (export / "step000_drums.wav").is_file()


@sync
async def test_which_run_is_this(work, tiny_model_path):
    """The timeline's title is the opened session's own parameters, not the panel's; the
    sessions screen shows mode, model and date whole at 100 columns."""
    from progdemix_tui.engine import open_session as read

    folder = write_fake_session(work / "sessions" / "20261125-171753-mixture-vocals", steps=3)
    created = read(folder).manifest["created"][:16].replace("T", " ")
    app = make_app(".", tiny_model_path, steps="7", beta_max="0.5", mode="replace")
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.open_session_folder(folder)
        title = str(app.query_one("#timeline-title").render())
        assert "tiny · vocals · add-to-mixture · linear β≤1 · 2 steps" in title, title
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        await wait_for(pilot, lambda: "add-to-mixture" in screen_text(app))
        text = screen_text(app)
        assert "tiny" in text and created in text, text
