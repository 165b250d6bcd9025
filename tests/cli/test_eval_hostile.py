"""Broken tracks, tampered or escaping evaluation folders, read-only folders: each is one
skip reason or one error line, never an aborted evaluation, a traceback, a file read from
outside the folder, or an ``eval.json`` that says ``complete`` after a failure."""

from __future__ import annotations

import json
import shutil
import subprocess
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


def _too_short(track: Path) -> None:
    for name in ("mixture", "drums", "bass", "other", "vocals"):
        _edit(track / f"{name}.wav", lambda x, r: (x[:3], r))


BROKEN = {
    "nan-stem": (_nan_stem, "bass.wav contains NaN or infinite samples"),
    "inf-mixture": (_inf_mixture, "mixture.wav contains NaN or infinite samples"),
    "garbage-stem": (_garbage_stem, "other.wav is not a readable audio file"),
    "truncated-stem": (_truncated_stem, "the stems differ in length"),
    "mixture-rate": (_mixture_rate, "mixture is at 22050 Hz but the stems at 44100 Hz"),
    "too-short": (_too_short, "the stems hold only 3 frames (0.000 s)"),
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


# --------------------------------------------------------------------------- documents


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, tiny_model_path) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_track(root / "a", seconds=2.0, seed=1)
    write_track(root / "b", seconds=2.0, seed=2)
    out = tmp_path_factory.mktemp("eval") / "done"
    assert main(eval_args(root, out, tiny_model_path, "--no-plots")) == 0
    return out


@pytest.fixture
def copy(evaluated, tmp_path) -> Path:
    """A fresh copy of the evaluated folder, to tamper with."""
    return Path(shutil.copytree(evaluated, tmp_path / "copy"))


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data).replace('"1e400"', "1e400"))  # a float JSON overflows


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


TAMPERED = {
    "no parameters": ("eval.json", lambda d: d.pop("parameters"), "parameters"),
    "skipped entry without track": ("eval.json", lambda d: d.update(skipped=[{"x": 1}]),
                                    "skipped[0].track"),
    "warnings not a list": ("eval.json", lambda d: d.update(warnings=5), "warnings"),
    "target with a path": ("tracks/a__vocals.json",
                           lambda d: d.update(target="x/../../escaped"), "target"),
    "steps not a list": ("tracks/a__vocals.json", lambda d: d.update(steps="x"), "steps"),
    "si_sdr not a number": ("tracks/a__vocals.json",
                            lambda d: d["steps"][0]["si_sdr"].update(vocals="high"),
                            "steps[0].si_sdr.vocals"),
    "NaN metric": ("tracks/a__vocals.json",
                   lambda d: d["steps"][1].update(residual_db=float("nan")), "NaN"),
    "overflowing number": ("eval.json", lambda d: d["config"].update(x="1e400"),
                           "too large"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_document_is_one_error_line(copy, capsys, case):
    name, change, where = TAMPERED[case]
    _edit_json(copy / name, change)
    assert main(["report", str(copy)]) == 2
    err = one_error_line(capsys)
    assert str(copy / name) in err and where in err
    assert not (copy.parent / "escaped.png").exists()


def test_skipped_entries_print_as_text(copy, capsys):
    _edit_json(copy / "eval.json",
               lambda d: d.update(skipped=[{"track": "[/]x", "reason": "[red]y"}]))
    assert main(["report", str(copy), "--no-plots"]) == 0
    assert "  [/]x: [red]y\n" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["eval.json", "tracks/a__vocals.json"])
def test_deeply_nested_document_is_one_error_line(copy, capsys, name):
    (copy / name).write_text(json.dumps({"format": "progdemix-eval"})[:-1]
                             + ', "x": ' + _deep(100_000) + "}")
    assert main(["report", str(copy)]) == 2
    assert str(copy / name) in one_error_line(capsys)


@pytest.mark.parametrize("link", ["eval.json", "tracks", "tracks/a__vocals.json"])
def test_symlink_out_of_the_folder_is_refused(copy, tmp_path, capsys, link):
    outside = tmp_path / "outside" / Path(link).name  # a valid document, but elsewhere
    outside.parent.mkdir()
    (copy / link).rename(outside)
    (copy / link).symlink_to(outside)
    assert main(["report", str(copy), "--no-plots"]) == 2
    err = one_error_line(capsys)
    assert "leads outside the evaluation folder" in err and str(copy / link) in err


def test_resume_refuses_a_tampered_folder(copy, tiny_model_path, capsys):
    _edit_json(copy / "eval.json", lambda d: d.update(track_notes=["not", "a", "map"]))
    dataset = Path(json.loads((copy / "eval.json").read_text())["dataset"]["root"])
    assert main(eval_args(dataset, copy, tiny_model_path, "--no-plots")) == 2
    assert "track_notes" in one_error_line(capsys)


def test_resume_refuses_an_escaping_track_file_before_running(copy, tmp_path,
                                                               tiny_model_path, capsys):
    outside = tmp_path / "elsewhere.json"
    (copy / "tracks" / "a__vocals.json").rename(outside)
    (copy / "tracks" / "a__vocals.json").symlink_to(outside)
    dataset = Path(json.loads((copy / "eval.json").read_text())["dataset"]["root"])
    before = (copy / "eval.json").read_text()
    assert main(eval_args(dataset, copy, tiny_model_path, "--no-plots")) == 2
    assert "leads outside the evaluation folder" in one_error_line(capsys)
    assert (copy / "eval.json").read_text() == before  # refused before anything ran


# --------------------------------------------------------------------------- eval-merge


def test_merge_of_a_tampered_shard_writes_nothing(copy, evaluated, tmp_path, capsys):
    _edit_json(copy / "tracks" / "b__vocals.json", lambda d: d.update(steps="x"))
    merged = tmp_path / "merged"
    assert main(["eval-merge", str(copy), "--out", str(merged)]) == 2
    assert "b__vocals.json" in one_error_line(capsys)
    assert not merged.exists()


def test_failed_merge_does_not_say_complete(evaluated, tmp_path, capsys):
    merged = tmp_path / "merged"
    (merged / "results.csv").mkdir(parents=True)  # the tables cannot be written
    (merged / "eval.json").write_text((evaluated / "eval.json").read_text())
    assert main(["eval-merge", str(evaluated), "--out", str(merged), "--no-plots"]) == 2
    assert "results.csv" in one_error_line(capsys)
    assert json.loads((merged / "eval.json").read_text())["status"] == "failed"


# --------------------------------------------------------------------------- read-only


@pytest.fixture
def readonly_copy(evaluated, tmp_path):
    """The evaluated folder on a tmpfs remounted read-only: root cannot write there either
    (skipped where mounting is not permitted)."""
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        shutil.copytree(evaluated, mount / "eval")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount / "eval"
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.parametrize("plots", [["--no-plots"], []])
def test_report_prints_tables_of_a_read_only_folder(readonly_copy, capsys, plots):
    before = sorted(p.name for p in readonly_copy.iterdir())
    assert main(["report", str(readonly_copy), *plots]) == 0
    captured = capsys.readouterr()
    assert "target vocals over 2 track(s)" in " ".join(captured.out.split())
    assert "not rewritten" in captured.err and "Read-only file system" in captured.err
    assert sorted(p.name for p in readonly_copy.iterdir()) == before


# --------------------------------------------------------------------------- track folders


def test_run_warns_about_a_track_folder_missing_a_stem(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=1.2, skip=("bass", "other"))
    out = tmp_path / "session"
    assert main(["run", str(track), "--steps", "0", "--out", str(out),
                 *fast(tiny_model_path)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "lacks" in line]
    assert warnings == ["note: warning: song lacks the reference stem(s) bass, other (.wav or "
                        ".flac): running without references"]
    assert not (out / "references").exists()


def test_tui_run_warns_about_a_track_folder_missing_a_stem(tmp_path, tiny_model_path):
    """The app's run worker passes the same warning on as a note (shown as a toast)."""
    import threading

    from progdemix_tui.tui.run_plan import parse
    from progdemix_tui.tui.settings import DEFAULTS
    from progdemix_tui.tui.worker.runner import RunEnded, RunNote, RunRequest, run_job

    track = write_track(tmp_path / "song", seconds=1.0, skip=("bass",))
    plan = parse(dict(DEFAULTS, model_path=str(tiny_model_path), steps="0",
                      segment="1", device="cpu"))
    messages: list = []
    run_job(RunRequest(track, plan, tmp_path / "session"), threading.Event(), messages.append)
    assert isinstance(messages[-1], RunEnded) and messages[-1].status == "complete", messages[-1]
    notes = [m.text for m in messages if isinstance(m, RunNote)]
    assert notes == ["warning: song lacks the reference stem(s) bass (.wav or .flac): running "
                     "without references"]
