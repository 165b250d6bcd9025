"""Demo songs (generator, CLI) and the shipped demo model's quality on held-out songs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from progdemix_tui.cli import main
from progdemix_tui.demo import STEMS, generate_song
from progdemix_tui.engine.models import DEMO_WEIGHTS

RATE = 44100


def test_generator_is_deterministic_and_seeded():
    a, b, c = generate_song(7, 2.0), generate_song(7, 2.0), generate_song(8, 2.0)
    assert np.array_equal(a.stems, b.stems)
    assert (a.tempo, a.key, a.other_layers) == (b.tempo, b.key, b.other_layers)
    assert 1 <= len(a.other_layers) <= 2 and set(a.other_layers) <= {"pad", "arp", "keys"}
    assert not np.allclose(a.stems, c.stems)


@pytest.mark.parametrize("seed", [1, 2, 3, 1234])
def test_song_shape_sum_levels(seed):
    song = generate_song(seed, 3.0)
    assert song.stems.shape == (4, 2, 3 * RATE) and song.stems.dtype == np.float32
    assert song.samplerate == RATE and song.duration == pytest.approx(3.0)
    assert np.array_equal(song.mixture, song.stems.sum(0))
    assert np.abs(song.mixture).max() < 0.9
    assert np.abs(song.stems).max() < 1.0
    rms = np.sqrt(np.mean(song.stems.astype(np.float64) ** 2, axis=-1))  # [4, 2]
    assert (rms > 1e-3).all(), f"silent stem or channel: {dict(zip(STEMS, rms.tolist(), strict=True))}"


def test_demo_cli_writes_musdb_folders(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--count", "2", "--duration", "3"]) == 0
    for name in ("demo-001", "demo-002"):
        folder = tmp_path / name
        data = {}
        for stem in ("mixture", *STEMS):
            data[stem], rate = sf.read(folder / f"{stem}.wav", dtype="float32", always_2d=True)
            assert rate == RATE and data[stem].shape == (3 * RATE, 2)
        assert np.array_equal(data["mixture"], sum(data[s] for s in STEMS))
    assert not list(tmp_path.rglob(".*tmp*"))
    song = generate_song(1001, 3.0)
    assert np.array_equal(data["vocals"].T, song.stems[3])
    info = json.loads((tmp_path / "demo-002" / "song.json").read_text())
    assert info["seed"] == 1001 and info["other_layers"] == list(song.other_layers)
    assert "demo-002" in capsys.readouterr().out


def test_demo_cli_unwritable_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", str(blocker / "songs"), "--count", "1", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot write demo songs" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- the demo model

needs_weights = pytest.mark.skipif(not DEMO_WEIGHTS.is_file(), reason="demo weights not built")
HELD_OUT = (1, 2, 3)  # held-out seeds: the model never trained on seeds below 100000


def _si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """torchmetrics' SI-SDR (zero_mean=False) per channel, averaged over channels."""
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    return scale_invariant_signal_distortion_ratio(est, ref, zero_mean=False).mean(-1)


@pytest.fixture(scope="module")
def demo_model():
    from progdemix_tui.engine.models import load_model

    return load_model("demo")


def _separate(model, mixes: torch.Tensor) -> torch.Tensor:
    from demucs.apply import apply_model

    with torch.no_grad():
        return apply_model(model.module, mixes, segment=10.0, overlap=0.25, shifts=0)


@needs_weights
def test_demo_model_file(demo_model):
    assert DEMO_WEIGHTS.stat().st_size <= 10_000_000
    assert demo_model.sources == STEMS and demo_model.samplerate == RATE


# Regression floors, about 1 dB under what the shipped model measures on these songs
# (14.0 / 10.5 / 6.0 / 7.0 dB). Issue 6's target is 8 dB on every stem: see the xfail below.
FLOORS_DB = {"drums": 8.0, "bass": 8.0, "other": 5.0, "vocals": 6.0}


@pytest.fixture(scope="module")
def held_out_scores(demo_model) -> dict[str, float]:
    refs = torch.from_numpy(np.stack([generate_song(s, 4.0).stems for s in HELD_OUT]))
    est = _separate(demo_model, refs.sum(1))
    return dict(zip(STEMS, _si_sdr(est, refs).mean(0).tolist(), strict=True))  # per stem, over songs


@needs_weights
def test_demo_model_separates_held_out_songs(held_out_scores):
    assert all(held_out_scores[s] >= FLOORS_DB[s] for s in STEMS), held_out_scores


@needs_weights
@pytest.mark.xfail(reason="issue 6 target (8 dB on every stem) not reached yet: other and "
                          "vocals are at 5-7 dB; see docs/demo.md", strict=True)
def test_demo_model_reaches_8db_on_every_stem(held_out_scores):
    assert all(v >= 8.0 for v in held_out_scores.values()), held_out_scores


@needs_weights
def test_raising_target_gain_raises_its_si_sdr(demo_model):
    """The study's lemma: vocals at gain 1 over an accompaniment scaled by (1-β)."""
    betas = (0.0, 0.3, 0.6, 0.9)
    refs = torch.from_numpy(np.stack([generate_song(s, 4.0).stems for s in HELD_OUT[:2]]))
    vocals, accomp = refs[:, 3], refs[:, :3].sum(1)
    mixes = torch.cat([vocals + (1 - b) * accomp for b in betas])  # [betas*songs, 2, T]
    est = _separate(demo_model, mixes)[:, 3]
    scores = _si_sdr(est, vocals.repeat(len(betas), 1, 1)).view(len(betas), -1)
    assert (scores.diff(dim=0) > 0).all(), scores.tolist()


@needs_weights
@pytest.mark.parametrize("seed", HELD_OUT[:2])
def test_oracle_mode_raises_the_target_over_steps(seed):
    """The lemma through the engine's own loop: oracle mode, demo model, SI-SDR rises each step."""
    from progdemix_tui.engine import RunConfig, Separator, SeparatorConfig, iterate

    separator = Separator.from_config(SeparatorConfig(model="demo", device="cpu", segment=4.0))
    refs = torch.from_numpy(generate_song(seed, 4.0).stems)
    config = RunConfig(target="vocals", steps=3, mode="oracle", beta_max=0.9)
    scores = [r.metrics.si_sdr["vocals"] for r in iterate(separator, refs.sum(0), config, refs)]
    assert len(scores) == 4 and all(np.diff(scores) > 0), scores
