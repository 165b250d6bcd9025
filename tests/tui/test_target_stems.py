"""Issue 26: ``--target`` takes the loaded model's stems (htdemucs_6s has guitar and piano),
checked once the model is known; a stem it lacks is one line, before any folder is made."""

from __future__ import annotations

import json
import shutil

import pytest
import soundfile as sf
from conftest import write_track
from support.tui_helpers import make_app, sync, wait_for

from progdemix_tui.cli import main

SIX = ["drums", "bass", "other", "vocals", "guitar", "piano"]  # htdemucs_6s's stems


@pytest.fixture(scope="module")
def six_stem_model(tmp_path_factory):
    """A real (tiny, random) demucs HDemucs with htdemucs_6s's six stems, as safetensors."""
    import torch
    from demucs.hdemucs import HDemucs

    from progdemix_tui.engine.models import save_safetensors

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("six") / "six.safetensors"
    save_safetensors(HDemucs(sources=SIX, channels=4).eval(), path)
    return path


@pytest.fixture
def song(tmp_path):
    track = write_track(tmp_path / "track", seconds=1.0)
    path = tmp_path / "song.wav"
    shutil.copy(track / "mixture.wav", path)
    return path


def test_target_guitar_of_a_six_stem_model(tmp_path, song, six_stem_model):
    out = tmp_path / "session"
    assert main(["run", str(song), "--model", str(six_stem_model), "--target", "guitar",
                 "--steps", "1", "--segment", "1", "--device", "cpu", "--out", str(out),
                 "-q"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["target"] == "guitar" and manifest["sources"] == SIX
    stems = tmp_path / "stems"
    assert main(["export", str(out), "--step", "1", "--two-stems", "guitar", "--out",
                 str(stems), "-q"]) == 0
    assert sf.info(stems / "song" / "no_guitar.wav").frames == 44100


@pytest.mark.parametrize(("model", "target"), [("six", "kazoo"), ("four", "guitar")])
def test_a_stem_the_model_lacks_is_one_line(tmp_path, song, six_stem_model, tiny_model_path,
                                            capsys, model, target):
    path = six_stem_model if model == "six" else tiny_model_path
    out = tmp_path / "session"
    assert main(["run", str(song), "--model", str(path), "--target", target, "--steps", "1",
                 "--segment", "1", "--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --target {target} is not a stem of "
                                               "model"), err
    assert ("guitar, piano" in err[0]) == (model == "six")
    assert not out.exists()


def test_a_target_that_is_no_name_is_refused_before_the_model(tmp_path, song, capsys):
    assert main(["run", str(song), "--model", "no-such-model", "--target", "../x"]) == 2
    assert "stem name" in capsys.readouterr().err


@sync
async def test_tui_lists_the_models_stems_and_runs_guitar(work, six_stem_model,
                                                          tiny_model_path):
    """The panel's target list follows the model (file or cached name) and a run with
    target guitar completes."""
    from textual.widgets import Select

    app = make_app("track", six_stem_model, models=[("demo (cached)", "demo")])
    async with app.run_test(size=(100, 40)) as pilot:
        target = app.query_one("#p-target", Select)
        await wait_for(pilot, lambda: app.panel.targets == tuple(SIX))
        app.panel.set_value("target", "guitar")
        await wait_for(pilot, lambda: target.value == "guitar")
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.run_view.running
                       and len(app.timeline.rows) == 3)
        folder = next(p for p in (work / "sessions").iterdir() if p.is_dir())
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["config"]["target"] == "guitar"
        app.panel.set_value("model_path", str(tiny_model_path))  # four stems: guitar leaves
        await wait_for(pilot, lambda: app.panel.targets == tuple(SIX[:4])
                       and app.settings.params.get("target") == "vocals")
        assert target.value == "vocals"
