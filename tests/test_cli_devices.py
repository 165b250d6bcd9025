"""`progdemix-tui devices` through the real PortAudio stack (ALSA default = file sink)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import HANG_TIMEOUT
from filesink import sink_env, write_asoundrc


def _devices(home) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "progdemix_tui", "devices"], capture_output=True,
                          text=True, env=sink_env(home), timeout=HANG_TIMEOUT)


@pytest.mark.smoke
def test_lists_the_default_device(tmp_path):
    write_asoundrc(tmp_path / "home", tmp_path / "out.raw")
    result = _devices(tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "default" in result.stdout


def test_no_device_is_one_line_exit_2(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text('pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n')
    result = _devices(home)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:")


def test_lists_the_web_speaker(tmp_path):
    write_asoundrc(tmp_path / "home", tmp_path / "out.raw")
    result = _devices(tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "web" in result.stdout and "127.0.0.1:8765" in result.stdout
