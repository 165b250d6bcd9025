"""The chart view: its values are the manifest's, the keys open it, snapshots at 80×24 and
160×48 (update with --snapshot-update after looking at them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_track
from support.tui_helpers import screen_text, sync, wait_for, write_fake_session

from progdemix_tui.tui.app import ProgdemixApp
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.chart_data import Compared, compare_chart, step_chart
from progdemix_tui.tui.screens.chart import ChartPlot, ChartScreen
from progdemix_tui.tui.session_reader import read_session
from progdemix_tui.tui.settings import ENV_DIR, Settings

MODELS = [("hdemucs_mmi (not cached)", "hdemucs_mmi"), ("demo (cached)", "demo")]
ADAPTIVE = {1: (0.375, 0.25), 2: (0.625, 0.5)}  # step: (mean β used, share kept previous)


def add_adaptive(folder: Path) -> None:
    """Give a fake session's steps adaptive-β numbers, as an adaptive run writes them."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["steps"]:
        mean, kept = ADAPTIVE.get(entry["metrics"]["step"], (None, None))
        entry["metrics"]["adaptive_beta_mean"] = mean
        entry["metrics"]["adaptive_kept_previous"] = kept
    path.write_text(json.dumps(manifest))


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    work = tmp_path / "work"
    write_track(work / "track", seconds=1.0)
    add_adaptive(write_fake_session(work / "sessions" / "demo-session", steps=3))
    write_fake_session(work / "sessions" / "other-session", steps=3)
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def app(work) -> ProgdemixApp:
    return ProgdemixApp(".", settings=Settings.load(), backend=NullBackend("no audio device"),
                        models=MODELS, save_settings=False)


def by_label(chart, label):
    return next(s for s in chart.series if s.label == label)


def test_chart_values_are_the_manifests(work):
    folder = work / "sessions" / "demo-session"
    raw = [e["metrics"] for e in json.loads((folder / "manifest.json").read_text())["steps"]]
    view = read_session(folder)
    chart = step_chart(view.rows, view.target, view.sources, view.has_references)
    for stem in view.sources:
        s = by_label(chart, f"{stem} (target)" if stem == "vocals" else stem)
        assert s.steps == [m["step"] for m in raw]
        assert s.values == [m["si_sdr"][stem] for m in raw]
        assert s.axis == "left" and s.emphasis == (stem == "vocals")
    best = max(raw, key=lambda m: m["si_sdr"]["vocals"])
    assert (chart.best, chart.best_value) == (best["step"], best["si_sdr"]["vocals"])
    planned = by_label(chart, "β planned")
    assert planned.axis == "right"
    assert list(zip(planned.steps, planned.values, strict=True)) == [
        (m["step"], m["beta"]) for m in raw if m["beta"] is not None]
    used, kept = by_label(chart, "β used (mean)"), by_label(chart, "kept previous")
    assert dict(zip(used.steps, used.values, strict=True)) == {k: v[0] for k, v in
                                                               ADAPTIVE.items()}
    assert dict(zip(kept.steps, kept.values, strict=True)) == {k: v[1] for k, v in
                                                               ADAPTIVE.items()}
    assert f"best step {best['step']}: vocals {best['si_sdr']['vocals']:.2f} dB" in chart.caption


def test_chart_without_references_shows_estimate_change_and_residual(work):
    view = read_session(work / "sessions" / "other-session")
    chart = step_chart(view.rows, view.target, view.sources, has_references=False)
    change, resid = by_label(chart, "vocals Δest"), by_label(chart, "residual")
    assert change.values == [m.estimate_change["vocals"] for m in view.rows if m.step > 0]
    assert resid.values == [m.residual_db for m in view.rows]
    assert chart.best is None and "β used (mean)" not in {s.label for s in chart.series}


def test_compare_chart_has_one_target_curve_per_session(work):
    views = [read_session(work / "sessions" / n) for n in ("demo-session", "other-session")]
    chart = compare_chart([Compared(v.folder.name, v.target, v.rows, v.has_references)
                           for v in views])
    assert [s.label for s in chart.series] == ["demo-session (vocals)", "other-session (vocals)"]
    assert chart.series[0].values == [m.si_sdr["vocals"] for m in views[0].rows]
    assert len({s.color for s in chart.series}) == 2


@pytest.mark.smoke
@sync
async def test_chart_key_draws_the_opened_sessions_chart(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("C")  # nothing to chart yet: a notice, no screen
        await pilot.pause()
        assert not isinstance(app.screen, ChartScreen)
        app.open_session_folder(Path("sessions/demo-session"))
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        plot = app.screen.query_one(ChartPlot)
        assert plot.chart.best == 1
        await pilot.pause()
        text = screen_text(app)
        assert "SI-SDR (dB)" in text and "β, share" in text and "best step 1" in text
        await pilot.press("D", "S", "n")  # the main screen's views: not over the chart
        await pilot.pause()
        assert isinstance(app.screen, ChartScreen) and not app.diff_strip.display
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ChartScreen))


@sync
async def test_sessions_screen_compares_marked_sessions(app):
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: "demo-session" in screen_text(app))
        await pilot.press("C")  # none marked: a notice only
        await pilot.pause()
        assert not isinstance(app.screen, ChartScreen)
        await pilot.press("space", "down", "space", "C")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        labels = [s.label for s in app.screen.query_one(ChartPlot).chart.series]
        assert sorted(labels) == ["demo-session (vocals)", "other-session (vocals)"]


@sync
async def test_chart_of_many_steps_labels_whole_steps(app):
    from progdemix_tui.engine.progressive import StepMetrics
    from progdemix_tui.tui.chart_data import step_chart

    rows = [StepMetrics(step=k, beta=k / 40 if k else None, seconds=1.0, clip_factor=1.0,
                        loudness_gain_db=0.0, residual_db=-30.0,
                        estimate_change={"vocals": 20.0 + k} if k else None,
                        si_sdr=None, si_sdr_delta=None) for k in range(41)]
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(ChartScreen(step_chart(rows, "vocals", ("vocals",), False)))
        await pilot.pause()
        text = screen_text(app)
        assert "vocals Δest" in text
        ticks = next(line for line in text.splitlines() if line.rstrip().endswith("40"))
        assert "." not in ticks and "0" in ticks.split()  # whole steps, 0 to 40


async def _open_chart(pilot) -> None:
    pilot.app.open_session_folder(Path("sessions/demo-session"))
    await pilot.press("C")
    await pilot.pause()


def test_chart_80x24(app, snap_compare):
    assert snap_compare(app, run_before=_open_chart, terminal_size=(80, 24))


def test_chart_160x48(app, snap_compare):
    assert snap_compare(app, run_before=_open_chart, terminal_size=(160, 48))


async def _compare(pilot) -> None:
    await pilot.press("o")  # the names are the last column, cut at 80 columns: count rows
    await wait_for(pilot, lambda: "2 session(s) in" in screen_text(pilot.app))
    await pilot.press("space", "down", "space", "C")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ChartScreen))
    await pilot.pause()


def test_compare_chart_80x24(app, snap_compare):
    assert snap_compare(app, run_before=_compare, terminal_size=(80, 24))
