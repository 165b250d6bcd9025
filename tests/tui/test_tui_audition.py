"""Pilot tests of running the highlighted entry, blind A/B and ABX tests, loudness matching,
``--audio-device``, the offline default model and go to time (80×24, no audio device
needed)."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import HANG_TIMEOUT, write_track
from support import tui_helpers
from support.tui_helpers import screen_text, sync, wait_for, write_fake_session

from progdemix_tui.cli import tui as tui_cli
from progdemix_tui.cli.tui import OFFLINE_NOTICE, build_app, offline_model_fallback
from progdemix_tui.engine import open_session
from progdemix_tui.engine.mixing import integrated_loudness
from progdemix_tui.playback import AudioUnavailable, match_levels
from progdemix_tui.tui import audition_controller, player_backend
from progdemix_tui.tui.app import ProgdemixApp
from progdemix_tui.tui.audition import NullBackend, open_backend, parse_device, session_tag
from progdemix_tui.tui.keys import HELP
from progdemix_tui.tui.player_backend import PlayerBackend
from progdemix_tui.tui.settings import Settings

MODELS = [("hdemucs_mmi (not cached)", "hdemucs_mmi"), ("demo (cached)", "demo")]


def make_app(path, model_file, backend=None, **params) -> ProgdemixApp:
    return tui_helpers.make_app(path, model_file, backend, models=MODELS, **params)


def player_line(app) -> str:
    return str(app.query_one("#player-line").render())


# ---------------------------------------------------------------------- 1. run highlighted


@pytest.mark.slow
@sync
async def test_r_runs_the_highlighted_entry(work, tiny_model_path):
    app = make_app(".", tiny_model_path, duration="1")
    async with app.run_test(size=(80, 24)) as pilot:
        # the root folder is highlighted: not an input
        await pilot.press("r")
        await wait_for(pilot, lambda: "cannot run: choose an input first"
                       in str(app.query_one("#progress-label").render()))
        assert app.input is None and not app.run_view.running
        await wait_for(pilot, lambda: app.query_one("#tree").root.children)
        await pilot.press("down")  # highlight the track folder (not chosen with Enter)
        await wait_for(pilot, lambda: "reference stems found" in app.query_one("#browser").info)
        assert app.input is None
        await pilot.press("r")
        await wait_for(pilot, lambda: app.run_view.running or app.run_view.folder is not None)
        assert app.input.name == "track"
        assert any("running the highlighted track" in str(n.message)
                   for n in app._notifications)
        await wait_for(pilot, lambda: not app.run_view.running and len(app.timeline.rows) == 3)
    session = open_session(next((work / "sessions").iterdir()))
    assert session.status == "complete"
    assert Path(session.manifest["input"]["path"]).parent.name == "track"


@sync
async def test_explicit_choice_wins_over_the_highlight(work, tiny_model_path):
    write_track(work / "other", seconds=1.0)
    app = make_app(".", tiny_model_path, steps="1")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click("#path-input")
        await pilot.press(*"other", "enter")
        await wait_for(pilot, lambda: app.input == Path("other"))
        await pilot.press("escape")
        app.query_one("#tree").focus()
        await wait_for(pilot, lambda: app.query_one("#tree").root.children)
        await pilot.press("down", "down")  # highlight something else
        await pilot.press("r")
        await wait_for(pilot, lambda: app.run_view.folder is not None)
        assert app.input == Path("other")
        assert "other" in app.run_view.folder.name
        await wait_for(pilot, lambda: not app.run_view.running)


# ---------------------------------------------------------------------- 2. blind tests


def peek_x(backend) -> str:
    """What X really is (test only: the UI never shows it before revealing)."""
    test = backend._blind if isinstance(backend, NullBackend) else backend._player._blind
    return test.source_for("X")


BACKENDS = {"null": lambda: NullBackend("no audio device", blind_seed=1),
            "player": lambda: PlayerBackend(check_devices=False)}


async def mark_ab(pilot, app, work):
    write_fake_session(work / "sessions" / "s", steps=3)
    app.open_session_folder(work / "sessions" / "s")
    await pilot.press("a", "down", "down", "b")
    await wait_for(pilot, lambda: app.player.levels is not None and not app.player.loading)


@pytest.mark.parametrize("kind", sorted(BACKENDS))
@sync
async def test_blind_preference_tally_and_reveal(work, tiny_model_path, kind):
    backend = BACKENDS[kind]()
    app = make_app(".", tiny_model_path, backend=backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await mark_ab(pilot, app, work)
        await pilot.press("m")
        await wait_for(pilot, lambda: "1: ? │ 2: ?" in screen_text(app))
        line = player_line(app)
        assert "step 0" not in line and "step 2" not in line  # the marks are hidden
        assert "blind #1 prefer A 0 B 0" in line
        assert line.startswith("⏸ 1 ")
        await pilot.press("x")
        assert player_line(app).startswith("⏸ 2 ") and app.player.slot == "2"
        # marks are refused while the test runs
        await pilot.press("a")
        assert "blind test is running" in screen_text(app)
        await pilot.press("1", "2", "1")
        state = backend.blind_state()
        assert state.tally.trials == 3 and state.trial == 4
        prefer = {"A": 0, "B": 0}
        for _, _, truth, _ in state.history:
            prefer[truth] += 1
        assert state.tally.prefer == prefer
        await wait_for(pilot, lambda: f"prefer A {prefer['A']} B {prefer['B']}"
                       in player_line(app))
        await pilot.press("m")  # reveal and end
        await wait_for(pilot, lambda: not app.player.blind)
        revealed = [str(n.message) for n in app._notifications if "revealed" in str(n.message)]
        assert revealed and "1 was " in revealed[-1] and "2 was " in revealed[-1]
        assert f"preferred A {prefer['A']}×, B {prefer['B']}×" in revealed[-1]
        assert backend.blind_state() is None
        line = player_line(app)
        assert "A: step 0 vocals │ B: step 2 vocals" in line
        assert app.player.active in ("A", "B")


@pytest.mark.parametrize("kind", sorted(BACKENDS))
@sync
async def test_abx_counts_correct_answers(work, tiny_model_path, kind):
    backend = BACKENDS[kind]()
    app = make_app(".", tiny_model_path, backend=backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await mark_ab(pilot, app, work)
        await pilot.press("M")
        await wait_for(pilot, lambda: "ABX #1 0/0 right" in player_line(app))
        assert "│ X: ?" in player_line(app)
        await pilot.press("x", "x")
        assert app.player.slot == "X" and player_line(app).startswith("⏸ X ")
        for _ in range(4):  # four right answers, then a wrong one
            await pilot.press("1" if peek_x(backend) == "A" else "2")
        await pilot.press("2" if peek_x(backend) == "A" else "1")
        await wait_for(pilot, lambda: "ABX #6 4/5 right p=0.19" in player_line(app))
        assert "wrong" in screen_text(app)
        await pilot.press("M")
        await wait_for(pilot, lambda: not app.player.blind)
        revealed = [str(n.message) for n in app._notifications if "revealed" in str(n.message)]
        assert "X was " in revealed[-1] and "4/5 right, p = 0.188" in revealed[-1]


@sync
async def test_blind_needs_two_marks_and_answers_need_a_test(work, tiny_model_path):
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("1")
        await wait_for(pilot, lambda: "m starts one" in screen_text(app))
        await pilot.press("m")
        await wait_for(pilot, lambda: "mark A and B first" in screen_text(app))
        assert not app.player.blind


def test_player_blind_needs_no_stream():
    backend = PlayerBackend(check_devices=False)
    x = torch.randn(2, 22050) * 0.1
    backend.load(x, x * 0.5, 44100)
    backend.start_blind("abx")
    backend.select_slot("X")
    assert backend._player.state.source == "X"  # hidden while the test runs
    backend.blind_answer("A")
    assert backend.blind_state().tally.trials == 1
    assert set(backend.reveal()) == {"A", "B", "X"}
    backend.stop_blind()
    assert backend._player._stream is None  # no device was ever opened
    backend.close()


# ---------------------------------------------------------------------- 4. level matching


def tone(seconds: float, amp: float, rate: int = 44100) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return torch.stack([amp * torch.sin(2 * math.pi * 440 * t)] * 2)


def test_session_tag_is_short_and_tells_runs_apart():
    assert session_tag(Path("20261124-162943-demo-001-vocals-add-to-mixture")) == "demo-001 16:29"
    assert session_tag(Path("20261124-091502-song-bass-oracle")) == "song 09:15"
    long = session_tag(Path("20261124-162943-a_very_long_track_name-vocals-oracle"))
    assert long == "a_very_lo… 16:29" and len(long) == 16
    assert session_tag(Path("my-run")) == "my-run"
    assert session_tag(Path("a-very-long-custom-session-name")) == "a-very-long-cus…"


def test_match_levels_uses_loudness_then_rms():
    a, b = tone(1.0, 0.1), tone(1.0, 0.4)
    levels = match_levels(a, b, 44100)
    assert levels.method == "LUFS"
    expected = integrated_loudness(a, 44100) - integrated_loudness(b, 44100)
    assert levels.relative_db == pytest.approx(expected)
    assert levels.gain_a_db == 0.0 and levels.gain_b_db < 0  # the louder one is turned down
    assert levels.describe() == f"B{expected:+.1f}dB LUFS"
    # the same gains as the audio player's own loudness matching
    backend = PlayerBackend(check_devices=False)
    backend.load(a, b, 44100)
    gains = backend._player.match_gains("A", "B")
    assert 20 * math.log10(gains["B"] / gains["A"]) == pytest.approx(expected, abs=1e-6)
    backend.close()
    short = match_levels(tone(0.2, 0.1), tone(0.2, 0.2), 44100)  # loudness undefined
    assert short.method == "RMS" and short.relative_db == pytest.approx(-20 * math.log10(2))
    silent = match_levels(tone(1.0, 0.1), torch.zeros(2, 44100), 44100)
    assert silent.method is None and silent.describe() == "B ±0dB (silent)"


def test_player_backend_plays_the_matched_levels():
    a, b = tone(1.0, 0.1), tone(1.0, 0.4)
    backend = PlayerBackend(check_devices=False)
    levels = backend.load(a, b, 44100)
    assert levels == match_levels(a, b, 44100)  # what the bar shows is what plays
    player = backend._player
    played = {name: player.loudness(name) + 20 * math.log10(player.state.gains[name])
              for name in ("A", "B")}
    assert played["A"] == pytest.approx(played["B"], abs=0.01)
    backend.close()


@pytest.mark.parametrize(("seconds", "method"), [(0.5, "LUFS"), (0.3, "RMS")])
@sync
async def test_bar_and_ab_clips_use_the_same_loudness(work, tiny_model_path, seconds, method):
    write_fake_session(work / "sessions" / "s", steps=3, seconds=seconds)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("a", "down", "down", "b")  # step 2 is 0.8× step 0
        await wait_for(pilot, lambda: app.player.levels is not None)
        levels = app.player.levels
        assert levels.method == method
        assert levels.relative_db == pytest.approx(-20 * math.log10(0.8), abs=0.05)
        await wait_for(pilot, lambda: f"dB {method}" in player_line(app))
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ExportScreen")
        await pilot.click("#what-ab")
        await pilot.click("#export-go")
        dest = work / "sessions" / "s" / "export"
        await wait_for(pilot, lambda: (dest / "B.wav").is_file())
    xa = torch.from_numpy(sf.read(dest / "A.wav", dtype="float32")[0].T.copy())
    xb = torch.from_numpy(sf.read(dest / "B.wav", dtype="float32")[0].T.copy())
    again = match_levels(xa, xb, 44100)
    assert again.method == method and abs(again.relative_db) < 0.05


# ---------------------------------------------------------------------- 3. --audio-device


def test_parse_device():
    assert parse_device("") is None and parse_device(None) is None
    assert parse_device("3") == 3 and parse_device(" pulse ") == "pulse"


def test_open_backend_passes_the_device(monkeypatch):
    seen = []

    class Fake:
        available = True
        reason = ""

        def __init__(self, device=None):
            if device == "nope":
                raise AudioUnavailable("invalid_device", "no output device 'nope'")
            seen.append(device)

    monkeypatch.setattr(player_backend, "PlayerBackend", Fake)
    assert isinstance(open_backend(2), Fake) and seen == [2]
    bad = open_backend("nope")
    assert isinstance(bad, NullBackend)
    assert "'nope'" in bad.reason and "progdemix-tui devices" in bad.reason


@sync
async def test_audio_device_option_is_saved(work):
    app = build_app(["--audio-device", "2", "--model", "demo"], backend=NullBackend(),
                    models=MODELS, torch_threads=None)
    assert app.audio_device == 2 and app.settings.ui["audio_device"] == "2"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "HelpScreen")
        assert any("progdemix-tui devices" in text for _, rows in HELP for _, text in rows)
    saved = json.loads(Settings.load().path.read_text())
    assert saved["ui"]["audio_device"] == "2"
    again = build_app([], backend=NullBackend(), models=MODELS)
    assert again.audio_device == 2  # the saved device is used next time
    named = build_app(["--audio-device", "USB Audio"], backend=NullBackend(), models=MODELS)
    assert named.audio_device == "USB Audio"
    reset = build_app(["--audio-device", ""], backend=NullBackend(), models=MODELS)
    assert reset.audio_device is None


# ---------------------------------------------------------------------- 5. offline model


class Status:
    def __init__(self, cached: dict[str, bool]):
        self.cached = cached

    def __call__(self, name):
        return type("S", (), {"cached": self.cached[name]})()


def test_offline_model_fallback_rules(work):
    offline = Status({"hdemucs_mmi": False, "demo": True})
    fresh = Settings.load()
    assert offline_model_fallback(fresh, offline) == OFFLINE_NOTICE
    assert fresh.params["model"] == "demo"
    cached = Settings.load()
    assert offline_model_fallback(cached, Status({"hdemucs_mmi": True, "demo": True})) is None
    no_demo = Settings.load()
    assert offline_model_fallback(no_demo, Status({"hdemucs_mmi": False, "demo": False})) \
        is None
    assert no_demo.params["model"] == "hdemucs_mmi"
    # a model chosen earlier (saved in the settings file) is kept
    chosen = Settings.load()
    chosen.save()
    stored = Settings.load()
    assert "model" in stored.stored
    assert offline_model_fallback(stored, offline) is None
    assert stored.params["model"] == "hdemucs_mmi"
    with_path = Settings.load()
    with_path.params["model_path"] = "m.safetensors"
    assert offline_model_fallback(with_path, offline) is None


@sync
async def test_offline_default_model_notice(work, monkeypatch):
    import progdemix_tui.engine.models as models

    monkeypatch.setattr(models, "model_status", Status({"hdemucs_mmi": False, "demo": True}))
    app = build_app(["."], backend=NullBackend(), models=MODELS, torch_threads=None,
                    save_settings=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: any(str(n.message) == OFFLINE_NOTICE
                                          for n in app._notifications))
        assert app.panel.values()["model"] == "demo"
    # --model is a choice: no fallback, no notice
    chosen = build_app(["--model", "hdemucs_mmi"], backend=NullBackend(), models=MODELS)
    assert chosen.notices == [] and chosen.settings.params["model"] == "hdemucs_mmi"
    assert tui_cli.DEFAULT_MODEL == "hdemucs_mmi"


def test_command_line_routes_tui_options(monkeypatch):
    from progdemix_tui import cli

    seen = []
    monkeypatch.setattr(tui_cli, "main", lambda argv: seen.append(argv) or 0)
    assert cli.main(["--audio-device", "2"]) == 0
    assert cli.main(["--out=runs", "songs"]) == 0
    assert cli.main(["songs", "--audio-device", "pulse"]) == 0
    assert seen == [["--audio-device", "2"], ["--out=runs", "songs"],
                    ["songs", "--audio-device", "pulse"]]


# ---------------------------------------------------------------------- transport keys


class RecordingBackend(NullBackend):
    """A silent backend that records the transport calls it receives."""

    def __init__(self) -> None:
        super().__init__("no audio device")
        self.calls: list[tuple] = []

    def stop(self) -> None:
        self.calls.append(("stop",))

    def set_volume(self, volume: float) -> None:
        self.calls.append(("volume", volume))

    def seek(self, seconds: float) -> None:
        self.calls.append(("seek", seconds))


@sync
async def test_volume_stop_and_rewind_keys(work, tiny_model_path):
    backend = RecordingBackend()
    app = make_app(".", tiny_model_path, backend=backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("minus", "minus")
        await wait_for(pilot, lambda: "vol 80%" in player_line(app))
        await pilot.press("plus", "equals_sign", "plus", "plus")
        await wait_for(pilot, lambda: "vol 120%" in player_line(app))
        assert ("volume", 0.8) in backend.calls and backend.calls[-1] == ("volume", 1.2)
        app.player.duration = 60.0
        await pilot.press("right_square_bracket", "right_square_bracket")
        await wait_for(pilot, lambda: "0:10.0" in player_line(app))
        await pilot.press("0")
        await wait_for(pilot, lambda: "0:00.0" in player_line(app))
        assert backend.calls[-1] == ("stop",)
        assert app.player.position == 0.0 and not app.player.playing


def test_player_backend_keeps_volume_across_reloads():
    backend = PlayerBackend(check_devices=False)
    backend.set_volume(0.5)
    x = torch.randn(2, 4410) * 0.1
    backend.load(x, x, 44100)
    assert backend._player.volume == pytest.approx(0.5)
    backend.load(x, -x, 44100)
    assert backend._player.volume == pytest.approx(0.5)
    backend.close()


# ---------------------------------------------------------------------- go to time (g)


async def goto(pilot, text: str) -> None:
    await pilot.press("g")
    await wait_for(pilot, lambda: pilot.app.screen.__class__.__name__ == "GotoScreen")
    await pilot.press(*text, "enter")


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(BACKENDS))
@sync
async def test_goto_after_a_run_seeks_the_selected_step(work, tiny_model_path, kind):
    backend = BACKENDS[kind]()
    app = make_app(".", tiny_model_path, backend=backend)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")  # nothing run, nothing selected
        await wait_for(pilot, lambda: "nothing to play: select a step" in screen_text(app))
        assert app.screen is app.screen_stack[0]
        await wait_for(pilot, lambda: app.query_one("#tree").root.children)
        await pilot.press("down", "r")  # run the track folder (2 s excerpt)
        await wait_for(pilot, lambda: app.run_view.folder is not None)
        await wait_for(pilot, lambda: not app.run_view.running and len(app.timeline.rows) == 3)
        await pilot.press("t", "down")  # select step 1
        await wait_for(pilot, lambda: app.player.selection is not None
                       and app.player.selection.step == 1)
        await pilot.press("g")  # selected but not marked: same words as Space
        await wait_for(pilot, lambda: "mark A (a) and/or B (b) to play" in screen_text(app))
        await pilot.press("a")
        await wait_for(pilot, lambda: app.player.duration is not None and not app.player.loading)
        assert app.player.duration == pytest.approx(2.0)
        await goto(pilot, "0:01.5")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        assert app.player.position == pytest.approx(1.5)
        await wait_for(pilot, lambda: player_line(app).startswith("⏸ A 0:01.5"))
        if kind == "player":  # the real (silent, never started) player moved too
            assert backend.position() == pytest.approx(1.5)
        await goto(pilot, "25%")
        await wait_for(pilot, lambda: "0:00.5" in player_line(app))
        assert app.player.position == pytest.approx(0.5)
        if kind == "player":
            assert backend.position() == pytest.approx(0.5)


@sync
async def test_goto_invalid_entry_keeps_the_screen_open(work, tiny_model_path):
    backend = RecordingBackend()
    write_fake_session(work / "sessions" / "s", steps=2, seconds=3.0)
    app = make_app(".", tiny_model_path, backend=backend)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("a")
        await wait_for(pilot, lambda: app.player.duration is not None and not app.player.loading)
        await goto(pilot, "4:10")
        await wait_for(pilot, lambda: "position 4:10 is past the end (0:03)"
                       in screen_text(app))
        assert app.screen.__class__.__name__ == "GotoScreen"
        await pilot.press(*["backspace"] * 4)  # editing clears the line
        await wait_for(pilot, lambda: "past the end" not in screen_text(app))
        await pilot.press(*"1:60", "enter")
        await wait_for(pilot, lambda: "'1:60': seconds must be below 60" in screen_text(app))
        assert app.screen.__class__.__name__ == "GotoScreen"
        await pilot.press("escape")  # closes without seeking
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0])
        assert app.player.position == 0.0
        assert not any(call[0] == "seek" for call in backend.calls)


@sync
async def test_goto_outside_the_loop_clears_it(work, tiny_model_path):
    write_fake_session(work / "sessions" / "s", steps=2, seconds=3.0)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("a")
        await wait_for(pilot, lambda: app.player.duration is not None and not app.player.loading)
        await goto(pilot, "0.5")
        await pilot.press("l")
        await goto(pilot, "1.5")
        await pilot.press("l")
        assert app.player.loop == (0.5, 1.5)
        await goto(pilot, "1")  # inside: the loop stays
        await wait_for(pilot, lambda: app.player.position == 1.0)
        assert app.player.loop == (0.5, 1.5)
        await pilot.press("g")
        await wait_for(pilot, lambda: "outside the loop 0:00.5–0:01.5 clears it"
                       in screen_text(app))
        await pilot.press(*"2.5", "enter")
        await wait_for(pilot, lambda: app.player.position == 2.5)
        assert app.player.loop is None
        assert "⟳" not in player_line(app)
        assert any("loop 0:00.5–0:01.5 cleared: 0:02.5 is outside it" in str(n.message)
                   for n in app._notifications)


# ---------------------------------------------------------------------- quick marks, one path


class LoadRecorder(NullBackend):
    """A silent backend that keeps what each load received."""

    def __init__(self) -> None:
        super().__init__("no audio device")
        self.loads: list[tuple[torch.Tensor | None, torch.Tensor | None]] = []

    def load(self, a, b, rate):
        self.loads.append((a, b))
        return super().load(a, b, rate)


@sync
async def test_quick_marks_the_last_one_wins(work, tiny_model_path, monkeypatch):
    """Marks made while an older load is still reading: the older one never lands."""
    gate, first_reading = threading.Event(), threading.Event()
    read = audition_controller.load_cue
    calls = []

    def first_read_waits(cue, session=None):
        calls.append(cue)
        if len(calls) == 1:  # mark 1's read, held until the later marks have landed
            first_reading.set()
            assert gate.wait(HANG_TIMEOUT)
        return read(cue, session)

    monkeypatch.setattr(audition_controller, "load_cue", first_read_waits)
    load_ab, finished = audition_controller.AuditionController._load, []

    def load_ab_and_tell(controller, a, b, generation):
        try:
            load_ab(controller, a, b, generation)
        finally:
            finished.append(generation)

    monkeypatch.setattr(audition_controller.AuditionController, "_load", load_ab_and_tell)
    backend = LoadRecorder()
    app = make_app(".", tiny_model_path, backend=backend)
    async with app.run_test(size=(80, 24)) as pilot:
        write_fake_session(work / "sessions" / "s", steps=3)
        app.open_session_folder(work / "sessions" / "s")
        await pilot.press("a")  # A = step 0: its read waits
        await wait_for(pilot, first_reading.is_set)
        await pilot.press("down", "b", "down", "a")  # B = step 1, then A = step 2
        await wait_for(pilot, lambda: not app.player.loading)
        gate.set()  # now the first load finishes reading, long after the others
        await wait_for(pilot, lambda: 1 in finished)  # mark 1's worker is done
        bar = app.player
        assert (bar.a.step, bar.b.step) == (2, 1) and not bar.loading
        assert bar.levels is not None and bar.duration is not None  # not mark 1's (A only)
        a, b = backend.loads[-1]
        assert a is not None and b is not None
        assert torch.equal(a, read(bar.a)[0]) and torch.equal(b, read(bar.b)[0])
        assert all(y is not None for _, y in backend.loads)  # mark 1's never reached it


@sync
async def test_offline_fallback_is_not_saved_as_the_users_choice(work, monkeypatch):
    import progdemix_tui.engine.models as models

    monkeypatch.setattr(models, "model_status", Status({"hdemucs_mmi": False, "demo": True}))
    app = build_app(["."], backend=NullBackend(), models=MODELS, torch_threads=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.panel.values()["model"] == "demo"
    saved = Settings.load()
    assert "model" not in saved.stored
    # offline again: the fallback applies again (it was no choice); a model picked in
    # Params is the user's own and is saved
    again = build_app(["."], backend=NullBackend(), models=MODELS, torch_threads=None)
    assert again.notices == [OFFLINE_NOTICE]
    async with again.run_test(size=(80, 24)) as pilot:
        again.panel.set_value("model", "hdemucs_mmi")
        await pilot.pause()
    assert Settings.load().params["model"] == "hdemucs_mmi"
