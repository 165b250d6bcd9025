"""The TUI never crashes on hostile input: folders it may not list, bad settings files,
tampered sessions, impossible paths. A crash that does happen exits non-zero.

Every hostile file here is built by the test itself. Pilot drives the real app; a test fails
if the app raised (Pilot re-raises an app's unhandled exception when the test ends).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import tui_helpers
from support.tui_helpers import screen_text, sync, wait_for, write_fake_session

from progdemix_tui.cli import main
from progdemix_tui.cli.tui import build_app
from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.settings import DEFAULTS, Settings
from progdemix_tui.tui.widgets.file_browser import FileBrowser

MODELS = [("demo", "demo")]
CHILD = "PROGDEMIX_TEST_UNPRIVILEGED"
DROP = "-dac_override,-dac_read_search"  # what lets root read a mode-000 folder


def make_app(path, model_file, **params):
    return tui_helpers.make_app(path, model_file, models=MODELS, **params)


def app_from_argv(argv):
    """The app exactly as ``progdemix-tui ARGV`` builds it, silent and with fixed models."""
    return build_app(argv, backend=NullBackend("no audio device"), models=MODELS,
                     torch_threads=None)


def messages(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)  # noqa: SLF001


def titles(app) -> str:
    return "\n".join(str(n.title) for n in app._notifications)  # noqa: SLF001


def tamper(folder: Path, change) -> Path:
    """Rewrite ``folder``'s manifest.json with ``change(manifest)`` applied."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    return folder


def _drop_key(key):
    return lambda m: m.pop(key)


def _set(path, value):
    def change(m):
        target = m
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


HOSTILE_MANIFESTS = {
    "unknown metrics key": _set(("steps", 0, "metrics", "bogus"), 1),
    "missing config": _drop_key("config"),
    "steps of the wrong type": _set(("config", "steps"), "x"),
    "steps not a list": _set(("steps",), 5),
}


# --------------------------------------------------------------------------- unlistable folders


def _root_reads_anything(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0)
    try:
        os.listdir(probe)
        return True
    except PermissionError:
        return False
    finally:
        probe.chmod(0o755)


def run_unprivileged(request, tmp_path) -> bool:
    """Where mode 000 does not stop this process (root), run this test again in a child
    pytest without the capabilities that let root read any folder (setpriv drops them from
    the bounding set: the kernel then refuses root as it refuses anyone). True if it did."""
    if not _root_reads_anything(tmp_path):
        return False
    if os.environ.get(CHILD):
        pytest.skip("setpriv ran, but this process still reads a mode-000 folder")
    setpriv = shutil.which("setpriv")
    if setpriv is None or subprocess.run([setpriv, "--bounding-set", DROP, "true"],
                                         capture_output=True, check=False).returncode != 0:
        pytest.skip("running as root without a working setpriv: cannot make a folder "
                    "unreadable")
    test = f"{request.node.path}::{request.node.name}"
    done = subprocess.run([setpriv, "--bounding-set", DROP, sys.executable, "-m", "pytest",
                           "-q", "-p", "no:cacheprovider", test],
                          env={**os.environ, CHILD: "1"}, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout, done.stdout[-2000:]  # not skipped in the child
    return True


@pytest.mark.slow  # as root: a second pytest without the capabilities
@sync
async def test_folder_that_cannot_be_listed(request, tmp_path, work, tiny_model_path):
    if run_unprivileged(request, tmp_path):
        return
    locked = work / "a-locked"  # sorts first: the cursor reaches it with one ↓
    (locked / "inner").mkdir(parents=True)
    (locked / "song.wav").write_bytes(b"RIFF")
    locked.chmod(0)
    try:
        app = make_app(".", tiny_model_path)
        async with app.run_test(size=(80, 24)) as pilot:
            browser = app.query_one(FileBrowser)
            await pilot.press("down")
            await wait_for(pilot, lambda: "a-locked" in browser.info)
            assert "Permission denied" in browser.info
            await pilot.press("enter", "right", "enter")  # select, expand, select again
            await pilot.pause()
            await pilot.press("r")  # nothing chosen: the highlight is not runnable
            await wait_for(pilot, lambda: "cannot run" in screen_text(app))
            assert not app.run_view.running and app.input is None
            # typing a path into it, or the folder itself
            await pilot.click("#path-input")
            await pilot.press(*"a-locked/song.wav", "enter")
            await wait_for(pilot, lambda: "song.wav" in browser.info)
            assert "Permission denied" in browser.info and app.input is None
            app.query_one("#path-input").value = ""
            await pilot.press(*"a-locked", "enter")
            await pilot.pause()
            assert app.is_running
        # started on it
        app = make_app("a-locked", tiny_model_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("down", "enter")
            await pilot.pause()
            assert app.is_running
        # and on a file inside it
        app = make_app("a-locked/song.wav", tiny_model_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: "Permission denied" in
                           app.query_one(FileBrowser).info)
            assert app.input is None
    finally:
        locked.chmod(0o755)


@sync
async def test_unreadable_settings_and_session_folder(request, tmp_path, work, tiny_model_path,
                                                      capsys):
    if run_unprivileged(request, tmp_path):
        return
    config = Path(os.environ["PROGDEMIX_TUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text('{"params": {"steps": "4"}}')
    (config / "settings.json").chmod(0)
    write_fake_session(work / "sessions" / "good", steps=3)
    locked = write_fake_session(work / "sessions" / "locked", steps=2)
    locked.chmod(0)
    try:
        app = app_from_argv([])
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: "Permission denied" in messages(app))
            assert "using defaults" in messages(app)
            assert app.panel.values()["steps"] == DEFAULTS["steps"]
            await pilot.press("o")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
            assert [s.folder.name for s in app.screen.sessions] == ["good"]
            assert len(app.screen.skipped) == 1 and "locked" in app.screen.skipped[0]
            assert "Permission denied" in app.screen.skipped[0]
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "Screen")
            assert not app.open_session_folder(locked)
        assert "Permission denied" in one_line_exit_2(["--session", str(locked)], capsys)
    finally:
        locked.chmod(0o755)
        (config / "settings.json").chmod(0o644)


# --------------------------------------------------------------------------- settings.json


SETTINGS_FILES = {
    "params is a list": '{"params": []}',
    "ui is a string": '{"ui": "dark"}',
    "a JSON array": "[1, 2]",
    "wrong types": json.dumps({"params": {"steps": [1], "wiener": "yes", "device": None},
                               "ui": {"theme": {"x": 1}}}),
    "unknown keys": json.dumps({"params": {"stepz": "3"}, "colour": "red"}),
    "nested too deep": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("text", SETTINGS_FILES.values(), ids=SETTINGS_FILES.keys())
@sync
async def test_bad_settings_file_starts_with_defaults_and_says_so(work, text):
    config = Path(os.environ["PROGDEMIX_TUI_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text(text)
    app = app_from_argv(["track"])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "settings.json" in messages(app))
        assert "using defaults" in messages(app)
        assert app.panel.values()["steps"] == DEFAULTS["steps"]
        assert app.panel.values()["device"] == DEFAULTS["device"]
        assert app.input == Path("track")


@sync
async def test_settings_path_is_a_folder(work):
    config = Path(os.environ["PROGDEMIX_TUI_CONFIG_DIR"])
    (config / "settings.json").mkdir(parents=True)
    app = app_from_argv([])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "is not a file" in messages(app))
        assert app.panel.values()["steps"] == DEFAULTS["steps"]
    assert (config / "settings.json").is_dir()  # nothing was put in its place


def test_settings_keep_the_values_that_are_fine(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"params": {"steps": "3", "beta_max": [1], "wiener": True},
                                "ui": {"theme": "textual-light", "volume": 3}}))
    settings = Settings.load(path)
    assert settings.params["steps"] == "3" and settings.params["wiener"] is True
    assert settings.params["beta_max"] == DEFAULTS["beta_max"]
    assert settings.ui["theme"] == "textual-light"
    assert "params.beta_max" in settings.problem and "ui.volume" in settings.problem
    assert "\n" not in settings.problem


# --------------------------------------------------------------------------- sessions


def one_line_exit_2(argv: list[str], capsys) -> str:
    """``progdemix-tui ARGV`` through the CLI's ``main`` in this process refused: exit 2,
    one line on stderr; that line."""
    capsys.readouterr()
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("change", HOSTILE_MANIFESTS.values(), ids=HOSTILE_MANIFESTS.keys())
def test_bad_session_on_the_command_line_is_one_line_exit_2(work, change, capsys):
    bad = tamper(write_fake_session(work / "sessions" / "bad", steps=2), change)
    with pytest.raises(ProgdemixError):
        app_from_argv(["--session", str(bad)])
    assert "bad" in one_line_exit_2(["--session", str(bad)], capsys)


def test_a_bad_session_ends_the_real_process_with_2(work):
    """The same refusal from the installed entry point in its own process: exit status 2,
    one line on stderr, no traceback (the parametrized test above checks each manifest)."""
    bad = tamper(write_fake_session(work / "sessions" / "bad", steps=2),
                 HOSTILE_MANIFESTS["missing config"])
    done = subprocess.run([sys.executable, "-m", "progdemix_tui", "--session", str(bad)],
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("change", HOSTILE_MANIFESTS.values(), ids=HOSTILE_MANIFESTS.keys())
@sync
async def test_bad_session_opened_or_compared_is_a_notification(work, tiny_model_path, change):
    good = write_fake_session(work / "sessions" / "good", steps=3)
    bad = tamper(write_fake_session(work / "sessions" / "bad", steps=2), change)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.open_session_folder(good)
        await pilot.press("a")
        await wait_for(pilot, lambda: app.player.a is not None)
        # compare with the tampered one: refused with one line, A and the timeline stay
        assert not app.open_session_folder(bad)
        await wait_for(pilot, lambda: "bad" in messages(app))
        assert app.timeline.folder == good and len(app.timeline.rows) == 3
        assert app.player.a.folder == good
        await pilot.press("down", "b")
        await wait_for(pilot, lambda: app.player.b is not None)
        assert app.player.b.folder == good


@pytest.mark.parametrize("change", HOSTILE_MANIFESTS.values(), ids=HOSTILE_MANIFESTS.keys())
@sync
async def test_sessions_screen_survives_a_bad_folder_and_lists_the_rest(work, tiny_model_path,
                                                                        change):
    """Needs the engine's manifest validation (list_sessions skips what it refuses)."""
    write_fake_session(work / "sessions" / "good", steps=3)
    tamper(write_fake_session(work / "sessions" / "bad", steps=2), change)
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        await wait_for(pilot, lambda: "left out" in screen_text(app))
        screen = app.screen
        assert screen.skipped and "folder(s) left out" in titles(app)
        assert [s.folder.name for s in screen.sessions] == ["good"]
        assert len(screen.skipped) == 1 and "bad" in screen.skipped[0]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "Screen")
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.timeline.rows) == 3)


@sync
async def test_sessions_screen_names_foreign_folders(work, tiny_model_path):
    write_fake_session(work / "sessions" / "good", steps=3)
    (work / "sessions" / "other-tool").mkdir()
    (work / "sessions" / "other-tool" / "manifest.json").write_text('{"name": "not ours"}')
    (work / "sessions" / "broken").mkdir()
    (work / "sessions" / "broken" / "manifest.json").write_text("{")
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        assert [s.folder.name for s in app.screen.sessions] == ["good"]
        assert len(app.screen.skipped) == 2
        await wait_for(pilot, lambda: "2 left out" in screen_text(app))


# --------------------------------------------------------------------------- impossible paths


@sync
async def test_impossible_typed_paths(work, tiny_model_path):
    app = make_app(".", tiny_model_path)
    browser = None
    async with app.run_test(size=(80, 24)) as pilot:
        browser = app.query_one(FileBrowser)
        for text in ("x" * 300, "~no-such-user-here/song.wav", "track/" + "y" * 300 + ".wav"):
            # the field holds all but the last key, which is typed (900 keys one at a time
            # took 48 s on a busy machine and tested no more)
            app.query_one("#path-input").value = text[:-1]
            await pilot.click("#path-input")
            await pilot.press("end", text[-1], "enter")
            await wait_for(pilot, lambda t=text: t[:20] in browser.info)
            assert app.input is None
        # the sessions folder and the output folder
        await pilot.press("escape", "o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        for text in ("z" * 300, "~no-such-user-here"):
            box = app.screen.query_one("#sessions-root")
            box.value = text
            box.focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda t=text: str(app.screen.root) == t)
            assert app.screen.sessions == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "Screen")
        for out in ("o" * 300, "~no-such-user-here/runs"):
            app.panel.set_value("out", out)
            await pilot.press("o")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "Screen")
        app.input = Path("track")
        app.panel.set_value("out", "o" * 300)
        await pilot.press("r")
        await wait_for(pilot, lambda: "cannot run" in messages(app))
        assert not app.run_view.running
        app.panel.set_value("model_path", "~no-such-user-here/m.safetensors")
        await pilot.press("r")
        await wait_for(pilot, lambda: "no such model file" in screen_text(app))


# --------------------------------------------------------------------------- exit status


class VanishedDevice(NullBackend):
    """An audio output whose device went away: closing it fails, as PortAudio's can."""

    def close(self) -> None:
        raise RuntimeError("PortAudio: device unavailable")


@sync
async def test_quitting_with_a_vanished_audio_device(work, tiny_model_path):
    app = tui_helpers.make_app(".", tiny_model_path, backend=VanishedDevice("x"), models=MODELS,
                               steps="3")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
    assert app.return_code == 0
    saved = json.loads(Settings.load().path.read_text())
    assert saved["params"]["steps"] == "3"  # settings are saved before the device is closed


def test_a_crash_exits_non_zero(work):
    """Any unhandled error (here injected into the app's start) ends with a non-zero exit
    status through the real entry point, not 0 as if all went well."""
    script = ("from progdemix_tui.tui import app\n"
              "def crash(self):\n"
              "    raise RuntimeError('injected fault')\n"
              "app.ProgdemixApp.on_mount = crash\n"
              "from progdemix_tui.cli import main\n"
              "raise SystemExit(main(['.']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False, stdin=subprocess.DEVNULL)
    assert "injected fault" in done.stdout + done.stderr
    assert done.returncode == 1
