"""`progdemix-tui export` and the engine's export: every format read back, two stems,
templates, refusals before anything is written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import write_track

from progdemix_tui import engine
from progdemix_tui.cli import main
from progdemix_tui.engine.errors import ConfigError
from progdemix_tui.engine.export import ExportSpec, export_sessions, plan_export

RATE = 44100
SECONDS = 1.0


@pytest.fixture(scope="module")
def sessions(tmp_path_factory, tiny_model_path) -> tuple:
    """Two sessions of 2 steps: one with references (a track folder), one without."""
    root = tmp_path_factory.mktemp("export")
    track = write_track(root / "song", seconds=SECONDS)
    mix = root / "plain.wav"
    data, rate = sf.read(track / "mixture.wav")
    sf.write(mix, data, rate, subtype="FLOAT")
    fast = ["--model", str(tiny_model_path), "--segment", "1", "--device", "cpu", "-q"]
    for name, source in (("with-refs", track), ("no-refs", mix)):
        assert main(["run", str(source), "--steps", "2", "--out", str(root / name), *fast]) == 0
    return root / "with-refs", root / "no-refs"


FORMATS = [("wav16", "WAV", "PCM_16", 2**-14), ("wav24", "WAV", "PCM_24", 2**-22),
           ("float32", "WAV", "FLOAT", 1e-7), ("flac", "FLAC", "PCM_24", 2**-22)]


@pytest.mark.smoke
@pytest.mark.parametrize(("fmt", "container", "subtype", "tolerance"), FORMATS,
                         ids=[f[0] for f in FORMATS])
def test_formats_read_back_and_two_stems_sum(tmp_path, sessions, fmt, container, subtype,
                                             tolerance, capsys):
    with_refs, _ = sessions
    out = tmp_path / "out"
    args = ["export", str(with_refs), "--step", "1", "--format", fmt, "--clip-mode", "none",
            "--out", str(out)]
    assert main(args) == 0
    assert main([*args[:-2], "--two-stems", "vocals", "--filename", "{track}/two-{stem}.{ext}",
                 "--out", str(out)]) == 0
    session = engine.open_session(with_refs)
    ext = "flac" if fmt == "flac" else "wav"
    saved = {}
    for name in session.sources:
        path = out / "song" / f"{name}.{ext}"
        meta = sf.info(path)
        assert (meta.format, meta.subtype, meta.samplerate) == (container, subtype, RATE)
        assert meta.frames == int(SECONDS * RATE) and meta.channels == 2
        saved[name], _ = sf.read(path, dtype="float64")
        song_step = 1 if name == "vocals" else 0  # the song's stems: the target of step 1
        np.testing.assert_allclose(saved[name].T, session.load(song_step, name).numpy(),
                                   atol=tolerance)
    accompaniment, _ = sf.read(out / "song" / f"two-no_vocals.{ext}", dtype="float64")
    karaoke = session.load(0, "mixture").numpy().T - saved["vocals"]  # demucs's "minus"
    np.testing.assert_allclose(accompaniment, karaoke, atol=3 * tolerance)
    vocals, _ = sf.read(out / "song" / f"two-vocals.{ext}", dtype="float64")
    np.testing.assert_array_equal(vocals, saved["vocals"])
    assert not list(out.rglob("*.part"))


def test_mp3_reads_back(tmp_path, sessions):
    with_refs, _ = sessions
    out = tmp_path / "mp3"
    assert main(["export", str(with_refs), "--format", "mp3", "--mp3-bitrate", "128",
                 "--stems", "vocals", "--out", str(out), "-q"]) == 0
    path = out / "song" / "vocals.mp3"
    meta = sf.info(path)
    assert (meta.format, meta.samplerate, meta.channels) == ("MP3", RATE, 2)
    # LAME adds an encoder delay and pads the last frame: within two MP3 frames (decoded:
    # the header's count is estimated from the file's size, which the ID3 tag adds to)
    assert abs(len(sf.read(path)[0]) - SECONDS * RATE) <= 2 * 1152
    assert not (out / "song" / "drums.mp3").exists()


def test_best_and_last(tmp_path, sessions):
    with_refs, no_refs = sessions
    best = engine.open_session(with_refs).best_step()
    plan = plan_export([with_refs], ExportSpec(step="best", template="{stem}-{step}.{ext}"),
                       tmp_path)
    assert {p.step for p in plan} == {best}
    assert plan[0].path.name == f"drums-{best:03d}.wav"
    plan = plan_export([no_refs], ExportSpec(step="last"), tmp_path)
    assert {p.step for p in plan} == {2}
    assert plan[0].path == tmp_path / "plain" / "drums.wav"


def test_best_without_references_is_one_line(tmp_path, sessions, capsys):
    _, no_refs = sessions
    assert main(["export", str(no_refs), "--step", "best", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no references" in err and "--step last" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_template_collision_refused_before_writing(tmp_path, sessions, capsys):
    with_refs, no_refs = sessions
    out = tmp_path / "o"
    code = main(["export", str(with_refs), str(with_refs), "--out", str(out)])
    assert code == 2
    assert "two outputs" in capsys.readouterr().err
    assert not out.exists()
    # one session, a template without {stem}: the four stems collide
    assert main(["export", str(no_refs), "--filename", "x.{ext}", "--out", str(out)]) == 2
    assert not out.exists()
    # {session} tells them apart
    assert main(["export", str(with_refs), str(no_refs), "--filename", "{session}/{stem}.{ext}",
                 "--out", str(out), "-q"]) == 0
    assert len(list(out.rglob("*.wav"))) == 8


@pytest.mark.parametrize("args", [
    ["--filename", "{track.__class__}.wav"], ["--filename", "../{stem}.{ext}"],
    ["--filename", "/tmp/{stem}.{ext}"], ["--filename", "{nope}"], ["--filename", "{stem"],
    ["--step", "99"], ["--step", "-1"], ["--step", "first"], ["--stems", "drums,kazoo"],
    ["--two-stems", "kazoo"], ["--mp3-bitrate", "1000", "--format", "mp3"],
    ["--stems", ","],
], ids=lambda a: " ".join(a))
def test_bad_options_one_line_nothing_written(tmp_path, sessions, capsys, args):
    with_refs, _ = sessions
    out = tmp_path / "o"
    assert main(["export", str(with_refs), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "Traceback" not in err
    assert not out.exists()


def test_hostile_sessions_refused(tmp_path, sessions, capsys):
    with_refs, _ = sessions
    out = tmp_path / "o"
    assert main(["export", str(tmp_path / "missing"), "--out", str(out)]) == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    manifest = json.loads((with_refs / "manifest.json").read_text())
    manifest["steps"][0]["files"]["drums"]["path"] = "../../etc/passwd"
    (bad / "manifest.json").write_text(json.dumps(manifest))
    assert main(["export", str(bad), "--step", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 2
    assert not out.exists()
    # a hostile input name never becomes a path outside --out
    manifest = json.loads((with_refs / "manifest.json").read_text())
    manifest["input"]["path"] = "/x/../../evil/..wav"
    named = tmp_path / "named"
    shutil.copytree(with_refs, named)
    (named / "manifest.json").write_text(json.dumps(manifest))
    plan = plan_export([named], ExportSpec(), out)
    assert [p.path.parent for p in plan] == [out / "track"] * 4  # no "..", no separator, no hidden name


def test_spec_refuses_combined_stems():
    with pytest.raises(ConfigError):
        ExportSpec(stems=("vocals",), two_stems="vocals").validate()


def test_export_sessions_engine_api(tmp_path, sessions):
    with_refs, _ = sessions
    written = export_sessions([with_refs], ExportSpec(fmt="float32", stems=("bass",)), tmp_path)
    assert written == [tmp_path / "song" / "bass.wav"]


def test_run_export_writes_right_after_the_run(tmp_path, tiny_model_path):
    track = write_track(tmp_path / "tune", seconds=SECONDS)
    out, stems = tmp_path / "session", tmp_path / "stems"
    assert main(["run", str(track), "--steps", "1", "--out", str(out), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu", "-q",
                 "--export", str(stems), "--step", "best", "--two-stems", "drums",
                 "--format", "wav24"]) == 0
    assert sorted(p.name for p in (stems / "tune").iterdir()) == ["drums.wav", "no_drums.wav"]
    saved, _ = sf.read(stems / "tune" / "drums.wav", dtype="float64")
    expected = engine.open_session(out).load(0, "drums").numpy().T  # not the target: step 0's
    np.testing.assert_allclose(saved, expected, atol=2**-22)


def test_run_export_bad_option_refused_before_the_run(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "tune", seconds=SECONDS)
    out = tmp_path / "session"
    assert main(["run", str(track), "--out", str(out), "--model", str(tiny_model_path),
                 "--export", str(tmp_path / "stems"), "--filename", "{nope}.wav"]) == 2
    assert "--filename" in capsys.readouterr().err
    assert not out.exists()


def test_run_export_best_without_references_refused_before_the_run(tmp_path, tiny_model_path,
                                                                    capsys):
    track = write_track(tmp_path / "tune", seconds=SECONDS)
    song = tmp_path / "song.wav"  # the mixture alone: no references, so no best step
    shutil.copy(track / "mixture.wav", song)
    out = tmp_path / "session"
    assert main(["run", str(song), "--out", str(out), "--model", str(tiny_model_path),
                 "--export", str(tmp_path / "stems"), "--step", "best"]) == 2
    err = capsys.readouterr().err
    assert "--step best needs references" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "stems").exists()
