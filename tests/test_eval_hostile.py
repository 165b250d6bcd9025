"""Broken tracks, tampered or escaping evaluation folders, read-only folders: each is one
skip reason or one error line, never an aborted evaluation, a traceback, a file read from
outside the folder, or an ``eval.json`` that says ``complete`` after a failure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import dataset as ds


def fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu"]


def eval_args(dataset: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return ["eval", str(dataset), "--out", str(out), "--steps", "1", "--excerpt", "1",
            *fast(model), *extra]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error:") and "Traceback" not in err
    return err


# --------------------------------------------------------------------------- broken tracks


def _edit(path: Path, change) -> None:
    """Rewrite a float WAV through ``change(samples, rate) -> (samples, rate)``."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    data, rate = change(data, rate)
    sf.write(path, data, rate, subtype="FLOAT")


def _nan_stem(track: Path) -> None:
    _edit(track / "bass.wav", lambda x, r: (np.where(np.arange(len(x))[:, None] == 500,
                                                     np.nan, x), r))


def _inf_mixture(track: Path) -> None:
    _edit(track / "mixture.wav", lambda x, r: (np.where(np.arange(len(x))[:, None] == 9,
                                                        np.inf, x), r))


def _garbage_stem(track: Path) -> None:
    (track / "other.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVE" + bytes(200))


def _truncated_stem(track: Path) -> None:
    data = (track / "drums.wav").read_bytes()
    (track / "drums.wav").write_bytes(data[: len(data) // 3])


def _mixture_rate(track: Path) -> None:
    _edit(track / "mixture.wav", lambda x, r: (x, r // 2))


BROKEN = {
    "nan-stem": (_nan_stem, "bass.wav contains NaN or infinite samples"),
    "inf-mixture": (_inf_mixture, "mixture.wav contains 2 NaN or infinite samples"),
    "garbage-stem": (_garbage_stem, "other.wav is not a readable audio file"),
    "truncated-stem": (_truncated_stem, "the stems differ in length"),
    "mixture-rate": (_mixture_rate, "mixture is at 22050 Hz but the stems at 44100 Hz"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_track_is_skipped_with_its_reason(tmp_path, case):
    breaks, reason = BROKEN[case]
    track = write_track(tmp_path / case, seconds=2.0)
    breaks(track)
    with pytest.raises(ds.TrackSkipped) as caught:
        ds.load_track(ds.open_dataset(track).tracks[0], 44100, excerpt=1.0)
    assert reason in str(caught.value)
    assert str(tmp_path) not in str(caught.value)  # the file's name, not its whole path


def test_eval_skips_broken_tracks_and_evaluates_the_rest(tmp_path, tiny_model_path, capsys):
    root = tmp_path / "data"
    write_track(root / "good", seconds=2.0, seed=1)
    for case, (breaks, _) in BROKEN.items():
        breaks(write_track(root / case, seconds=2.0, seed=2))
    write_track(root / "[bold]odd", seconds=2.0, seed=3, skip=("vocals",))  # Rich markup
    out = tmp_path / "out"
    assert main(eval_args(root, out, tiny_model_path, "--no-plots")) == 0
    err = capsys.readouterr().err
    meta = json.loads((out / "eval.json").read_text())
    assert meta["status"] == "complete"
    assert [p.name for p in (out / "tracks").glob("*.json")] == ["good__vocals.json"]
    reasons = {s["track"]: s["reason"] for s in meta["skipped"]}
    for case, (_, reason) in BROKEN.items():
        assert reason in reasons[case]
    assert reasons["[bold]odd"] == "missing vocals (.wav or .flac)"
    assert "skipped [bold]odd: missing vocals (.wav or .flac)\n" in err  # as text, one line
