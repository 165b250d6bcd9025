"""Issue 22 items 2 and 9 (a second engineer's cases, beside test_harden_names.py): strings from files reach the terminal with their control
characters made visible and their markup shown, never parsed, in the CLI and the TUI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from support import tui_helpers
from support.tui_helpers import screen_text, sync, wait_for, write_fake_session

from progdemix_tui.cli import main
from progdemix_tui.cli.common import out_console
from progdemix_tui.cli.tui import build_app
from progdemix_tui.tui.audition import NullBackend

OSC52 = "\x1b]52;c;aGVsbG8=\x07"  # sets the clipboard
TITLE = "\x1b]0;owned\x07"  # sets the window title
MARKUP = "[/bold][red]x[/]"  # a closing tag with nothing open: Rich and Textual refuse it
RAW = ("\x1b", "\x07", "\x9b")


def _model_name(folder: Path, name: str) -> Path:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["model"]["name"] = name
    path.write_text(json.dumps(manifest))
    return folder


def _no_raw_controls(text: str) -> None:
    assert not any(ch in text for ch in RAW), repr(text)


def test_report_listing_shows_hostile_model_names_and_folders(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(out_console, "width", 200)  # every column shown
    root = tmp_path / "sessions"
    write_fake_session(root / "good", steps=2)
    _model_name(write_fake_session(root / "evil", steps=2), OSC52 + MARKUP)
    write_fake_session(root / f"named{TITLE}", steps=2)
    assert main(["report", str(root)]) == 0
    out, err = capsys.readouterr()
    _no_raw_controls(out + err)
    flat = "".join(out.split())
    assert "\\x1b]52;c;aGVsbG8=\\x07[/bold][red]x[/]" in flat
    assert "named\\x1b]0;owned\\x07" in flat and "good" in flat
    assert "3 session(s)" in err


def test_report_of_a_session_in_a_folder_named_with_markup(tmp_path, capsys):
    folder = write_fake_session(tmp_path / f"s{MARKUP}{OSC52}", steps=2)
    assert main(["report", str(folder), "--no-plots"]) == 0
    out, err = capsys.readouterr()
    _no_raw_controls(out + err)
    flat = "".join(err.split())
    assert MARKUP in flat and "\\x1b]52" in flat


def test_error_lines_make_controls_visible(tmp_path, capsys):
    assert main(["report", str(tmp_path / f"missing{TITLE}{MARKUP}")]) == 2
    err = capsys.readouterr().err
    _no_raw_controls(err)
    assert len(err.strip().splitlines()) == 1 and "\\x1b]0;owned\\x07[/bold]" in err


def _app(argv):
    return build_app(argv, backend=NullBackend("no audio device"), models=[("demo", "demo")],
                     torch_threads=None)


def _messages(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)  # noqa: SLF001


@sync
async def test_sessions_screen_shows_a_model_name_with_markup(work, tiny_model_path):
    write_fake_session(work / "sessions" / "good", steps=3)
    _model_name(write_fake_session(work / "sessions" / "evil", steps=2), MARKUP + TITLE)
    app = tui_helpers.make_app(".", tiny_model_path)
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        await wait_for(pilot, lambda: "2 session(s)" in screen_text(app))
        assert sorted(s.folder.name for s in app.screen.sessions) == ["evil", "good"]
        text = screen_text(app)
        _no_raw_controls(text)
        assert "[/bold][red]x[/]\\x1b]0;owned" in text


@pytest.mark.parametrize("settings", [
    {"params": {MARKUP: "3"}},
    {"params": {f"steps{OSC52}": "3"}, "ui": {"theme": MARKUP, "audio_device": 7.5}},
    {"[b]": 1, "ui": {MARKUP: "x"}},
    {"params": {"model": MARKUP, "model_path": MARKUP, "out_dir": MARKUP, "steps": MARKUP}},
    {"ui": {"audio_device": MARKUP + OSC52}},
], ids=["param key", "controls and theme", "top-level and ui keys", "param values",
        "audio device"])
@sync
async def test_markup_in_settings_json_starts_with_defaults(work, settings):
    config = Path(os.environ["PROGDEMIX_TUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text(json.dumps(settings))
    app = _app(["track"])
    async with app.run_test(size=(100, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.is_mounted)
        await pilot.pause()
        _no_raw_controls(_messages(app) + screen_text(app))
