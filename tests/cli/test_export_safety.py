"""Issue 22 (3, 15): an export never follows a link inside --out to outside it; it checks
every stem (decodable, the manifest's length, rate and channels) before writing any file;
``models download --to ''`` is refused, not written into the current folder."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import write_track

from progdemix_tui.cli import main

SECONDS = 1.0


@pytest.fixture(scope="module")
def session(tmp_path_factory, tiny_model_path):
    root = tmp_path_factory.mktemp("safety")
    track = write_track(root / "song", seconds=SECONDS)
    assert main(["run", str(track), "--steps", "1", "--out", str(root / "s"), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu", "-q"]) == 0
    return root / "s"


def test_a_symlinked_folder_inside_out_is_not_followed(tmp_path, session, capsys):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (out / "song").symlink_to(outside, target_is_directory=True)  # {track} is "song"
    assert main(["export", str(session), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link" in err[0] and "Traceback" not in err[0]
    assert list(outside.iterdir()) == []
    # deeper: {track}/{session} with the second level linked out
    (out / "song").unlink()
    (out / "song").mkdir()
    (out / "song" / "s").symlink_to(outside, target_is_directory=True)
    assert main(["export", str(session), "--filename", "{track}/{session}/{stem}.{ext}",
                 "--out", str(out)]) == 2
    assert list(outside.iterdir()) == []


def test_folders_are_made_without_following_links(tmp_path):
    """The write itself walks with O_NOFOLLOW: a link that appears after planning is refused."""
    from progdemix_tui.engine.errors import OutputError
    from progdemix_tui.engine.export import make_folders

    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    make_folders(out, out / "a" / "b" / "x.wav")
    assert (out / "a" / "b").is_dir()
    os.symlink(outside, out / "c")
    with pytest.raises(OutputError, match="symbolic link"):
        make_folders(out, out / "c" / "d" / "x.wav")
    assert list(outside.iterdir()) == []


def _copy(session, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(session, copy)
    return copy


def _exported(out):
    return sorted(p.name for p in out.rglob("*") if p.is_file()) if out.exists() else []


def test_a_broken_stem_is_found_before_any_file_is_written(tmp_path, session, capsys):
    copy = _copy(session, tmp_path)
    out = tmp_path / "out"
    assert main(["export", str(copy), "--step", "1", "--out", str(out), "-q"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*.wav")}
    vocals = copy / "steps" / "001" / "vocals.flac"  # the last of the four files
    data = vocals.read_bytes()
    vocals.write_bytes(data[:len(data) // 2])  # cut mid-stream: headers fine, audio not
    assert main(["export", str(copy), "--step", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vocals of step 1" in err[0] and "nothing was exported" in err[0]
    assert {p: p.read_bytes() for p in out.rglob("*.wav")} == before  # none replaced


def test_a_shortened_stem_is_refused(tmp_path, session, capsys):
    copy = _copy(session, tmp_path)
    bass = copy / "steps" / "000" / "bass.flac"
    data, rate = sf.read(bass, dtype="float32")
    sf.write(bass, data[: rate // 4], rate, subtype="PCM_24")  # 0.25 s of the 1 s session
    out = tmp_path / "out"
    assert main(["export", str(copy), "--step", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "differ" in err and "bass of step 0: 2 ch, 0.250 s" in err
    assert _exported(out) == []
    # all of a step's files cut alike: the manifest's duration still tells
    for name in ("mixture", "drums", "other", "vocals"):
        path = copy / "steps" / "000" / f"{name}.flac"
        data, rate = sf.read(path, dtype="float32")
        sf.write(path, data[: rate // 4], rate, subtype="PCM_24")
    assert main(["export", str(copy), "--step", "0", "--two-stems", "vocals",
                 "--out", str(out)]) == 2
    assert "the manifest says 1.000 s" in capsys.readouterr().err
    assert _exported(out) == []


def test_a_stem_at_another_rate_or_channels_is_refused(tmp_path, session, capsys):
    copy = _copy(session, tmp_path)
    drums = copy / "steps" / "000" / "drums.flac"
    data, rate = sf.read(drums, dtype="float32")
    sf.write(drums, np.mean(data, axis=1), rate, subtype="PCM_24")  # mono
    out = tmp_path / "out"
    assert main(["export", str(copy), "--step", "0", "--out", str(out)]) == 2
    assert "drums of step 0: 1 ch" in capsys.readouterr().err
    sf.write(drums, data, 22050, subtype="PCM_24")
    assert main(["export", str(copy), "--step", "0", "--out", str(out)]) == 2
    assert "22050 Hz" in capsys.readouterr().err
    assert _exported(out) == []


@pytest.mark.parametrize("to", ["", "  "])
def test_download_to_an_empty_folder_name_is_refused(tmp_path, monkeypatch, capsys, to):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["models", "download", "hdemucs_mmi", "--to", to]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder name" in err[0]
    assert list(tmp_path.iterdir()) == []
