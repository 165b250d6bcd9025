"""The spectrogram view: log-frequency bands that put a tone where it belongs, bounded for
long audio, and the view of the selected step's source in the app (snapshots 80×24, 160×48)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.tui_helpers import screen_text, sync, wait_for

from progdemix_tui.engine.spectrogram import MAX_FRAMES, spectrogram
from progdemix_tui.tui.app import ProgdemixApp
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.settings import ENV_DIR, Settings
from progdemix_tui.tui.widgets.spectrogram_view import SpectrogramView, cells
from tui.test_tui_difference import DIFFERENT, write_differing_session

RATE = 44100


@pytest.mark.parametrize("hz", [100.0, 1000.0, 8000.0])
def test_a_tone_lands_in_its_band(hz):
    t = np.arange(RATE) / RATE
    spec = spectrogram(np.stack([np.sin(2 * np.pi * hz * t)] * 2), RATE)
    band = int(spec.db[:, spec.db.shape[1] // 2].argmax())
    width = spec.edges_hz[band + 1] / spec.edges_hz[band]
    assert spec.edges_hz[band] / width <= hz <= spec.edges_hz[band + 1] * width
    assert np.all(np.diff(spec.edges_hz) > 0) and spec.edges_hz[-1] == RATE / 2


def test_long_audio_is_bounded_in_frames():
    spec = spectrogram(np.zeros((1, 8000 * 600), dtype=np.float32), 8000)  # ten minutes
    assert spec.db.shape[1] <= MAX_FRAMES
    assert spec.duration == pytest.approx(600, rel=0.01)


def test_refuses_empty_audio():
    with pytest.raises(ValueError, match="not \\[channels, time\\]"):
        spectrogram(np.zeros((2, 0)), RATE)


@pytest.fixture
def app(tmp_path, monkeypatch) -> ProgdemixApp:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    work = tmp_path / "work"
    write_differing_session(work / "sessions" / "differ")
    monkeypatch.chdir(work)
    return ProgdemixApp(".", settings=Settings.load(), backend=NullBackend("no audio device"),
                        models=[("demo (cached)", "demo")], save_settings=False)


async def _show_step_2(pilot) -> None:
    pilot.app.open_session_folder(Path("sessions/differ"))
    await pilot.press("z", "down", "down", "S")
    view = pilot.app.query_one(SpectrogramView)
    await wait_for(pilot, lambda: view.current is not None and view.cue.step == 2)


@sync
async def test_spectrogram_of_the_selected_step_and_source(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await _show_step_2(pilot)
        view = app.query_one(SpectrogramView)
        assert (view.cue.step, view.cue.stem, view.cue.source) == (2, "vocals", "estimate")
        # step 2's vocals hold a noise burst in DIFFERENT: its high bands are loud only there
        spec = view.current
        high = spec.db[spec.edges_hz[:-1] > 4000].mean(axis=0)
        t = np.arange(len(high)) * spec.hop
        inside = (t >= DIFFERENT[0] + 0.1) & (t < DIFFERENT[1] - 0.1)
        outside = (t < DIFFERENT[0] - 0.1) | (t > DIFFERENT[1] + 0.1)
        assert high[inside].min() > high[outside].max() + 20
        levels = cells(spec, 60, 10)
        assert levels.shape == (20, 60) and levels.max() == 1.0
        assert "vocals" in screen_text(app) and "log" in screen_text(app)
        await pilot.press("v")  # the next source: y_n, computed and cached too
        await wait_for(pilot, lambda: view.cue.source == "y_n" and view.current is not None)
        assert len(view.cache) == 2
        await pilot.press("S")
        assert not view.display


def _view(pilot_size):
    async def run_before(pilot) -> None:
        await _show_step_2(pilot)
        await pilot.pause()
    return run_before


def test_spectrogram_80x24(app, snap_compare):
    assert snap_compare(app, run_before=_view((80, 24)), terminal_size=(80, 24))


def test_spectrogram_160x48(app, snap_compare):
    assert snap_compare(app, run_before=_view((160, 48)), terminal_size=(160, 48))
