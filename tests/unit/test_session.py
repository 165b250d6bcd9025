"""Sessions on disk: written step by step, reopened, listed, exported, cancelled cleanly."""

from __future__ import annotations

import json
import threading

import pytest
import soundfile as sf
import torch
from conftest import tiny_hdemucs, write_track

from progdemix_tui import engine
from progdemix_tui.engine.errors import Cancelled, OutputError, SessionError
from progdemix_tui.engine.export import ExportSpec, export_sessions
from progdemix_tui.engine.models import _wrap


@pytest.fixture
def separator() -> engine.Separator:
    return engine.Separator.from_config(engine.SeparatorConfig(device="cpu", segment=1.0),
                                        model=_wrap("tiny", tiny_hdemucs(), "test"))


@pytest.fixture
def prepared(tmp_path, separator) -> engine.PreparedInput:
    track = write_track(tmp_path / "song", seconds=1.5)
    return engine.load_input(track, separator.samplerate, separator.sources)


def test_manifest_lists_only_written_steps(tmp_path, separator, prepared):
    out = tmp_path / "s"
    seen = []
    for result in engine.run_session(separator, prepared, engine.RunConfig(steps=2), out):
        manifest = json.loads((out / "manifest.json").read_text())
        seen.append(len(manifest["steps"]))
        assert manifest["status"] == "running"
        for entry in manifest["steps"]:
            for f in entry["files"].values():
                assert (out / f["path"]).is_file()
        assert result.step == len(manifest["steps"]) - 1
    assert seen == [1, 2, 3]
    session = engine.open_session(out)
    assert session.status == "complete"
    assert session.best_step() in (0, 1, 2)


def test_stems_round_trip_with_scale(tmp_path, separator, prepared):
    out = tmp_path / "s"
    results = []
    for r in engine.run_session(separator, prepared, engine.RunConfig(steps=1), out):
        results.append((r.step, r.estimates.clone(), r.mixture.clone()))
    session = engine.open_session(out)
    for step, estimates, mixture in results:
        for i, name in enumerate(session.sources):
            stored = session.load(step, name)
            peak = max(1.0, float(estimates[i].abs().max()))
            assert torch.allclose(stored, estimates[i], atol=peak * 2**-22)
        torch.testing.assert_close(session.load(step, "mixture"), mixture, atol=2**-22, rtol=0)


def test_cancel_keeps_a_valid_session(tmp_path, separator, prepared):
    out = tmp_path / "s"
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        for result in engine.run_session(separator, prepared, engine.RunConfig(steps=5), out, cancel):
            if result.step == 1:
                cancel.set()
    session = engine.open_session(out)
    assert session.status == "cancelled"
    assert [s.step for s in session.steps] == [0, 1]


def test_closing_the_generator_marks_cancelled(tmp_path, separator, prepared):
    out = tmp_path / "s"
    gen = engine.run_session(separator, prepared, engine.RunConfig(steps=5), out)
    next(gen)
    gen.close()
    assert engine.open_session(out).status == "cancelled"


def test_refuses_non_empty_folder(tmp_path, separator, prepared):
    out = tmp_path / "s"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not empty"):
        next(engine.run_session(separator, prepared, engine.RunConfig(steps=1), out))
    assert (out / "precious.txt").read_text() == "keep me"


def test_list_and_export(tmp_path, separator, prepared):
    root = tmp_path / "sessions"
    for name in ("a", "b"):
        list(engine.run_session(separator, prepared, engine.RunConfig(steps=1), root / name))
    (root / "junk").mkdir()
    summaries = engine.list_sessions(root)
    assert sorted(s.folder.name for s in summaries) == ["a", "b"]
    assert all(s.steps_done == 2 and s.status == "complete" for s in summaries)
    spec = ExportSpec(step=1, stems=("vocals",), template="step{step}_{stem}.{ext}")
    written = export_sessions([engine.open_session(root / "a")], spec, tmp_path / "x")
    assert [p.name for p in written] == ["step001_vocals.wav"]
    data, rate = sf.read(tmp_path / "x" / "step001_vocals.wav")
    assert rate == 44100 and data.shape[1] == 2


def test_not_a_session(tmp_path):
    with pytest.raises(SessionError, match="not a session folder"):
        engine.open_session(tmp_path)
