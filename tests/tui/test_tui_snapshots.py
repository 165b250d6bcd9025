"""Snapshot tests of the TUI (pytest-textual-snapshot). Update with --snapshot-update.

Everything rendered is independent of tmp paths and times: the app runs in a tmp folder
given as ".", the model list is fixed, and the timeline comes from a session with fixed
metrics.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import HANG_TIMEOUT, write_track
from support.tui_helpers import screen_text, wait_for, write_fake_session

from progdemix_tui.tui.app import ProgdemixApp
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.settings import ENV_DIR, Settings

MODELS = [("hdemucs_mmi (not cached)", "hdemucs_mmi"), ("demo (cached)", "demo")]


@pytest.fixture
def app(tmp_path, monkeypatch) -> ProgdemixApp:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    work = tmp_path / "work"
    write_track(work / "track", seconds=1.0)
    write_fake_session(work / "sessions" / "demo-session", steps=3)
    monkeypatch.chdir(work)
    return ProgdemixApp(".", settings=Settings.load(), backend=NullBackend("no audio device"),
                        models=MODELS, save_settings=False)


def test_main_screen_80x24(app, snap_compare):
    assert snap_compare(app, terminal_size=(80, 24))


def test_main_screen_160x48(app, snap_compare):
    assert snap_compare(app, terminal_size=(160, 48))


def test_help_screen(app, snap_compare):
    assert snap_compare(app, press=["question_mark"], terminal_size=(80, 24))


def test_params_tab(app, snap_compare):
    assert snap_compare(app, press=["p"], terminal_size=(80, 24))


async def _open_session(pilot) -> None:
    pilot.app.open_session_folder(Path("sessions/demo-session"))
    await wait_for(pilot, lambda: len(pilot.app.timeline.rows) == 3)


def test_timeline_with_metrics(app, snap_compare):
    async def open_session(pilot) -> None:
        await _open_session(pilot)
        await pilot.press("down")
        await wait_for(pilot, lambda: pilot.app.player.selection is not None)
        await pilot.pause()

    assert snap_compare(app, run_before=open_session, terminal_size=(80, 24))


def test_timeline_wide_without_sidebar(app, snap_compare):
    async def open_session(pilot) -> None:
        await _open_session(pilot)
        await pilot.press("z", "down", "down", "a")
        await wait_for(pilot, lambda: pilot.app.player.duration is not None
                       and not pilot.app.player.loading)
        await pilot.pause()

    assert snap_compare(app, run_before=open_session, terminal_size=(100, 24))


async def _mark_ab(pilot, timeout: float = HANG_TIMEOUT) -> None:
    """Mark steps 0 and 2 as A and B; wait (however long a busy machine takes, failing
    only after ``timeout``) until they are read and level-matched in their thread."""
    await _open_session(pilot)
    await pilot.press("z", "a", "down", "down", "b")
    await wait_for(pilot, lambda: pilot.app.player.levels is not None
                   and not pilot.app.player.loading, timeout=timeout)
    await pilot.pause()


def test_ab_marks_with_loudness_gain(app, snap_compare):
    assert snap_compare(app, run_before=_mark_ab, terminal_size=(100, 24))


def test_abx_test_running(app, snap_compare):
    async def abx(pilot) -> None:
        await _mark_ab(pilot)
        await pilot.press("M", "x", "x")
        await wait_for(pilot, lambda: pilot.app.player.blind)
        pilot.app.clear_notifications()  # the toast would hide the player bar
        await pilot.pause()

    assert snap_compare(app, run_before=abx, terminal_size=(80, 24))


def test_goto_screen_with_an_error(app, snap_compare):
    async def goto_past_the_end(pilot) -> None:
        await _mark_ab(pilot)
        await pilot.press("l", "right_square_bracket", "l", "g", *"4:10", "enter")
        await wait_for(pilot, lambda: "past the end" in screen_text(pilot.app))
        await pilot.pause()

    assert snap_compare(app, run_before=goto_past_the_end, terminal_size=(80, 24))
