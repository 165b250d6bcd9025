"""Issue 26.7: machine-readable output: ``run --progress json`` (JSON lines on stderr),
``export --json`` and ``devices --json``."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import HANG_TIMEOUT, write_track
from support.filesink import sink_env, write_asoundrc

from progdemix_tui.cli import main


def test_run_progress_json_lines(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=1.0)
    assert main(["run", str(track), "--model", str(tiny_model_path), "--segment", "1",
                 "--device", "cpu", "--steps", "2", "--out", str(tmp_path / "s"),
                 "--progress", "json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    steps = [e for e in lines if e["event"] == "progress" and e["task"] == "steps"]
    assert [e["done"] for e in steps] == [0, 1, 2, 3] and {e["total"] for e in steps} == {3}
    assert any(e["task"] == "step 2 chunks" and e["done"] == e["total"] for e in lines)
    assert all(isinstance(e["time"], float) for e in lines)


def test_batch_progress_json_notes_and_quiet(tmp_path, tiny_model_path, capsys):
    one = write_track(tmp_path / "one", seconds=0.5)
    two = write_track(tmp_path / "two", seconds=0.5)
    args = ["run", str(one), str(two), "--model", str(tiny_model_path), "--segment", "1",
            "--device", "cpu", "--steps", "1", "--out", str(tmp_path / "s"), "--progress",
            "json"]
    assert main(args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    files = [e["done"] for e in lines if e.get("task") == "files"]
    assert files == [0, 1, 2]
    assert sum(e["event"] == "note" and str(one) in e["text"] for e in lines) == 1
    assert main([*args, "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_export_json(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=0.5)
    assert main(["run", str(track), "--model", str(tiny_model_path), "--segment", "1",
                 "--device", "cpu", "--steps", "1", "--out", str(tmp_path / "s"), "-q"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "s"), "--step", "1", "--two-stems", "vocals",
                 "-o", str(tmp_path / "o"), "--json", "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["step"], r["samplerate"]) for r in report] == [
        ("vocals", 1, 44100), ("no_vocals", 1, 44100)]
    assert report[1]["what"].startswith("no_vocals: mixture - vocals")
    assert all((tmp_path / "o" / "song" / f"{r['name']}.wav").as_posix() == r["path"]
               for r in report)


def test_devices_json(tmp_path):
    write_asoundrc(tmp_path / "home", tmp_path / "out.raw")
    result = subprocess.run([sys.executable, "-m", "progdemix_tui", "devices", "--json"],
                            capture_output=True, text=True, env=sink_env(tmp_path / "home"),
                            timeout=HANG_TIMEOUT)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert any(r["default"] for r in rows) and rows[-1]["index"] == "web"
    assert {"index", "name", "hostapi", "channels", "samplerate", "default"} <= set(rows[0])


def test_eval_and_eval_merge_json(tmp_path, tiny_model_path, capsys):
    data = tmp_path / "musdb"
    write_track(data / "a", seconds=2.0, seed=1)
    write_track(data / "b", seconds=2.0, seed=2, silent=("bass",))  # skipped: silent stem
    common = ["--excerpt", "1.5", "--model", str(tiny_model_path), "--segment", "1",
              "--device", "cpu", "--steps", "1", "--no-plots"]
    assert main(["eval", str(data), "--out", str(tmp_path / "e"), "--json", *common]) == 0
    document = json.loads(capsys.readouterr().out)
    assert {r["target"] for r in document["summary"]} == {"vocals"}
    assert [s["track"] for s in document["skipped"]] == ["b"]
    assert main(["eval-merge", str(tmp_path / "e"), "--out", str(tmp_path / "m"), "--json",
                 "--no-plots"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert merged["summary"] == document["summary"]
