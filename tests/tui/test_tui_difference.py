"""The A/B difference map: A − B per half second after level matching, and n takes the
playhead to where two steps differ. No audio device (NullBackend) anywhere here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from support.tui_helpers import screen_text, sync, wait_for

from progdemix_tui import engine
from progdemix_tui.engine.progressive import IterationResult, StepMetrics
from progdemix_tui.playback.difference import FLOOR_DB, difference_map
from progdemix_tui.playback.levels import LevelMatch, match_levels
from progdemix_tui.tui.app import ProgdemixApp
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.settings import ENV_DIR, Settings
from progdemix_tui.tui.widgets.diff_strip import DiffStrip

RATE = 44100
SECONDS = 6.0
DIFFERENT = (3.0, 4.0)  # the one second where step 2's vocals differ from step 1's
SOURCES = ("drums", "bass", "other", "vocals")


def music(seconds: float = SECONDS, rate: int = RATE, seed: int = 0) -> torch.Tensor:
    """``[4, 2, time]``: four steady, different tones with a little noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    return torch.stack([
        torch.stack([0.2 * torch.sin(2 * torch.pi * f * t)] * 2)
        + 0.01 * torch.randn(2, t.numel(), generator=g)
        for f in (110.0, 220.0, 330.0, 440.0)])


def write_differing_session(folder: Path) -> Path:
    """Three steps; step 2's vocals are step 1's plus a burst of noise in :data:`DIFFERENT`
    (all else equal), step 0's are step 1's."""
    config = engine.RunConfig(target="vocals", steps=2,
                              separator=engine.SeparatorConfig(model="tiny"))
    stems = music()
    burst = stems.clone()
    s, e = int(DIFFERENT[0] * RATE), int(DIFFERENT[1] * RATE)
    g = torch.Generator().manual_seed(1)
    burst[3, :, s:e] += 0.2 * torch.randn(2, e - s, generator=g)
    info = {"path": "song.wav", "start": 0.0, "duration": SECONDS, "references": False}
    model = {"name": "tiny", "origin": "test", "parameters": 1, "samplerate": RATE,
             "sources": list(SOURCES)}
    with engine.SessionWriter(folder, config, input_info=info, model_info=model, device="cpu",
                              samplerate=RATE, sources=SOURCES) as writer:
        for k, estimates in enumerate((stems, stems, burst)):
            metrics = StepMetrics(step=k, beta=None if k == 0 else k / 2, seconds=1.0,
                                  clip_factor=1.0, loudness_gain_db=0.0, residual_db=-40.0,
                                  estimate_change=None, si_sdr=None, si_sdr_delta=None)
            writer.write_step(IterationResult(metrics, stems.sum(0), estimates, SOURCES,
                                              "vocals", RATE, 2))
    return folder


def test_difference_map_is_the_matched_difference_per_half_second():
    a = music()[3].numpy().astype(np.float64)
    b = a.copy()
    s = int(1.25 * RATE)
    b[:, s:s + RATE // 4] = 0.0  # B drops out for a quarter second inside window 2
    levels = match_levels(a, b, RATE)
    dm = difference_map(a, b, RATE, levels)
    assert len(dm.levels_db) == SECONDS / 0.5 and dm.window == 0.5
    ga, gb = levels.linear
    d = ga * a - gb * b
    for k, value in enumerate(dm.levels_db):
        part = d[:, k * RATE // 2:(k + 1) * RATE // 2]
        assert value == pytest.approx(10 * np.log10(np.mean(part * part)), abs=1e-6)
    assert dm.ranked()[0] == 2
    same = difference_map(a, a, RATE, LevelMatch())
    assert (same.levels_db == FLOOR_DB).all()


def test_difference_map_refuses_unlike_shapes():
    with pytest.raises(ValueError, match="not \\[channels, time\\] alike"):
        difference_map(np.zeros((2, 10)), np.zeros((1, 10)), RATE, LevelMatch())


@pytest.fixture
def app(tmp_path, monkeypatch) -> ProgdemixApp:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    work = tmp_path / "work"
    write_differing_session(work / "sessions" / "differ")
    (work / "song").mkdir()
    monkeypatch.chdir(work)
    return ProgdemixApp(".", settings=Settings.load(), backend=NullBackend("no audio device"),
                        models=[("demo (cached)", "demo")], save_settings=False)


async def _mark_steps_1_and_2(pilot) -> None:
    pilot.app.open_session_folder(Path("sessions/differ"))
    await pilot.press("z", "down", "a", "down", "b")
    await wait_for(pilot, lambda: pilot.app.player.duration is not None)


@sync
async def test_next_difference_key_moves_the_playhead_to_the_differing_second(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")  # nothing marked: a notice, no map
        await pilot.pause()
        assert not app.diff_strip.display
        await _mark_steps_1_and_2(pilot)
        assert (app.player.a.step, app.player.b.step) == (1, 2)
        await pilot.press("n")
        await wait_for(pilot, lambda: app.player.position != 0.0)
        first = app.player.position
        assert DIFFERENT[0] <= first < DIFFERENT[1]
        await pilot.press("n")  # the next largest: the other half of that second
        await wait_for(pilot, lambda: app.player.position != first)
        assert {first, app.player.position} == {3.0, 3.5}
        strip = app.query_one(DiffStrip)
        assert strip.display and strip.current is not None
        assert "loudest" in screen_text(app) and "dB at 0:03.0" in screen_text(app)
        # cached per pair: a second D/D shows the same map without computing it again
        cached = strip.current
        await pilot.press("D", "D")
        await pilot.pause()
        assert strip.current is cached


def _difference_view(size):
    async def run_before(pilot) -> None:
        await _mark_steps_1_and_2(pilot)
        await pilot.press("D")
        await wait_for(pilot, lambda: pilot.app.diff_strip.current is not None)
        await pilot.press("n")
        await wait_for(pilot, lambda: pilot.app.player.position != 0.0)
        await pilot.pause()
    return run_before


def test_difference_map_80x24(app, snap_compare):
    assert snap_compare(app, run_before=_difference_view((80, 24)), terminal_size=(80, 24))


def test_difference_map_160x48(app, snap_compare):
    assert snap_compare(app, run_before=_difference_view((160, 48)), terminal_size=(160, 48))
