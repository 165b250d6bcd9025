"""`progdemix-tui devices` through the real PortAudio stack (ALSA default = file sink)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import HANG_TIMEOUT
from support.filesink import sink_env, write_asoundrc


def _devices(home) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "progdemix_tui", "devices"], capture_output=True,
                          text=True, env=sink_env(home), timeout=HANG_TIMEOUT)


@pytest.mark.smoke
def test_lists_the_default_device(tmp_path):
    write_asoundrc(tmp_path / "home", tmp_path / "out.raw")
    result = _devices(tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "default" in result.stdout


def test_no_sound_card_lists_the_web_speaker_and_says_so(tmp_path):
    """Issue "First hour" 10: no sound card is no error; the browser still plays (exit 0)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text('pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n')
    result = _devices(home)
    assert result.returncode == 0, result.stderr
    assert "web" in result.stdout and "127.0.0.1:8765" in result.stdout
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "--audio-device web" in result.stderr


def test_lists_the_web_speaker(tmp_path):
    write_asoundrc(tmp_path / "home", tmp_path / "out.raw")
    result = _devices(tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "web" in result.stdout and "127.0.0.1:8765" in result.stdout
