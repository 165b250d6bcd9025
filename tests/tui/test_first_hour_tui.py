"""Issue "First hour", the TUI's part: one key to the first listen, runs told apart, words
that fit the screen (Pilot, 80×24 and 120 columns)."""

from __future__ import annotations

import json
import re

from support.tui_helpers import make_app, screen_text, sync, wait_for, write_fake_session

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


def _session(folder, song: str, beta_max: float = 1.0, schedule: str = "linear"):
    """A fake session of ``song`` (a track folder), with this β cap and schedule."""
    write_fake_session(folder, steps=3)
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["input"]["path"] = f"songs/{song}/mixture.wav"
    manifest["config"].update(beta_max=beta_max, schedule=schedule)
    path.write_text(json.dumps(manifest))


@sync
async def test_sessions_screen_shows_what_tells_runs_apart_first_at_80_columns(
        work, tiny_model_path):
    stamp = "20261204-160055-demo"
    _session(work / "sessions" / f"{stamp}-vocals-add-to-mixture", "Al James - Schoolboy")
    _session(work / "sessions" / f"{stamp}-vocals-add-to-mixture-2", "demo", beta_max=0.5)
    _session(work / "sessions" / f"{stamp}-vocals-add-to-mixture-3", "demo",
             schedule="cosine")
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: "3 session(s) in" in screen_text(app))
        rows = [line for line in screen_text(app).splitlines() if "vocals" in line]
        assert len(rows) == 3
        for words in (("Al James - Schoolboy", "linear ", "3/3", "+1.25"),
                      ("demo", "linear ≤0.5", "3/3", "+1.25"),
                      ("demo", "cosine", "3/3", "+1.25")):
            assert any(all(w in row for w in words) for row in rows), (words, rows)


@sync
async def test_compare_legend_says_what_differs_between_the_runs(work, tiny_model_path):
    from progdemix_tui.tui.screens.chart import ChartScreen

    _session(work / "sessions" / "20261204-160055-demo-vocals-add-to-mixture", "demo")
    _session(work / "sessions" / "20261204-160055-demo-vocals-add-to-mixture-2", "demo",
             beta_max=0.5)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: "2 session(s) in" in screen_text(app))
        await pilot.press("space", "down", "space", "C")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        labels = [s.label for s in app.screen.chart.series]
        assert sorted(labels) == ["linear (vocals)", "linear ≤0.5 (vocals)"]
        await wait_for(pilot, lambda: "linear ≤0.5 (vocals)" in screen_text(app))


def _flat(app) -> str:
    """The screen's text with line breaks and box edges removed (wrapped words rejoined)."""
    return " ".join(line.strip(" │▏▕") for line in screen_text(app).splitlines())


def _region_text(app, selector: str) -> str:
    """The text a widget shows on the screen, its lines joined (wrapped words rejoined)."""
    box = app.screen.query_one(selector).content_region
    lines = screen_text(app).splitlines()[box.y:box.bottom]
    return "".join(line[box.x:box.right].strip() for line in lines)


@sync
async def test_file_info_line_is_whole_at_80_columns(work, tiny_model_path):
    (work / "track").rename(work / "Al James - Schoolboy Facination")  # a MUSDB18 name
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.query_one("#tree").root.children)
        await pilot.press("down")
        await wait_for(pilot, lambda: "reference stems" in app.query_one("#browser").info)
        info = app.query_one("#file-info")
        await wait_for(pilot, lambda: info.size.height > 1)
        box = info.content_region
        shown = screen_text(app).splitlines()[box.y:box.bottom]
        text = " ".join(line[box.x:box.right].strip() for line in shown)
        assert text.split() == app.query_one("#browser").info.split(), text


@sync
async def test_difference_map_header_is_whole_at_120_columns(tmp_path, monkeypatch):
    from progdemix_tui.tui.app import ProgdemixApp
    from progdemix_tui.tui.settings import ENV_DIR, Settings
    from tui.test_tui_difference import write_differing_session

    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    write_differing_session(tmp_path / "sessions" / "differ")
    monkeypatch.chdir(tmp_path)
    app = ProgdemixApp(".", settings=Settings.load(), backend=NullBackend("no audio device"),
                       models=[("demo (cached)", "demo")], save_settings=False)
    async with app.run_test(size=(120, 30)) as pilot:
        app.open_session_folder(tmp_path / "sessions" / "differ")
        await pilot.press("t", "down", "a", "down", "b", "D")
        await wait_for(pilot, lambda: app.diff_strip.current is not None)
        await pilot.pause()
        strip = app.diff_strip
        header = screen_text(app).splitlines()[strip.content_region.y]
        assert "loudest" in header and "n: next largest" in header, header


@sync
async def test_ab_clips_are_written_in_the_chosen_format(work, tiny_model_path):
    import soundfile as sf

    folder = work / "sessions" / "a-session-folder-with-a-long-name-vocals-add-to-mixture"
    write_fake_session(folder, steps=3)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(folder)
        await pilot.press("a", "down", "b")
        await wait_for(pilot, lambda: app.player.levels is not None)
        dest = folder / "export"
        for fmt, name, subtype in (("wav16", "A.wav", "PCM_16"), ("flac", "A.flac", "PCM_24"),
                                   ("float32", "B.wav", "FLOAT")):
            await pilot.press("e")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ExportScreen")
            # the dialog shows its folder whole (the end names where the files go)
            assert _region_text(app, "#export-dest-full") == str(dest)
            await pilot.click("#what-ab")
            if fmt != "wav16":  # the default
                await pilot.click(f"#fmt-{fmt}")
            (dest / name).unlink(missing_ok=True)
            await pilot.click("#export-go")
            await wait_for(pilot, lambda n=name: (dest / n).is_file()
                           and (dest / f"B{(dest / n).suffix}").is_file())
            assert sf.info(str(dest / name)).subtype == subtype, fmt


@sync
async def test_spectrogram_header_names_the_source_once(tmp_path, monkeypatch):
    from progdemix_tui.tui.app import ProgdemixApp
    from progdemix_tui.tui.settings import ENV_DIR, Settings
    from progdemix_tui.tui.widgets.spectrogram_view import SpectrogramView
    from tui.test_tui_difference import write_differing_session
    from tui.test_tui_spectrogram import _show_step_2

    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    write_differing_session(tmp_path / "sessions" / "differ")
    monkeypatch.chdir(tmp_path)
    app = ProgdemixApp(".", settings=Settings.load(), backend=NullBackend("no audio device"),
                       models=[("demo (cached)", "demo")], save_settings=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await _show_step_2(pilot)
        view = app.query_one(SpectrogramView)
        await wait_for(pilot, lambda: "step 2 vocals estimate · " in screen_text(app))
        await pilot.press("v")
        await wait_for(pilot, lambda: view.cue.source == "y_n" and view.current is not None)
        await wait_for(pilot, lambda: "step 2 y_n · " in screen_text(app))
        assert "(y_n)" not in screen_text(app)


@sync
async def test_chart_ticks_axis_and_legend_read_right(work, tiny_model_path):
    from progdemix_tui.engine.progressive import StepMetrics
    from progdemix_tui.tui.chart_data import axis_ticks, step_chart
    from progdemix_tui.tui.screens.chart import ChartScreen

    changes = (None, 0.1, -0.05, -0.3)  # estimate changes either side of 0 dB
    rows = [StepMetrics(step=k, beta=None if k == 0 else k / 3, seconds=1.0, clip_factor=1.0,
                        loudness_gain_db=0.0, residual_db=-0.2 + 0.1 * k,
                        estimate_change=None if c is None else {"vocals": c},
                        si_sdr=None, si_sdr_delta=None) for k, c in enumerate(changes)]
    chart = step_chart(rows, "vocals", ("vocals",), False)
    assert chart.right_label == "β"  # no adaptive β: no shares on that axis
    assert axis_ticks(-0.4, -1e-12)[1] == ["-0.40", "-0.30", "-0.20", "-0.10", "0.00"]
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(ChartScreen(chart))
        await pilot.pause()
        text = screen_text(app)
        assert not re.search(r"-0\.0*(?![0-9])", text) and "β, share" not in text
        plot = app.screen.query_one("#chart-plot").region
        inside = "\n".join(line[plot.x:plot.right]
                           for line in text.splitlines()[plot.y:plot.bottom])
        assert "vocals Δest" not in inside and "residual" not in inside  # legend outside
        assert "vocals Δest" in text and "β planned" in text


class WebLikeBackend(NullBackend):
    """A silent backend that says, as the web speaker does, where its page is."""

    def speaker(self) -> str:
        return "browser http://127.0.0.1:8765/ · 1 listener"


@sync
async def test_blind_message_and_speaker_url_both_fit_at_80_columns(work, tiny_model_path):
    from progdemix_tui.tui.audition_controller import BLIND_HINT

    write_fake_session(work / "sessions" / "s", steps=3)
    app = make_app(".", tiny_model_path, WebLikeBackend())
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("a", "down", "b")
        await wait_for(pilot, lambda: app.player.levels is not None)
        await pilot.press("m")
        await wait_for(pilot, lambda: app.player.blind)
        await wait_for(pilot, lambda: BLIND_HINT["ab"] in screen_text(app)
                       and "browser http://127.0.0.1:8765/ · 1 listener" in screen_text(app))
        footer = screen_text(app).splitlines()[-1]
        assert "Run" in footer  # the bar grew a line; the footer is still drawn
