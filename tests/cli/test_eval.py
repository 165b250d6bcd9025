"""`progdemix-tui eval`, `eval-merge` and `report` end to end on a tiny synthetic dataset."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import interrupt_when, write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import open_session
from progdemix_tui.engine.evaluation import ROW_COLUMNS, SUMMARY_COLUMNS

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu"]


def eval_args(dataset: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return ["eval", str(dataset), "--out", str(out), "--steps", "2", "--excerpt", "1.5",
            *fast(model), *extra]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """a, b: normal; c: silent bass; d: no other.wav; e: shorter than the excerpt."""
    root = tmp_path_factory.mktemp("musdb")
    write_track(root / "a", seconds=2.5, seed=1)
    write_track(root / "b", seconds=2.5, seed=2)
    write_track(root / "c", seconds=2.5, seed=3, silent=("bass",))
    write_track(root / "d", seconds=2.5, seed=4, skip=("other",))
    write_track(root / "e", seconds=1.0, seed=5)
    return root


@pytest.fixture(scope="module")
def evaluated(dataset, tiny_model_path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "full"
    assert main(eval_args(dataset, out, tiny_model_path)) == 0
    return out


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def assert_png(path: Path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = matplotlib.image.imread(str(path))
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100


def test_results_csv_rows_and_columns(evaluated):
    rows = read_csv(evaluated / "results.csv")
    assert tuple(rows[0]) == ROW_COLUMNS
    assert len(rows) == 3 * 3 * 4  # tracks a, b, e × steps 0..2 × stems
    assert {r["track"] for r in rows} == {"a", "b", "e"}
    assert {r["step"] for r in rows} == {"0", "1", "2"}
    assert {r["stem"] for r in rows} == {"drums", "bass", "other", "vocals"}
    assert all(r["target"] == "vocals" for r in rows)
    assert all(np.isfinite(float(r["si_sdr"])) for r in rows)
    assert all(float(r["si_sdr_delta"]) == 0.0 for r in rows if r["step"] == "0")
    assert all(r["sdr"] == "" for r in rows)  # no --sdr
    assert {float(r["beta"]) for r in rows if r["step"] != "0"} == {0.5, 1.0}
    results = json.loads((evaluated / "results.json").read_text())
    assert len(results) == len(rows)


def test_summary_matches_results(evaluated):
    rows = read_csv(evaluated / "results.csv")
    summary = read_csv(evaluated / "summary.csv")
    assert tuple(summary[0]) == SUMMARY_COLUMNS
    for step in ("0", "1", "2"):
        values = [float(r["si_sdr"]) for r in rows if r["step"] == step and r["stem"] == "vocals"]
        entry = next(s for s in summary if s["step"] == step and s["stem"] == "vocals"
                     and s["metric"] == "si_sdr")
        assert int(entry["n"]) == 3
        assert float(entry["mean"]) == pytest.approx(np.mean(values))
        assert float(entry["median"]) == pytest.approx(np.median(values))
        assert float(entry["std"]) == pytest.approx(np.std(values))
        assert float(entry["min"]) == pytest.approx(min(values))
        assert float(entry["max"]) == pytest.approx(max(values))


def test_skipped_tracks_are_reported(evaluated):
    meta = json.loads((evaluated / "eval.json").read_text())
    reasons = {s["track"]: s["reason"] for s in meta["skipped"]}
    assert set(reasons) == {"c", "d"}
    assert "bass is silent" in reasons["c"]
    assert "missing other" in reasons["d"]
    assert "shorter than" in meta["track_notes"]["e"][0]
    assert meta["status"] == "complete"
    assert meta["parameters"]["excerpt"] == 1.5
    assert {"torch", "demucs", "progdemix_tui"} <= set(meta["versions"])
    assert meta["model"]["name"] == "tiny"


def test_plots_are_valid_pngs(evaluated):
    for name in ("steps_vocals.png", "delta_vocals.png"):
        assert_png(evaluated / name)


def test_resume_skips_finished_tracks(evaluated, dataset, tiny_model_path, capsys):
    files = sorted((evaluated / "tracks").glob("*.json"))
    assert [f.name for f in files] == ["a__vocals.json", "b__vocals.json", "e__vocals.json"]
    before = {f: f.stat().st_mtime_ns for f in files}
    files[0].unlink()  # as if the run had stopped before track a
    assert main(eval_args(dataset, evaluated, tiny_model_path)) == 0
    err = capsys.readouterr().err
    assert "resuming: 2 done" in err
    assert files[0].is_file()
    for f in files[1:]:
        assert f.stat().st_mtime_ns == before[f]
    meta = json.loads((evaluated / "eval.json").read_text())
    assert meta["runs"] == 2
    assert len(read_csv(evaluated / "results.csv")) == 36


def test_resume_refuses_other_parameters(evaluated, dataset, tiny_model_path, capsys):
    args = eval_args(dataset, evaluated, tiny_model_path, "--mode", "add-sources")
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "different parameters" in err and "mode" in err
    assert len(err.splitlines()) == 1


def test_shards_partition_and_merge_to_unsharded(evaluated, dataset, tiny_model_path,
                                                 tmp_path):
    shards = []
    for i in range(2):
        out = tmp_path / f"shard{i}"
        assert main(eval_args(dataset, out, tiny_model_path, "--shard", f"{i}/2",
                              "--no-plots")) == 0
        meta = json.loads((out / "eval.json").read_text())
        done = {json.loads(f.read_text())["track"] for f in (out / "tracks").glob("*.json")}
        shards.append(done | {s["track"] for s in meta["skipped"]})
    assert shards[0].isdisjoint(shards[1])
    assert shards[0] | shards[1] == {"a", "b", "c", "d", "e"}
    merged = tmp_path / "merged"
    assert main(["eval-merge", str(tmp_path / "shard0"), str(tmp_path / "shard1"),
                 "--out", str(merged)]) == 0

    def key(r):
        return (r["track"], r["step"], r["stem"])

    full = {key(r): r for r in read_csv(evaluated / "results.csv")}
    got = {key(r): r for r in read_csv(merged / "results.csv")}
    assert set(got) == set(full)
    for k, row in got.items():
        assert float(row["si_sdr"]) == pytest.approx(float(full[k]["si_sdr"]), abs=1e-4)
    meta = json.loads((merged / "eval.json").read_text())
    assert {s["track"] for s in meta["skipped"]} == {"c", "d"}
    assert_png(merged / "steps_vocals.png")


def test_merge_refuses_different_parameters(dataset, tiny_model_path, tmp_path, capsys):
    one = tmp_path / "one"
    two = tmp_path / "two"
    single = dataset / "a"
    common = ["--excerpt", "1.5", *fast(tiny_model_path), "--no-plots"]
    assert main(["eval", str(single), "--out", str(one), "--steps", "0", *common]) == 0
    assert main(["eval", str(single), "--out", str(two), "--steps", "1", *common]) == 0
    capsys.readouterr()
    assert main(["eval-merge", str(one), str(two), "--out", str(tmp_path / "m")]) == 2
    assert "different parameters" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["missing", "empty", "file"])
def test_bad_dataset_exits_2(tmp_path, tiny_model_path, capsys, kind):
    path = tmp_path / "data"
    if kind == "empty":
        path.mkdir()
    elif kind == "file":
        path.write_text("x")
    assert main(["eval", str(path), "--out", str(tmp_path / "o"), *fast(tiny_model_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert not (tmp_path / "o").exists()


def test_oracle_gain_sweep(dataset, tiny_model_path, tmp_path):
    out = tmp_path / "oracle"
    assert main(["eval", str(dataset / "a"), "--out", str(out), "--steps", "0",
                 "--excerpt", "1.5", "--oracle-gain", "0,12,inf", *fast(tiny_model_path)]) == 0
    rows = read_csv(out / "oracle_gain.csv")
    assert [r["gain_db"] for r in rows] == ["0.0", "12.0", ""]  # inf: the target alone
    assert [float(r["beta"]) for r in rows] == pytest.approx([0.0, 1 - 10 ** (-12 / 20), 1.0])
    inputs = [float(r["input_si_sdr"]) for r in rows]
    assert inputs[0] < inputs[1] < inputs[2]
    results = read_csv(out / "results.csv")
    step0 = next(r for r in results if r["stem"] == "vocals")
    assert float(rows[0]["si_sdr"]) == pytest.approx(float(step0["si_sdr"]), abs=1e-3)
    assert_png(out / "oracle_gain_vocals.png")


@pytest.mark.slow
def test_sdr_option_fills_the_sdr_column(dataset, tiny_model_path, tmp_path):
    out = tmp_path / "sdr"
    assert main(["eval", str(dataset / "a"), "--out", str(out), "--steps", "0",
                 "--excerpt", "1.5", "--sdr", "--new-mixture", *fast(tiny_model_path)]) == 0
    rows = read_csv(out / "results.csv")
    assert len(rows) == 4 and all(r["sdr"] != "" for r in rows)
    assert_png(out / "steps_vocals_sdr.png")


def test_report_regenerates_eval_plots(evaluated, capsys):
    plot = evaluated / "delta_vocals.png"
    plot.unlink()
    assert main(["report", str(evaluated)]) == 0
    assert "target vocals" in capsys.readouterr().out
    assert_png(plot)


@pytest.mark.smoke
def test_report_session(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=1.2)
    session = tmp_path / "session"
    assert main(["run", str(track), "--steps", "1", "--out", str(session),
                 *fast(tiny_model_path)]) == 0
    capsys.readouterr()
    assert main(["report", str(session)]) == 0
    assert "Δ0" in capsys.readouterr().out
    assert_png(session / "si_sdr.png")
    assert main(["report", str(tmp_path / "song")]) == 2  # a track, not results


def test_report_lists_a_folder_of_sessions(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=1.2)
    root = tmp_path / "sessions"
    for schedule in ("linear", "cosine"):
        assert main(["run", str(track), "--steps", "2", "--schedule", schedule, "--out",
                     str(root / schedule), *fast(tiny_model_path)]) == 0
    capsys.readouterr()
    assert main(["report", str(root)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "all: vocals, add-to-mixture" in out  # shared parameters move to the title
    assert "schedule" in out and "cosine" in out and "linear" in out
    assert main(["report", str(root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["schedule"] for row in rows} == {"linear", "cosine"}
    for row in rows:
        session = open_session(row["folder"])
        assert row["best_step"] == session.best_step()
        best = next(r.metrics for r in session.steps if r.step == row["best_step"])
        assert row["best_delta_db"] == pytest.approx(best.si_sdr_delta)


def test_ctrl_c_keeps_finished_tracks(dataset, tiny_model_path, tmp_path):
    # Ctrl-C as soon as the first track's result file exists, however long that takes on a
    # busy machine. a, b and e each take 11 steps, so the two tracks still to go take far
    # longer than the 0.1 s poll between the file appearing and the signal.
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "progdemix_tui", *eval_args(dataset, out, tiny_model_path)]
    cmd[cmd.index("--steps") + 1] = "10"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    err = interrupt_when(proc, lambda: list((out / "tracks").glob("*.json")),
                         "a first track's result file")
    assert proc.returncode == 130, err.decode()
    meta = json.loads((out / "eval.json").read_text())
    assert meta["status"] == "cancelled"
    done = list((out / "tracks").glob("*.json"))
    assert 1 <= len(done) < 3
    assert len(read_csv(out / "results.csv")) == len(done) * 11 * 4
