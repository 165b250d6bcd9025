"""Issue 22 items 12 and 17: command-line inputs refused at once in one true line.

Each case builds its hostile input here (a FIFO, garbage bytes named .mp3, a text file as a
model, a saved settings.json, a busy port) and runs the real CLI, in process or as a
subprocess where a C library writes to the terminal itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import HANG_TIMEOUT, write_track

from progdemix_tui.cli import main


def _one_line(capsys, code: int) -> str:
    """The single stderr line of a run that exited with ``code`` 2."""
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _run(*args: str) -> int:
    try:
        return main(["run", *args])
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


@pytest.fixture
def song(tmp_path) -> Path:
    return write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"


# --------------------------------------------------------------------------- model paths


def test_a_text_file_as_model_is_not_called_a_pickled_checkpoint(tmp_path, song, capsys):
    notes = tmp_path / "passwd"
    notes.write_text("root:x:0:0:root:/root:/bin/bash\n")
    line = _one_line(capsys, _run(str(song), "--model", str(notes), "--out", str(tmp_path / "s")))
    assert "pickled" not in line and "is not a model" in line, line


def test_a_device_as_model_is_not_a_hugging_face_name(tmp_path, song, capsys):
    line = _one_line(capsys, _run(str(song), "--model", "/dev/zero", "--out",
                                  str(tmp_path / "s")))
    assert "Hugging Face" not in line and "not a regular file" in line, line


# --------------------------------------------------------------------------- audio inputs


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_input_is_not_an_empty_file(tmp_path, capsys, kind):
    if kind == "fifo":
        path = tmp_path / "song.wav"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
    line = _one_line(capsys, _run(str(path), "--model", "demo", "--out", str(tmp_path / "s")))
    assert "empty file" not in line and "not a regular file" in line, line


def test_garbage_input_says_it_is_not_audio(tmp_path, capsys):
    path = tmp_path / "song.wav"
    path.write_bytes(b"hello world " * 100)
    line = _one_line(capsys, _run(str(path), "--model", "demo", "--out", str(tmp_path / "s")))
    assert "CalledProcessError" not in line and "neither libsndfile nor ffmpeg" in line, line


def test_a_bad_mp3_prints_no_decoder_notes_with_quiet(tmp_path):
    """mpg123 writes 'Note: …' to descriptor 2 itself: a subprocess sees what a user sees."""
    path = tmp_path / "bad.mp3"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    done = subprocess.run([sys.executable, "-m", "progdemix_tui", "run", "-q", str(path),
                           "--model", "demo", "--out", str(tmp_path / "s")],
                          capture_output=True, text=True, timeout=HANG_TIMEOUT, cwd=tmp_path)
    assert done.returncode == 2
    assert "Note:" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("args, words", [
    (["--steps", "nan"], "--steps"),
    (["--shifts", "1e3"], "--shifts"),
    (["--adaptive-chunk", "nan"], "finite"),
    (["--beta-max", "inf"], "finite"),
    (["--adaptive", "2", "--adaptive-chunk", "99999999999999999999"], "adaptive chunk"),
])
def test_bad_numbers_are_one_line_before_anything_runs(tmp_path, song, capsys, args, words):
    out = tmp_path / "s"
    line = _one_line(capsys, _run(str(song), "--model", "demo", "--out", str(out), *args))
    assert words in line, line
    assert not out.exists()


def test_export_filename_leading_out_is_refused_before_the_run(tmp_path, song, capsys):
    out = tmp_path / "s"
    line = _one_line(capsys, _run(str(song), "--model", "demo", "--steps", "1", "--out", str(out),
                                  "--export", str(tmp_path / "x"), "--filename", "../{stem}"))
    assert "--filename" in line, line
    assert not out.exists()


def test_default_session_names_are_unique_and_reserved(tmp_path, song):
    """Runs started in the same second get one folder each, created when named."""
    from progdemix_tui.engine.session import new_session_folder

    folders = [new_session_folder(tmp_path / "sessions", song, "vocals", "add-to-mixture")
               for _ in range(3)]
    assert len(set(folders)) == 3
    assert all(folder.is_dir() for folder in folders)


def test_a_failed_default_run_leaves_no_empty_session(tmp_path, song, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _one_line(capsys, _run(str(song), "--model", str(tmp_path / "missing.safetensors")))
    assert not any((tmp_path / "sessions").iterdir())


# --------------------------------------------------------------------------- audio device


@pytest.mark.parametrize("port, ok", [(80, False), (1023, False), (70000, False), (0, True),
                                      (1024, True), (65535, True)])
def test_web_ports_follow_the_message(port, ok):
    from progdemix_tui.playback.errors import AudioUnavailable
    from progdemix_tui.playback.outputs.web import parse_web_device

    if ok:
        assert parse_web_device(f"web:{port}") == port
    else:
        with pytest.raises(AudioUnavailable, match="1024 to 65535"):
            parse_web_device(f"web:{port}")


def _saved_device(tmp_path, monkeypatch, device: str) -> Path:
    from progdemix_tui.tui.settings import ENV_DIR

    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.json").write_text(json.dumps({"ui": {"audio_device": device}}))
    monkeypatch.setenv(ENV_DIR, str(config))
    monkeypatch.chdir(tmp_path)
    return config / "settings.json"


def _refused_at_start(capsys) -> str:
    """The one line ``progdemix-tui`` prints when the app refuses to start (built, not run:
    an app that would start is a failure here, not a hang)."""
    from progdemix_tui.cli.common import fail
    from progdemix_tui.cli.tui import build_app
    from progdemix_tui.engine.errors import ProgdemixError

    try:
        build_app([])
    except ProgdemixError as exc:
        return _one_line(capsys, fail(str(exc), exc.exit_code))
    raise AssertionError("the app would start")


def test_an_invalid_saved_audio_device_names_settings_json(tmp_path, monkeypatch, capsys):
    settings = _saved_device(tmp_path, monkeypatch, "web:80")
    line = _refused_at_start(capsys)
    assert str(settings) in line and "--audio-device" in line, line


def test_a_busy_saved_audio_device_names_settings_json(tmp_path, monkeypatch, capsys):
    from progdemix_tui.playback.outputs.web import HOST

    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        settings = _saved_device(tmp_path, monkeypatch, f"web:{busy.getsockname()[1]}")
        line = _refused_at_start(capsys)
    assert str(settings) in line and "in use" in line, line
