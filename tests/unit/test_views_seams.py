"""Issue 24 items 5 and 6: output devices behind one protocol, chosen by name (the player
knows none), and the TUI's seams: views in one list, listening keys in one table, an
audition controller without Textual, the player bar only a display."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.tui_helpers import write_fake_session

import progdemix_tui
from progdemix_tui.playback import AudioUnavailable, Player, outputs
from progdemix_tui.playback.outputs import Reservation, kind_of, reserve_output
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.audition_controller import BLIND_HINT, AuditionController

PACKAGE = Path(progdemix_tui.__file__).parent
SR = 8000


class MemoryOutput:
    """A real output of the protocol whose "sound card" is a list: the test pulls blocks."""

    url = None
    listeners = 0
    latency = 0.0

    def __init__(self, request: outputs.OutputRequest) -> None:
        self.request, self.name = request, "memory"
        self.samplerate, self.channels = request.samplerate, request.channels
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> None:
        self._active = True

    def stop(self) -> None:
        self._active = False

    abort = stop

    def close(self) -> None:
        self._active = False

    def pull(self) -> np.ndarray:
        out = np.zeros((self.request.blocksize, self.channels), np.float32)
        if self._active:
            self.request.render(out, False)
        return out


class MemoryKind:
    name = "memory"

    def claims(self, spec: object) -> bool:
        return spec == "memory"

    def check(self, spec: object) -> None:
        pass

    def reserve(self, spec: object, *, check: bool = True) -> Reservation:
        return Reservation(spec)  # type: ignore[arg-type]

    def open(self, spec: object, request: outputs.OutputRequest) -> MemoryOutput:
        return MemoryOutput(request)


def test_a_new_output_is_one_kind_in_the_list_and_the_player_plays_into_it(monkeypatch):
    monkeypatch.setattr(outputs, "KINDS", (MemoryKind(), *outputs.KINDS))
    t = np.arange(SR, dtype=np.float32) / SR
    a = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)]) * 0.5
    with Player(SR, device="memory", blocksize=256, crossfade=0.0) as p:
        p.add("a", a, SR)
        p.play()
        out = p.output
        assert isinstance(out, MemoryOutput)
        got = np.concatenate([out.pull() for _ in range(8)])
        np.testing.assert_array_equal(got, a.T[:8 * 256])
        state = p.state
        assert (state.device, state.output_url, state.listeners) == ("memory", None, 0)
        assert state.position_samples == 8 * 256


def test_device_names_choose_their_output_kind():
    assert kind_of("web").name == kind_of("web:0").name == "web"
    assert {kind_of(spec).name for spec in (None, 3, "pulse", "webcam")} == {"portaudio"}
    with pytest.raises(AudioUnavailable) as exc:
        outputs.check_output("web:80")
    assert exc.value.kind == "invalid_device"
    outputs.check_output("pulse")  # a sound card is checked when opened, in the app


def test_the_web_reservation_holds_the_port_and_says_where_to_listen():
    held = reserve_output("web:0")
    try:
        assert held.eager and re.fullmatch(r"web:\d+", str(held.spec)) and held.spec != "web:0"
        port = str(held.spec)[4:]
        assert re.fullmatch(rf"browser http://127\.0\.0\.1:{port}/\?t=\S+ · 0 listeners",
                            held.describe() or "")
        with Player(SR, device=held.spec) as p:  # a player on it shares the server
            p.open_output()
            assert p.output is not None and p.state.output_url == held.describe().split()[1]
    finally:
        held.close()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
            found.update(f"{'.' * node.level}{node.module or ''}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


@pytest.mark.parametrize("module", ["playback/player.py", "tui/player_backend.py",
                                    "cli/tui.py"])
def test_the_player_and_its_hosts_know_no_output_kind(module):
    path = PACKAGE / module
    names = _imports(path)
    assert not [n for n in names if re.search(r"web|portaudio|sounddevice|devices\.", n)], names
    assert "WebStream" not in path.read_text() and "isinstance(stream" not in path.read_text()


def test_the_audition_controller_imports_no_textual():
    code = ("import sys, progdemix_tui.tui.audition_controller; "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')], "
            "sorted(m for m in sys.modules if m.startswith(('textual', 'rich')))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_controller_marks_plays_and_runs_a_blind_test_without_a_ui(tmp_path):
    folder = tmp_path / "s"
    write_fake_session(folder, steps=3)
    changes: list[int] = []
    au = AuditionController(NullBackend(blind_seed=1), changed=lambda: changes.append(1),
                            run_in_thread=lambda load: load())
    assert au.toggle_play() is False and au.message.startswith("nothing to play")
    au.choose(folder, 0, "vocals")
    assert au.selection is not None and au.selection.describe() == "step 0 vocals"
    au.mark("A")
    au.choose(folder, 2, "vocals")
    au.mark("B")
    assert not au.loading and au.levels is not None and au.duration == pytest.approx(0.5)
    assert au.toggle_ab() == "B" and au.toggle_ab() == "A"
    au.cycle_source("vocals")
    assert au.selection.describe() == "step 2 y_n"
    assert au.start_blind("abx") == BLIND_HINT["abx"] and au.blind
    assert au.answer("1").startswith("trial 1: X is A?")
    assert au.reveal_blind().startswith("revealed: X was ") and not au.blind
    au.toggle_loop()
    au.seek(0.2)
    au.toggle_loop()
    assert au.loop == (0.0, 0.2)
    assert au.goto(0.4) is not None and au.loop is None  # outside the loop: it is cleared
    assert changes  # every change told the display


def test_every_key_has_one_handler_in_its_table():
    from progdemix_tui.tui.app import ProgdemixApp
    from progdemix_tui.tui.keys import APP_KEYS
    from progdemix_tui.tui.listening import PLAYER_KEYS
    from progdemix_tui.tui.views import VIEW_ACTIONS, VIEWS

    for _, action, _, _ in APP_KEYS:
        name, _, args = action.partition("(")
        first = args.split(",")[0].strip("')") if args else ""
        if name == "player":
            assert first in PLAYER_KEYS, action
        elif name == "view":
            assert first in VIEW_ACTIONS, action
        else:
            assert callable(getattr(ProgdemixApp, f"action_{name}", None)), action
    assert [v.name for v in VIEWS] == ["chart", "difference", "spectrogram"]
    assert [v.name for v in VIEWS if v.pane is not None] == ["difference", "spectrogram"]


def test_the_app_is_thin_again():
    lines = len((PACKAGE / "tui" / "app.py").read_text().splitlines())
    assert lines <= 300, f"tui/app.py has {lines} lines"
    bar = (PACKAGE / "tui" / "widgets" / "player_bar.py").read_text()
    assert "backend" not in bar and "def action_" not in bar  # only a display
