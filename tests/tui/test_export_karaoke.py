"""Issue 26: an export gives the stems of the *song*. At a step n > 0 only the target is a new
estimate of the song; the accompaniment is mixture − target, the other stems come from step 0
(or the step's own, labelled so), and the default step is never the degenerate β = 1 step.
Measured on a demo song with the shipped demo model, through the real CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from support.tui_helpers import make_app, screen_text, sync, wait_for, write_fake_session

from progdemix_tui import engine
from progdemix_tui.cli import main

STEPS = 4  # linear schedule: step 4 has beta = 1, y_4 is the previous vocals estimate alone


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SDR in dB over the whole signal (zero_mean=False, as the project's)."""
    alpha = np.sum(estimate * reference) / np.sum(reference * reference)
    target = alpha * reference
    return float(10 * np.log10(np.sum(target ** 2) / np.sum((estimate - target) ** 2)))


def level_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x ** 2)))


@pytest.fixture(scope="module")
def demo_session(tmp_path_factory):
    """A 4 s demo song (with its true stems) run for 4 steps with the demo model."""
    root = tmp_path_factory.mktemp("karaoke")
    assert main(["demo", str(root / "songs"), "--count", "1", "--duration", "4", "-q"]) == 0
    song = root / "songs" / "demo-001"
    session = root / "session"
    assert main(["run", str(song), "--model", "demo", "--steps", str(STEPS), "--out",
                 str(session), "--device", "cpu", "-q"]) == 0
    return song, session


def read(path) -> np.ndarray:
    data, _ = sf.read(path, dtype="float64", always_2d=True)
    return data


def test_karaoke_of_every_step_is_mixture_minus_target(tmp_path, demo_session, capsys):
    song, folder = demo_session
    session = engine.open_session(folder)
    assert session.steps[-1].metrics.beta == 1.0
    mixture = read(song / "mixture.wav")
    accompaniment = sum(read(song / f"{s}.wav") for s in ("drums", "bass", "other"))
    for step in range(STEPS + 1):
        out = tmp_path / f"s{step}"
        assert main(["export", str(folder), "--step", str(step), "--two-stems", "vocals",
                     "--format", "float32", "--out", str(out)]) == 0
        vocals = read(out / "demo-001" / "vocals.wav")
        karaoke = read(out / "demo-001" / "no_vocals.wav")
        np.testing.assert_allclose(vocals, session.load(step, "vocals").numpy().T, atol=1e-6)
        if step > 0:  # minus by default: exactly mixture - the step's vocals
            assert si_sdr(karaoke, mixture - vocals) > 60
        # the song's accompaniment at its level: the old export gave -44.6 dB at beta = 1
        # (SI-SDR -10.8 dB) and 3.7 dB too quiet at step 1
        assert abs(level_db(karaoke) - level_db(accompaniment)) < 1.0, step
        assert si_sdr(karaoke, accompaniment) > 5, step
        comment = sf.SoundFile(out / "demo-001" / "no_vocals.wav").comment
        assert ("mixture - vocals" in comment) == (step > 0)
    err = capsys.readouterr().err
    assert "no_vocals: mixture - vocals (the target's estimate at step 4)" in err


def test_other_stems_are_the_songs_unless_asked(tmp_path, demo_session):
    song, folder = demo_session
    session = engine.open_session(folder)
    step = STEPS - 1
    out = tmp_path / "all"
    assert main(["export", str(folder), "--step", str(step), "--format", "float32",
                 "--out", str(out), "-q"]) == 0
    for stem in ("drums", "bass", "other"):
        data = read(out / "demo-001" / f"{stem}.wav")
        np.testing.assert_allclose(data, session.load(0, stem).numpy().T, atol=1e-6)
        assert "step 0 (one-shot)" in sf.SoundFile(out / "demo-001" / f"{stem}.wav").comment
    vocals = read(out / "demo-001" / "vocals.wav")
    np.testing.assert_allclose(vocals, session.load(step, "vocals").numpy().T, atol=1e-6)
    own = tmp_path / "own"
    assert main(["export", str(folder), "--step", str(step), "--others", "own", "--format",
                 "float32", "--out", str(own), "-q"]) == 0
    drums = read(own / "demo-001" / "drums.wav")
    np.testing.assert_allclose(drums, session.load(step, "drums").numpy().T, atol=1e-6)
    assert f"separation of y_{step}, not of the song" in \
        sf.SoundFile(own / "demo-001" / "drums.wav").comment
    # add: the sum of what is exported (the song's other stems), as demucs's "add"
    add = tmp_path / "add"
    assert main(["export", str(folder), "--step", str(step), "--two-stems", "vocals",
                 "--other-method", "add", "--format", "float32", "--out", str(add), "-q"]) == 0
    others = sum(session.load(0, s).numpy().T for s in ("drums", "bass", "other"))
    np.testing.assert_allclose(read(add / "demo-001" / "no_vocals.wav"), others, atol=1e-5)


def test_default_step_is_never_the_degenerate_one(tmp_path, demo_session):
    _, folder = demo_session
    session = engine.open_session(folder)
    plain = tmp_path / "plain"  # the same session without references: auto = last beta < 1
    plain.mkdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["references"] = None
    for record in manifest["steps"]:
        record["metrics"]["si_sdr"] = None
        record["metrics"]["si_sdr_delta"] = None
    (plain / "manifest.json").write_text(json.dumps(manifest))
    shutil.copytree(folder / "steps", plain / "steps")
    for which, expected in ((folder, session.best_step()), (plain, STEPS - 1)):
        out = tmp_path / f"out-{which.name}"
        assert main(["export", str(which), "--two-stems", "vocals", "--out", str(out),
                     "-q"]) == 0
        album = sf.SoundFile(out / "demo-001" / "vocals.wav").album
        assert album.endswith(f"step {expected}"), album
        assert expected != STEPS


@sync
async def test_tui_dialog_exports_the_songs_karaoke(work, tiny_model_path):
    """The dialog's "+ no_vocals" at the selected beta = 1 step: mixture - that step's
    vocals, not the sum of the step's other estimates (separations of y_n)."""
    folder = write_fake_session(work / "sessions" / "s", steps=3)  # step 2: beta = 1
    app = make_app(".", tiny_model_path, models=[("demo (not cached)", "demo")])
    async with app.run_test(size=(80, 24)) as pilot:
        app.open_session_folder(folder)
        await pilot.press("t", "down", "down")
        await wait_for(pilot, lambda: app.player.selection and app.player.selection.step == 2)
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ExportScreen")
        await wait_for(pilot, lambda: app.focused is not None
                       and app.focused.id == "export-what")
        await pilot.press("down")
        await wait_for(pilot, lambda: "(•) + no_vocals" in screen_text(app))
        await pilot.click("#fmt-float32")
        await pilot.click("#export-go")
        karaoke = folder / "export" / "step002_no_vocals.wav"
        await wait_for(pilot, lambda: karaoke.is_file())
    session = engine.open_session(folder)
    expected = (session.load(0, "mixture") - session.load(2, "vocals")).numpy().T
    np.testing.assert_allclose(read(karaoke), expected, atol=1e-6)
    assert "mixture - vocals" in sf.SoundFile(karaoke).comment


def test_ab_clips_say_which_estimates_are_of_the_song(tmp_path):
    """A/B clips hold the cues asked for by name; a non-target stem at a step > 0 is labelled
    as the step's own separation of y_n."""
    from progdemix_tui.tui.audition import Cue, export_ab

    folder = write_fake_session(tmp_path / "s", steps=3)
    a, b = Cue(folder, 2, "drums"), Cue(folder, 2, "vocals")
    written = export_ab(a, b, tmp_path / "clips")
    comments = [sf.SoundFile(p).comment for p in written]
    assert comments[0].startswith("drums: step 2's own estimate, a separation of y_2, not of "
                                  "the song")
    assert comments[1].startswith("vocals: the target's estimate at step 2")
