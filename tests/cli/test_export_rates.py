"""Issue 26.1: exports at the input's own rate by default (resampled back from the model's
with julius), or ``--sample-rate N``; the session keeps the model's rate for metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import write_track

from progdemix_tui.cli import main

MODEL_RATE = 44100


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    alpha = np.sum(estimate * reference) / np.sum(reference * reference)
    return float(10 * np.log10(np.sum((alpha * reference) ** 2)
                               / np.sum((estimate - alpha * reference) ** 2)))


@pytest.fixture(scope="module", params=[22050, 48000, 96000])
def session_at(request, tmp_path_factory, tiny_model_path):
    rate = request.param
    root = tmp_path_factory.mktemp(f"rate{rate}")
    track = write_track(root / "song", seconds=1.0, rate=rate)
    assert main(["run", str(track), "--steps", "1", "--out", str(root / "s"), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu", "-q"]) == 0
    return rate, track, root / "s"


def test_export_at_the_inputs_rate_by_default(tmp_path, session_at, capsys):
    rate, track, folder = session_at
    assert json.loads((folder / "manifest.json").read_text())["samplerate"] == MODEL_RATE
    out = tmp_path / "out"
    assert main(["export", str(folder), "--step", "1", "--two-stems", "vocals", "--format",
                 "float32", "--out", str(out)]) == 0
    assert f"{rate} Hz from the model's {MODEL_RATE}" in capsys.readouterr().err
    files = [out / "song" / f"{n}.wav" for n in ("vocals", "no_vocals")]
    for path in files:
        meta = sf.info(path)
        assert (meta.samplerate, meta.channels) == (rate, 2)
        assert meta.frames == rate  # 1 s, as the input
    # vocals + no_vocals (mixture - vocals) gives the input mixture back at its own rate
    mixture, _ = sf.read(track / "mixture.wav", dtype="float64")
    total = sum(sf.read(p, dtype="float64")[0] for p in files)
    assert si_sdr(total, mixture) > 25


def test_sample_rate_option(tmp_path, session_at):
    rate, _, folder = session_at
    out = tmp_path / "out"
    assert main(["export", str(folder), "--stems", "bass", "--sample-rate", "44100",
                 "--out", str(out), "-q"]) == 0
    meta = sf.info(out / "song" / "bass.wav")
    assert (meta.samplerate, meta.frames) == (MODEL_RATE, MODEL_RATE)


def test_mp3_rates(tmp_path, session_at, capsys):
    rate, _, folder = session_at
    out = tmp_path / "out"
    code = main(["export", str(folder), "--stems", "bass", "--format", "mp3", "--out", str(out)])
    if rate == 96000:  # MP3 holds at most 48 kHz: one line, nothing written
        assert code == 2 and "MP3 cannot hold" in capsys.readouterr().err
        assert not out.exists()
        assert main(["export", str(folder), "--stems", "bass", "--format", "mp3",
                     "--sample-rate", "48000", "--out", str(out), "-q"]) == 0
        assert sf.info(out / "song" / "bass.mp3").samplerate == 48000
    else:
        assert code == 0 and sf.info(out / "song" / "bass.mp3").samplerate == rate


@pytest.mark.parametrize("value", ["1000", "1000000"])
def test_sample_rate_out_of_range(tmp_path, session_at, capsys, value):
    _, _, folder = session_at
    assert main(["export", str(folder), "--sample-rate", value, "--out",
                 str(tmp_path / "o")]) == 2
    assert "out of range" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_run_export_at_the_inputs_rate(tmp_path, tiny_model_path):
    track = write_track(tmp_path / "song", seconds=1.0, rate=48000)
    stems = tmp_path / "stems"
    assert main(["run", str(track), "--steps", "1", "--out", str(tmp_path / "s"), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu", "-q",
                 "--export", str(stems), "--two-stems", "vocals"]) == 0
    for name in ("vocals", "no_vocals"):
        meta = sf.info(stems / "song" / f"{name}.wav")
        assert (meta.samplerate, meta.frames) == (48000, 48000)


def test_run_export_mp3_at_96k_is_refused_before_the_run(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=0.5, rate=96000)
    out = tmp_path / "s"
    assert main(["run", str(track), "--steps", "1", "--out", str(out), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu",
                 "--export", str(tmp_path / "stems"), "--format", "mp3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "96000 Hz, which MP3 cannot hold" in err[0]
    assert not out.exists() and not (tmp_path / "stems").exists()
