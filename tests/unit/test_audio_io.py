"""Unusual but valid audio must load (converted, with a note); files are written atomically."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from progdemix_tui.engine import audio, files
from progdemix_tui.engine.errors import AudioInputError, OutputError


def _tone(rate: int, seconds: float = 0.5, channels: int = 2) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    return np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "FLOAT"])
def test_sample_formats(tmp_path, subtype):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(44100), 44100, subtype=subtype)
    loaded = audio.load(path, 44100)
    assert loaded.samples.shape == (2, 22050)
    assert loaded.samples.dtype == torch.float32
    assert float(loaded.samples.abs().max()) == pytest.approx(0.5, abs=0.02)


@pytest.mark.smoke
@pytest.mark.parametrize("rate", [22050, 48000, 96000])
def test_resampled_to_model_rate(tmp_path, rate):
    path = tmp_path / "x.flac"
    sf.write(path, _tone(rate), rate)
    loaded = audio.load(path, 44100)
    assert loaded.samplerate == 44100
    assert abs(loaded.samples.shape[-1] - 22050) <= 1
    assert any("resampled" in n for n in loaded.notes)


def test_mono_is_duplicated(tmp_path):
    path = tmp_path / "mono.wav"
    sf.write(path, _tone(44100, channels=1), 44100)
    loaded = audio.load(path, 44100)
    assert loaded.samples.shape[0] == 2
    assert torch.equal(loaded.samples[0], loaded.samples[1])
    assert any("mono" in n for n in loaded.notes)


def test_six_channels_downmixed_with_warning(tmp_path):
    path = tmp_path / "surround.wav"
    sf.write(path, _tone(44100, channels=6), 44100)
    loaded = audio.load(path, 44100)
    assert loaded.samples.shape[0] == 2
    assert any("warning" in n and "6 channels" in n and "LFE dropped" in n
               for n in loaded.notes)


@pytest.mark.parametrize(("speaker", "left", "right"), [
    ("FL", 0.414, 0.0), ("FR", 0.0, 0.414), ("FC", 0.293, 0.293), ("LFE", 0.0, 0.0),
    ("BL", 0.293, 0.0), ("BR", 0.0, 0.293)])
def test_5_1_downmix_follows_itu(tmp_path, speaker, left, right):
    """5.1 in WAV order (FL FR FC LFE BL BR): the centre (usually the voice) reaches both
    sides equally, the LFE is dropped; ffmpeg's normalised ITU-R BS.775 gains."""
    tone = _tone(44100, channels=1)[:, 0]
    data = np.zeros((len(tone), 6), dtype=np.float32)
    data[:, audio.SPEAKER_ORDERS[6].index(speaker)] = tone
    path = tmp_path / f"{speaker}.wav"
    sf.write(path, data, 44100, subtype="FLOAT")
    out = audio.load(path, 44100).samples.numpy()
    np.testing.assert_allclose(out, np.stack([left * tone, right * tone]), atol=1e-3 * abs(tone).max())


def test_unusual_channel_counts_still_downmix():
    matrix, how = audio.stereo_downmix_matrix(10)
    assert "even channels left" in how
    torch.testing.assert_close(matrix.sum(1), torch.ones(2))


def test_excerpt(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(44100, seconds=2.0), 44100)
    loaded = audio.load(path, 44100, start=0.5, duration=1.0)
    assert loaded.samples.shape[-1] == 44100
    with pytest.raises(AudioInputError, match="past its end"):
        audio.load(path, 44100, start=5.0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not audio at all " * 50), "not a readable audio"),
        (lambda p: sf.write(p, np.zeros((0, 2)), 44100), "0 frames"),
        (lambda p: sf.write(p, np.full((100, 2), np.nan), 44100, subtype="FLOAT"), "NaN"),
        (lambda p: sf.write(p, np.full((100, 2), np.inf), 44100, subtype="FLOAT"), "NaN or infinite"),
    ],
    ids=["missing", "directory", "empty", "not-audio", "zero-length", "nan", "inf"],
)
def test_bad_inputs_raise_one_clear_error(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioInputError, match=message) as info:
        audio.load(path, 44100)
    assert "\n" not in str(info.value)


def test_save_is_atomic_and_reports_unwritable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        audio.save(blocker / "sub" / "x.wav", torch.zeros(2, 10), 44100)
    out = audio.save(tmp_path / "ok.flac", torch.full((2, 100), 0.25), 44100)
    back, rate = sf.read(out)
    assert rate == 44100 and back.shape == (100, 2)
    assert not list(tmp_path.glob("*.part"))


def test_written_files_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        out = files.write_text_atomic(tmp_path / "m.json", "{}")
    finally:
        os.umask(old)
    assert (out.stat().st_mode & 0o777) == 0o644


@pytest.mark.parametrize("fmt", ["OGG", "MP3"])
def test_compressed_formats(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, _tone(44100, seconds=1.0), 44100, format=fmt)
    loaded = audio.load(path, 44100)
    assert loaded.samples.shape[0] == 2
    assert abs(loaded.samples.shape[-1] - 44100) < 2048  # codec padding
    assert float(loaded.samples.abs().max()) == pytest.approx(0.5, abs=0.1)
