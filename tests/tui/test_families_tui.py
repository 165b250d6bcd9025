"""Issue "Any separator", the TUI's part: a 2-stem RoFormer (vocals + instrumental) through the
whole TUI (Pilot): its checkpoint and YAML config chosen in Params, a run, the timeline's rows,
the target list from the loaded model's stems, A/B marks, export; and the model list's words."""

from __future__ import annotations

import importlib.util

import pytest
import soundfile as sf
from support.tui_helpers import make_app, screen_text, sync, wait_for

pytest.importorskip("bs_roformer")

from unit.test_family_roformer import document, random_checkpoint, write_config  # noqa: E402

from progdemix_tui.engine.config import STEMS  # noqa: E402
from progdemix_tui.tui.run_plan import field_errors  # noqa: E402
from progdemix_tui.tui.widgets.param_panel import model_label  # noqa: E402

TWO = ("vocals", "instrumental")


@pytest.fixture
def two_stem_roformer(tmp_path):
    """A BS-RoFormer vocals model (the published config, shrunk) whose config names four
    instruments: its stems are vocals and instrumental (mixture − vocals). A plain-tensor
    ``.ckpt`` as the training code saves it, and its YAML."""
    data = document("bs_roformer", instruments=("vocals", "drums", "bass", "other"))
    folder = tmp_path / "roformer"
    folder.mkdir()
    return (random_checkpoint(folder, data, "bs_roformer"),
            write_config(folder / "vocals.yaml", data))


def test_model_list_says_the_family_and_what_needs_network():
    assert model_label("umxl", "openunmix", False) == "umxl · Open-Unmix (not cached: needs network)"
    assert model_label("umxhq", "openunmix", True) == "umxhq · Open-Unmix (cached)"
    assert model_label("htdemucs", "demucs", False) == "htdemucs (not cached: needs network)"


@sync
async def test_a_two_stem_roformer_through_the_whole_tui(work, two_stem_roformer):
    checkpoint, config = two_stem_roformer
    app = make_app("track", "", models=[("demo (cached)", "demo")], segment="", overlap="",
                   model_path="")
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.panel
        # Params: the checkpoint, then its config (which names the stems)
        panel.set_value("model_path", str(checkpoint))
        await wait_for(pilot, lambda: app.settings.params.get("model_path") == str(checkpoint))
        assert panel.targets == STEMS
        panel.set_value("model_config", str(config) + ".missing")
        field = app.query_one("#p-model_config")
        await wait_for(pilot, lambda: field.has_class("-invalid"))
        assert field_errors(panel.values())["model_config"].startswith("no such config file")
        panel.set_value("model_config", str(config))
        await wait_for(pilot, lambda: app.settings.params.get("model_config") == str(config))
        assert panel.targets == TWO and app.settings.params["target"] == "vocals"
        assert not field.has_class("-invalid")
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.run_view.running and len(app.timeline.rows) == 3)
        assert app.run_view.last_error is None
        # the loaded model's stems: the timeline's and the target list's
        assert tuple(app.timeline.sources) == TWO and panel.targets == TWO
        assert panel.learned == {(str(checkpoint), str(config)): TWO}
        assert [row.step for row in app.timeline.rows] == [0, 1, 2]
        folder = work / app.timeline.folder
        assert sorted(p.name for p in (folder / "steps" / "002").iterdir()) == [
            "instrumental.flac", "mixture.flac", "vocals.flac"]
        # A/B: step 0 against step 2
        app.timeline.table.focus()
        await pilot.press("home", "a", "down", "down", "b")
        await wait_for(pilot, lambda: app.player.a is not None and app.player.b is not None)
        assert (app.player.a.step, app.player.b.step) == (0, 2)
        # export: all stems (the model's two), then target + karaoke (mixture − vocals)
        for what, names in (("all", TWO), ("two", ("vocals", "no_vocals")),
                            ("ab", ("A", "B"))):
            await pilot.press("e")
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ExportScreen")
            await pilot.click(f"#what-{what}")
            await pilot.click("#export-go")
            files = [folder / "export" / (f"step002_{n}.wav" if what != "ab" else f"{n}.wav")
                     for n in names]
            await wait_for(pilot, lambda files=files: all(f.is_file() for f in files))
        assert "failed" not in screen_text(app)
    # at the input's rate; the karaoke track is the input's mixture minus the step's vocals
    # (to the band limit of the model's 8 kHz rate)
    vocals, rate = sf.read(folder / "export" / "step002_vocals.wav", dtype="float32")
    rest, _ = sf.read(folder / "export" / "step002_no_vocals.wav", dtype="float32")
    mixture, _ = sf.read(work / "track" / "mixture.wav", dtype="float32")
    assert rate == 44100 and vocals.shape == rest.shape == mixture.shape == (88200, 2)
    assert ((vocals + rest - mixture) ** 2).sum() < 0.02 * (mixture ** 2).sum()


@sync
async def test_the_target_list_follows_the_stems_a_run_loaded(work, tmp_path):
    """An Open-Unmix folder with one target: its stems (vocals + the package's residual) are
    known only once loaded. Before the run the list is the four standard stems; the run's
    model gives vocals and residual, which the list then offers."""
    if importlib.util.find_spec("openunmix") is None:  # it imports only through umx_package
        pytest.skip("openunmix is not installed")
    from unit.test_family_openunmix import TINY_ARGS, save_folder, tiny_targets

    folder = save_folder(tmp_path / "umx-vocals", tiny_targets(names=("vocals",)), TINY_ARGS)
    app = make_app("track", folder, models=[("demo (cached)", "demo")], segment="")
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.panel
        assert panel.targets == STEMS
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.run_view.running and len(app.timeline.rows) == 3)
        assert app.run_view.last_error is None
        assert tuple(app.timeline.sources) == ("vocals", "residual")
        await wait_for(pilot, lambda: panel.targets == ("vocals", "residual"))
        assert app.settings.params["target"] == "vocals"
        panel.set_value("model_path", "")  # another model: its own list again
        await wait_for(pilot, lambda: panel.targets == STEMS)
