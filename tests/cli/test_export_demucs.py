"""Issue 26.2: demucs's flags and layout (``-n``, ``-o``, ``-d``, ``--layout demucs``,
``{model}``, ``--other-method none``, ``--mp3``, ``--mp3-preset``) and Ogg Vorbis, Opus and
M4A/AAC through ffmpeg, each decoded back with ffmpeg."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from progdemix_tui.cli import main


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory):
    root = tmp_path_factory.mktemp("demucs")
    assert main(["demo", str(root / "songs"), "--count", "1", "--duration", "2", "-q"]) == 0
    session = root / "session"
    # demucs's spellings: -n model, -d device, -o out
    assert main(["run", str(root / "songs" / "demo-001"), "-n", "demo", "-d", "cpu", "-o",
                 str(session), "--steps", "1", "-q"]) == 0
    manifest = json.loads((session / "manifest.json").read_text())
    assert manifest["model"]["name"] == "demo" and manifest["device"] == "cpu"
    return session


def test_demucs_layout_and_flags(tmp_path, demo_session):
    out = tmp_path / "separated"
    assert main(["export", str(demo_session), "-o", str(out), "--layout", "demucs", "--mp3",
                 "--mp3-preset", "7", "--two-stems", "vocals", "--other-method", "none",
                 "-q"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "demo/demo-001/vocals.mp3"]
    assert sf.info(out / "demo" / "demo-001" / "vocals.mp3").format == "MP3"
    named = tmp_path / "named"
    assert main(["export", str(demo_session), "-o", str(named), "--filename",
                 "{model}-{track}-{stem}.{ext}", "--stems", "bass", "-q"]) == 0
    assert (named / "demo-demo-001-bass.wav").is_file()


def test_layout_and_filename_together_is_one_line(tmp_path, demo_session, capsys):
    assert main(["export", str(demo_session), "-o", str(tmp_path / "o"), "--layout", "demucs",
                 "--filename", "{stem}.{ext}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--layout and --filename" in err[0]


def ffprobe(path) -> dict:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                           "stream=codec_name,sample_rate,channels:stream_tags=comment:format_tags=comment",
                           "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def decode(path, rate: int) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ar",
                          str(rate), "-ac", "2", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)


@pytest.mark.parametrize(("fmt", "codec", "rate"), [("ogg", "vorbis", 44100),
                                                     ("opus", "opus", 48000),
                                                     ("m4a", "aac", 44100)])
def test_ffmpeg_codecs_decode_back(tmp_path, demo_session, fmt, codec, rate):
    out = tmp_path / "o"
    for form in (fmt, "float32"):
        assert main(["export", str(demo_session), "--stems", "vocals", "--format", form, "-o",
                     str(out), "-q"]) == 0
    path = out / "demo-001" / f"vocals.{fmt}"
    info = ffprobe(path)
    stream = info["streams"][0]
    assert (stream["codec_name"], int(stream["sample_rate"]), stream["channels"]) == (
        codec, rate, 2)
    tags = {**info["format"].get("tags", {}), **stream.get("tags", {})}
    assert {k.lower(): v for k, v in tags.items()}.get("comment", "").startswith("vocals: ")
    decoded = decode(path, 44100)
    reference, _ = sf.read(out / "demo-001" / "vocals.wav", dtype="float32")
    assert abs(len(decoded) - len(reference)) < 0.05 * 44100  # 2 s, within codec padding
    level = 10 * np.log10(np.mean(decoded ** 2) / np.mean(reference ** 2))
    assert abs(level) < 1.0, level  # the same signal, at its level


def test_ffmpeg_missing_is_one_line(tmp_path, demo_session, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg on PATH
    assert main(["export", str(demo_session), "--format", "opus", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ffmpeg" in err[0] and "not installed" in err[0]
    assert not (tmp_path / "o").exists()
