"""Issue 22, items 1, 2 and 9: a model's stem names never become paths outside a session;
strings from files reach the terminal inert (control characters visible, markup escaped).

Every hostile file is built here: real safetensors models, a real ``--repo`` folder, a real
Hugging Face cache layout, real sessions, the real CLI in a subprocess and the real TUI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import STEMS, write_track
from support.tui_helpers import screen_text, sync, wait_for, write_fake_session

from progdemix_tui.engine import RunConfig, SessionWriter, models
from progdemix_tui.engine.errors import ModelUnavailable, SessionError
from progdemix_tui.engine.text import visible

ESC = "\x1b"
HOSTILE = "[/bold]\x1b]52;c;cHduZWQ=\x07\x1b]0;title\x07[red]x"
"""Rich markup that does not parse, an OSC 52 (set the clipboard) and an OSC 0 (title)."""
ESCAPING = "../../../../outside/song"


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "COLUMNS": "200", "PROGDEMIX_MEMORY_AVAILABLE": "8G", **env}
    return subprocess.run([sys.executable, "-m", "progdemix_tui", *args], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=300, stdin=subprocess.DEVNULL)


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr  # (a hub model's origin may be noted first)
    return lines[0]


def _model_with_stems(path: Path, stems: list[str]) -> Path:
    from demucs.hdemucs import HDemucs

    torch.manual_seed(0)
    return models.save_safetensors(HDemucs(sources=stems, channels=4).eval(), path)


# --------------------------------------------------------------------------- item 1


def test_visible_shows_every_control_character():
    assert visible("a\x1b]52;c;x\x07b") == "a\\x1b]52;c;x\\x07b"
    assert visible("x\ny\u202ez\x9b") == "x\\x0ay\\u202ez\\x9b"
    assert visible("plain — ünïcode ✓") == "plain — ünïcode ✓"


@pytest.mark.parametrize("how", ["file", "repo", "hub"])
def test_stem_names_leading_outside_are_refused_before_the_run(tmp_path, how):
    """The issue's reproduction: ``sources`` holding ``../../…/song`` made ``run`` overwrite
    ``song.flac`` outside the session. Now one line, exit 2, nothing written anywhere."""
    work = tmp_path / "a" / "b" / "c" / "d"
    work.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    song = write_track(work / "track", seconds=1.0) / "mixture.wav"
    stems = [ESCAPING, *STEMS[1:]]
    env: dict[str, str] = {}
    if how == "file":
        model = ["--model", str(_model_with_stems(work / "evil.safetensors", stems))]
    elif how == "repo":
        repo = work / "repo"
        repo.mkdir()
        _model_with_stems(repo / "abcd1234.safetensors", stems)
        (repo / "evil.yaml").write_text("models: ['abcd1234']\n")
        model = ["--model", "evil", "--repo", str(repo)]
    else:
        revision = "0" * 40
        storage = tmp_path / "hf" / "hub" / "models--someone--Demucs-evil"
        (storage / "snapshots" / revision).mkdir(parents=True)
        (storage / "refs").mkdir()
        (storage / "refs" / "main").write_text(revision)
        snapshot = storage / "snapshots" / revision
        (snapshot / "evil.yaml").write_text("models: ['abcd1234']\n")
        _model_with_stems(snapshot / "abcd1234.safetensors", stems)
        model = ["--model", "someone/evil"]
        env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result = _cli(["run", str(song), *model, "--segment", "1", "--steps", "1",
                   "--device", "cpu", "--target", "vocals", "--out", str(work / "s")],
                  work, **env)
    line = _one_line_error(result)
    assert "is not allowed" in line and "../" in line
    assert list((tmp_path / "outside").iterdir()) == []
    assert not (work / "s").exists()


def test_a_loaded_model_with_bad_stems_is_refused_whatever_its_source(tmp_path):
    """Every loader ends in one check of the built model's stems (torchaudio, pickles…)."""
    from demucs.hdemucs import HDemucs

    module = HDemucs(sources=list(STEMS), channels=4)
    module.sources = ["drums", "bass", "other", "a/b"]
    with pytest.raises(ModelUnavailable, match="'a/b' is not allowed"):
        models._wrap("x", module, "test")  # noqa: SLF001


@pytest.mark.parametrize("stems", [("drums", "../x"), ("mixture", "bass"), ("a.b",),
                                   ("vocals", "vocals"), ()])
def test_the_session_writer_refuses_stem_names_that_are_not_plain(tmp_path, stems):
    folder = tmp_path / "s"
    with pytest.raises(SessionError, match="cannot write a session for these stems"):
        SessionWriter(folder, RunConfig(), input_info={}, model_info={}, device="cpu",
                      samplerate=44100, sources=stems)
    assert not folder.exists()


# --------------------------------------------------------------------------- items 2 and 9


@pytest.fixture
def sessions(tmp_path) -> Path:
    """A folder of two sessions: one plain, one whose model name is hostile."""
    root = tmp_path / "work" / "sessions"
    write_fake_session(root / "good", steps=2)
    bad = write_fake_session(root / "evil", steps=2)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["model"]["name"] = HOSTILE
    (bad / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_report_lists_a_session_with_a_hostile_model_name_inert(sessions):
    result = _cli(["report", str(sessions), "--no-plots"], sessions)
    assert result.returncode == 0, result.stderr
    assert ESC not in result.stdout + result.stderr and "\x07" not in result.stdout
    assert "good" in result.stdout and "evil" in result.stdout  # nothing lost
    flat = "".join(result.stdout.split())
    assert "[/bold]\\x1b]52;c;cHduZWQ=\\x07" in flat


def test_an_error_line_quoting_a_file_name_is_inert(tmp_path):
    folder = tmp_path / f"evil{ESC}]0;pwned\x07[bold]"
    folder.mkdir()
    (folder / "manifest.json").write_text("{")
    line = _one_line_error(_cli(["report", str(folder)], tmp_path))
    assert ESC not in line and "\x07" not in line
    assert "evil\\x1b]0;pwned\\x07[bold]" in line


@sync
async def test_sessions_screen_lists_a_hostile_model_name_inert(sessions, tiny_model_path,
                                                               monkeypatch):
    from support.tui_helpers import make_app

    monkeypatch.setenv("PROGDEMIX_TUI_CONFIG_DIR", str(sessions.parent / "config"))
    monkeypatch.chdir(sessions.parent)
    app = make_app(".", tiny_model_path, models=[("demo", "demo")])
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        await wait_for(pilot, lambda: "2 session(s)" in screen_text(app))
        assert sorted(s.folder.name for s in app.screen.sessions) == ["evil", "good"]
        text = screen_text(app)
        assert ESC not in text and "[/bold]\\x1b]52;c;cH" in text


@sync
async def test_markup_and_escapes_in_settings_start_with_defaults(tmp_path, monkeypatch):
    from progdemix_tui.cli.tui import build_app
    from progdemix_tui.tui.audition import NullBackend
    from progdemix_tui.tui.settings import DEFAULTS

    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("PROGDEMIX_TUI_CONFIG_DIR", str(config))
    monkeypatch.chdir(tmp_path)
    (config / "settings.json").write_text(json.dumps({"params": {HOSTILE: "1"}}))
    app = build_app([], backend=NullBackend("no audio device"), models=[("demo", "demo")],
                    torch_threads=None)
    async with app.run_test(size=(120, 30)) as pilot:
        notes = app._notifications  # noqa: SLF001
        await wait_for(pilot, lambda: any("settings.json" in str(n.message) for n in notes))
        message = next(str(n.message) for n in notes if "settings.json" in str(n.message))
        assert ESC not in message and "[/bold]\\x1b]52" in message
        assert app.panel.values()["steps"] == DEFAULTS["steps"]
