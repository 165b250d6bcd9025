"""Formats libsndfile cannot read (M4A/AAC), decoded with ffmpeg as demucs does."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from progdemix_tui.cli import main
from progdemix_tui.engine import audio, open_session
from progdemix_tui.engine.batch import expand_inputs
from progdemix_tui.engine.errors import AudioInputError

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="ffmpeg not installed (README's apt line has it)")
RATE = 44100


@pytest.fixture
def m4a(tmp_path):
    """A 1.5 s stereo AAC file in an M4A container, made from a sine by ffmpeg."""
    t = np.arange(int(RATE * 1.5)) / RATE
    wav = tmp_path / "src.wav"
    sf.write(wav, np.stack([0.3 * np.sin(2 * np.pi * 440 * t),
                            0.2 * np.sin(2 * np.pi * 660 * t)], 1), RATE)
    out = tmp_path / "song.m4a"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac",
                    "-b:a", "192k", str(out)], check=True)
    wav.unlink()
    with pytest.raises(sf.LibsndfileError):
        sf.info(out)  # libsndfile really cannot read it
    return out


def test_m4a_is_decoded(m4a):
    meta = audio.info(m4a)
    assert (meta.format, meta.samplerate, meta.channels) == ("FFMPEG", RATE, 2)
    assert abs(meta.duration - 1.5) < 0.1
    loaded = audio.load(m4a, start=0.5, duration=0.5)
    assert loaded.samples.shape == (2, int(0.5 * RATE))
    t = (np.arange(loaded.samples.shape[1]) + int(0.5 * RATE)) / RATE
    left = loaded.samples[0].numpy()
    # AAC has an encoder delay: the best lag's correlation with the sine is near 1
    best = max(np.corrcoef(left, 0.3 * np.sin(2 * np.pi * 440 * (t - lag / RATE)))[0, 1]
               for lag in range(0, 2200, 8))
    assert best > 0.95


def test_run_on_m4a(tmp_path, m4a, tiny_model_path):
    out = tmp_path / "s"
    assert main(["run", str(m4a), "--steps", "1", "--out", str(out), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu", "-q"]) == 0
    session = open_session(out)
    assert session.status == "complete"
    assert session.manifest["input"]["format"].startswith("FFMPEG/aac")
    assert expand_inputs([tmp_path]) == [m4a]


def test_without_ffmpeg_one_line_says_install(tmp_path, m4a, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(AudioInputError, match="install ffmpeg"):
        audio.info(m4a)
    assert main(["run", str(m4a), "--out", str(tmp_path / "s"), "--model", "demo"]) == 2
    err = capsys.readouterr().err
    assert "install ffmpeg" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_garbage_with_ffmpeg_is_one_line(tmp_path):
    bad = tmp_path / "x.m4a"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(AudioInputError, match="not a readable audio file"):
        audio.info(bad)
