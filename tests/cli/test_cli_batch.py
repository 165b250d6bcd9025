"""`progdemix-tui run` with several inputs: one session each, a bad file skipped."""

from __future__ import annotations

import contextlib

import numpy as np
import soundfile as sf
from conftest import write_track

from progdemix_tui import engine
from progdemix_tui.cli import main
from progdemix_tui.engine.batch import expand_inputs


def fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu", "--steps", "1"]


def make_songs(folder):
    folder.mkdir()
    rate = 44100
    t = np.arange(int(rate * 1.0)) / rate
    sf.write(folder / "a.wav", np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, 1), rate)
    (folder / "b-broken.wav").write_text("not audio at all " * 50)
    sf.write(folder / "c.flac", np.stack([0.2 * np.sin(2 * np.pi * 330 * t)] * 2, 1), rate)
    (folder / "notes.txt").write_text("ignored")
    return folder


def test_batch_with_a_broken_file(tmp_path, tiny_model_path, capsys, monkeypatch):
    songs = make_songs(tmp_path / "album")
    track = write_track(tmp_path / "track", seconds=1.0)
    loads = []
    real = engine.Separator.from_config
    monkeypatch.setattr(engine.Separator, "from_config",
                        lambda *a, **k: loads.append(1) or real(*a, **k))
    out = tmp_path / "sessions"
    code = main(["run", str(songs), str(track), "--out", str(out), *fast(tiny_model_path),
                 "--export", str(tmp_path / "stems"), "--stems", "vocals"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1  # a batch with a failed input: 1 (issue 26.4)
    assert len(loads) == 1  # the model is loaded once for the batch
    assert "failed b-broken.wav" in err.replace(str(tmp_path / "album") + "/", "")
    assert "1 of 4 inputs did not finish" in err
    assert "Traceback" not in err
    sessions = sorted(p for p in out.iterdir())
    assert len(sessions) == 3
    assert all(engine.open_session(p).status == "complete" for p in sessions)
    assert sum(engine.open_session(p).has_references for p in sessions) == 1
    # the finished sessions were exported too
    assert sorted(p.parent.name for p in (tmp_path / "stems").rglob("vocals.wav")) == \
        ["a", "c", "track"]


def test_batch_all_good_exits_0(tmp_path, tiny_model_path, capsys):
    songs = make_songs(tmp_path / "album")
    (songs / "b-broken.wav").unlink()
    out = tmp_path / "sessions"
    assert main(["run", str(songs / "a.wav"), str(songs / "c.flac"), "--out", str(out), "-q",
                 "--json", *fast(tiny_model_path)]) == 0
    assert '"session"' in capsys.readouterr().out
    assert len(list(out.iterdir())) == 2


def test_expand_inputs(tmp_path):
    songs = make_songs(tmp_path / "album")
    write_track(songs / "t1", seconds=0.5)
    assert [p.name for p in expand_inputs([songs])] == ["a.wav", "b-broken.wav", "c.flac", "t1"]
    assert expand_inputs([songs / "t1", songs / "t1"]) == [songs / "t1"]
    (tmp_path / "empty").mkdir()
    try:
        expand_inputs([tmp_path / "empty"])
    except engine.AudioInputError as exc:
        assert "give songs" in str(exc)
    else:
        raise AssertionError("an empty folder was accepted")


def test_batch_refuses_references(tmp_path, tiny_model_path, capsys):
    songs = make_songs(tmp_path / "album")
    assert main(["run", str(songs), "--references", str(tmp_path), *fast(tiny_model_path)]) == 2
    assert "--references" in capsys.readouterr().err


def test_ctrl_c_keeps_finished_sessions(tmp_path, tiny_model_path):
    import json
    import os
    import subprocess
    import sys

    from conftest import interrupt_when

    songs = tmp_path / "album"
    songs.mkdir()
    # the second song's 30 steps of 6 s outlast the wait for its first steps as 60 of 3 s did,
    # and the first song completes in half the steps
    for name, seconds in (("a-short.wav", 0.3), ("b-long.wav", 6.0)):
        t = np.arange(int(44100 * seconds)) / 44100
        sf.write(songs / name, np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2, 1), 44100)
    out = tmp_path / "sessions"

    def manifests() -> list[dict]:
        found = []
        for path in sorted(out.glob("*/manifest.json")):
            with contextlib.suppress(OSError, ValueError):
                found.append(json.loads(path.read_text()))
        return found

    def second_started() -> bool:
        seen = manifests()
        return (len(seen) == 2 and seen[0]["status"] == "complete"
                and len(seen[1]["steps"]) >= 2)

    proc = subprocess.Popen(
        [sys.executable, "-m", "progdemix_tui", "run", str(songs), "--steps", "30", "--out",
         str(out), "--model", str(tiny_model_path), "--segment", "1", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    err = interrupt_when(proc, second_started, "the second session's first steps")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "cancelled" in err
    first, second = sorted(p for p in out.iterdir())
    assert engine.open_session(first).status == "complete"
    assert len(engine.open_session(first).steps) == 31
    assert engine.open_session(second).status == "cancelled"
    assert len(engine.open_session(second).steps) >= 2


def test_batch_export_best_skips_an_input_without_references_before_its_run(
        tmp_path, tiny_model_path, capsys):
    """--export --step best: a file without references is refused before it runs (no session
    folder for it), the track folder with references runs and is exported."""
    songs = make_songs(tmp_path / "album")
    track = write_track(tmp_path / "track", seconds=1.0)
    out = tmp_path / "sessions"
    code = main(["run", str(songs / "a.wav"), str(track), "--out", str(out),
                 *fast(tiny_model_path), "--export", str(tmp_path / "stems"), "--step", "best",
                 "--stems", "vocals"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1
    assert "--step best needs references to rank the steps" in err
    assert "failed a.wav" in err.replace(str(tmp_path / "album") + "/", "")
    assert "1 of 2 inputs did not finish" in err
    sessions = sorted(out.iterdir())
    assert [engine.open_session(p).has_references for p in sessions] == [True]
    assert [p.parent.name for p in (tmp_path / "stems").rglob("vocals.wav")] == ["track"]


def test_recursive_skip_existing_and_the_summary(tmp_path, tiny_model_path, capsys):
    """26.4: a nested collection with --recursive (a broken file among them), then again
    with --skip-existing: the finished sessions are kept and reported, only the failed
    input runs again; the summary says done / skipped / failed; exit 1 while one fails."""
    root = tmp_path / "music"
    (root / "artist").mkdir(parents=True)
    make_songs(root / "artist" / "album")  # a.wav, b-broken.wav, c.flac two levels down
    write_track(root / "artist" / "live" / "track", seconds=0.5)
    write_track(root / "artist" / "live" / "track" / "stems-inside", seconds=0.5)  # not entered
    (root / "link").symlink_to(root / "artist", target_is_directory=True)  # not followed
    out = tmp_path / "sessions"
    args = ["run", str(root), "--recursive", "--out", str(out), *fast(tiny_model_path)]
    assert main(args) == 1
    err = " ".join(capsys.readouterr().err.split()).replace(str(root) + "/", "")
    for line in ("done artist/album/a.wav", "failed artist/album/b-broken.wav",
                 "done artist/album/c.flac", "done artist/live/track"):
        assert line in err, err
    assert "stems-inside" not in err and "link/" not in err
    assert len(list(out.iterdir())) == 3
    assert main([*args, "--skip-existing"]) == 1
    err = " ".join(capsys.readouterr().err.split()).replace(str(root) + "/", "")
    assert "skipped artist/album/a.wav" in err and "skipped artist/live/track" in err
    assert "failed artist/album/b-broken.wav" in err
    assert len(list(out.iterdir())) == 3  # nothing redone
    # other parameters: not the same session, so it runs
    (root / "artist" / "album" / "b-broken.wav").unlink()
    assert main([*args, "--skip-existing", "--steps", "2"]) == 0
    assert len(list(out.iterdir())) == 6
    assert "3 sessions written, 0 kept" in " ".join(capsys.readouterr().err.split())
