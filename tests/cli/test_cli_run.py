"""`progdemix-tui run` end to end: valid odd inputs work, bad inputs fail cleanly."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import soundfile as sf
from conftest import write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import open_session


def run_cli(*args: str) -> int:
    return main(["run", *args])


def fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu"]


@pytest.mark.smoke
def test_track_folder_run_writes_session(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=1.5)
    out = tmp_path / "session"
    assert run_cli(str(track), "--steps", "2", "--out", str(out), *fast(tiny_model_path)) == 0
    captured = capsys.readouterr()
    table = captured.out
    assert "vocals" in table and "Δ0" in table
    assert (out / "si_sdr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"chart written to {out / 'si_sdr.png'}\n" in captured.err  # whole, to copy
    session = open_session(out)
    assert session.status == "complete"
    assert [s.step for s in session.steps] == [0, 1, 2]
    assert session.has_references
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["steps"] == 2
    assert {"torch", "demucs", "progdemix_tui"} <= set(manifest["versions"])
    assert manifest["model"]["name"] == "tiny"
    vocals = session.load(2, "vocals")
    assert vocals.shape == (2, int(1.5 * 44100))
    assert session.load(-1, "bass").shape == vocals.shape


@pytest.mark.parametrize(
    ("rate", "channels", "subtype", "seconds"),
    [(22050, 1, "PCM_U8", 1.0), (48000, 6, "PCM_24", 1.0), (96000, 2, "FLOAT", 0.5),
     (44100, 2, "PCM_16", 0.3)],
    ids=["8bit-22k-mono", "24bit-48k-6ch", "float-96k", "shorter-than-a-chunk"],
)
def test_unusual_valid_inputs(tmp_path, tiny_model_path, capsys, rate, channels, subtype,
                              seconds):
    t = np.arange(int(rate * seconds)) / rate
    data = np.stack([0.3 * np.sin(2 * np.pi * (220 + 50 * c) * t) for c in range(channels)], 1)
    path = tmp_path / "in.wav"
    sf.write(path, data, rate, subtype=subtype)
    out = tmp_path / "s"
    assert run_cli(str(path), "--steps", "1", "--out", str(out), *fast(tiny_model_path)) == 0
    session = open_session(out)
    assert len(session.steps) == 2
    notes = " ".join(session.manifest["input"]["notes"])
    assert notes or (rate == 44100 and channels == 2)
    assert ("s long; separation" in notes) == (seconds < 1.0)  # warned about, still runs
    assert (out / "estimate_change.png").is_file()  # no references: the estimate change


def test_silent_file_runs_and_shows_na(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "silent", seconds=1.0, silent=("drums", "bass", "other",
                                                                 "vocals"))
    assert run_cli(str(track), "--steps", "1", "--out", str(tmp_path / "s"),
                   *fast(tiny_model_path)) == 0
    assert "n/a" in capsys.readouterr().out
    text = (tmp_path / "s" / "manifest.json").read_text()
    assert "NaN" not in text and "Infinity" not in text


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such file"),
        ("directory", "folder without mixture"),
        ("not-audio", "not a readable audio file"),
        ("empty", "empty file"),
        ("zero-length", "0 frames"),
        ("nan", "NaN"),
        ("unwritable-out", "cannot create"),
        ("untrusted-th", "--trust-checkpoint"),
        ("unknown-model", "unknown model"),
        ("oracle-no-refs", "oracle mode needs the true stems"),
        ("bad-steps", "steps must be"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, tiny_model_path, capsys, case, message):
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros((4410, 2)) + 0.1, 44100)
    path, extra = good, []
    model = ["--model", str(tiny_model_path)]
    if case == "missing":
        path = tmp_path / "nope.wav"
    elif case == "directory":
        path = tmp_path / "dir"
        path.mkdir()
    elif case == "not-audio":
        path = tmp_path / "x.wav"
        path.write_text("hello " * 100)
    elif case == "empty":
        path = tmp_path / "x.wav"
        path.write_bytes(b"")
    elif case == "zero-length":
        path = tmp_path / "x.wav"
        sf.write(path, np.zeros((0, 2)), 44100)
    elif case == "nan":
        path = tmp_path / "x.wav"
        sf.write(path, np.full((100, 2), np.nan), 44100, subtype="FLOAT")
    elif case == "unwritable-out":
        blocker = tmp_path / "blocker"
        blocker.write_text("")
        extra = ["--out", str(blocker / "session")]
    elif case == "untrusted-th":
        th = tmp_path / "m.th"
        th.write_bytes(b"\x80\x04not really")
        model = ["--model", str(th)]
    elif case == "unknown-model":
        model = ["--model", "no_such_model"]
    elif case == "oracle-no-refs":
        extra = ["--mode", "oracle"]
    elif case == "bad-steps":
        extra = ["--steps", "-3"]
    out_default = ["--out", str(tmp_path / "out")] if not extra or case != "unwritable-out" else []
    code = run_cli(str(path), *model, "--segment", "1", *extra, *out_default)
    err = capsys.readouterr().err
    assert code == 2
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_usage_error_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run"])
    assert info.value.code == 2


def _mount_tmpfs(mount, options: str):
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    return mount


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1.5 MB tmpfs: a real full disk (needs root's mount; skipped where not permitted)."""
    yield _mount_tmpfs(tmp_path / "disk", "size=1500k")
    subprocess.run(["umount", str(tmp_path / "disk")], check=False)


@pytest.fixture
def readonly_disk(tmp_path):
    """A read-only tmpfs: writes fail with EROFS even for root (skipped where not permitted)."""
    yield _mount_tmpfs(tmp_path / "ro", "ro,size=100k")
    subprocess.run(["umount", str(tmp_path / "ro")], check=False)


def test_read_only_disk_fails_cleanly(tmp_path, tiny_model_path, capsys, readonly_disk):
    track = write_track(tmp_path / "song", seconds=2.0)
    out = readonly_disk / "new" / "session"
    # checked before the model is loaded (an unknown model name fails even earlier, before
    # torch is imported, so a real model file is given here)
    assert run_cli(str(track), "--steps", "1", "--out", str(out), *fast(tiny_model_path)) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Read-only file system" in err and "choose a writable --out" in err
    assert "Traceback" not in err
    dataset = tmp_path / "dataset"
    write_track(dataset / "a", seconds=2.0)
    assert main(["eval", str(dataset), "--steps", "1", "--out", str(readonly_disk / "e"),
                 *fast(tiny_model_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Read-only file system" in err and "Traceback" not in err


def test_full_disk_fails_cleanly(tmp_path, tiny_model_path, capsys, tiny_disk):
    track = write_track(tmp_path / "song", seconds=4.0)
    out = tiny_disk / "session"
    assert run_cli(str(track), "--steps", "3", "--out", str(out), *fast(tiny_model_path)) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no space left" in err and "Traceback" not in err
    session = open_session(out)  # the manifest stays valid, listing only complete steps
    assert session.status == "failed"
    for record in session.steps:
        for entry in record.files.values():
            assert (out / entry["path"]).is_file()
    assert not list(out.rglob("*.part"))
