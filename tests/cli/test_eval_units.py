"""Evaluation building blocks: metric conventions, dataset reading, excerpts, parsing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import RATE, write_track

from progdemix_tui.cli.eval import parse_shard
from progdemix_tui.engine.dataset import (
    DatasetTrack,
    TrackSkipped,
    leakage_warning,
    load_track,
    open_dataset,
)
from progdemix_tui.engine.errors import AudioInputError, ConfigError
from progdemix_tui.engine.evaluation import (
    beta_to_gain,
    gain_to_beta,
    parse_oracle_gains,
    summarize,
)
from progdemix_tui.engine.metrics import si_sdr_db
from progdemix_tui.engine.sdr import museval_metrics, sdr_db

# --------------------------------------------------------------------------- metrics


def test_si_sdr_equals_torchmetrics_on_random_signals():
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio

    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        reference = torch.randn(2, 4000, generator=gen)
        estimate = 0.7 * reference + 0.5 * torch.randn(2, 4000, generator=gen) + 0.1
        expected = scale_invariant_signal_distortion_ratio(estimate, reference).mean()
        assert si_sdr_db(estimate, reference) == pytest.approx(float(expected), abs=1e-4)


def noisy(references: torch.Tensor, snr_db: float, seed: int = 0) -> torch.Tensor:
    """``references`` plus white noise at exactly ``snr_db`` per source and channel."""
    noise = torch.randn(references.shape, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
    scale = references.norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True)
    return references + noise * scale * 10 ** (-snr_db / 20)


def test_sdr_matches_museval_on_a_known_case():
    gen = torch.Generator().manual_seed(1)
    references = torch.randn(2, 2, 2 * RATE, generator=gen, dtype=torch.float64) * 0.1
    estimates = noisy(references, 15.0)
    ours = sdr_db(estimates, references, RATE)
    # museval.evaluate: bss_eval v4 with 1 s windows and hops, median over frames.
    metrics = museval_metrics()
    framewise, *_ = metrics.bss_eval(references.numpy().transpose(0, 2, 1),
                                     estimates.numpy().transpose(0, 2, 1),
                                     window=RATE, hop=RATE, compute_permutation=False,
                                     framewise_filters=False)
    assert ours == pytest.approx(list(np.nanmedian(framewise, axis=1)), abs=1e-9)
    # White noise at 15 dB SNR: the 512-tap distortion filter absorbs almost none of it.
    assert ours == pytest.approx([15.0, 15.0], abs=0.15)


def test_sdr_without_museval_is_one_clear_error(monkeypatch):
    import importlib.util

    import progdemix_tui.engine.sdr as sdr

    monkeypatch.setattr(sdr, "_metrics", None)
    monkeypatch.setattr(importlib, "import_module",
                        lambda name: (_ for _ in ()).throw(ModuleNotFoundError(name=name)))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"pip install .progdemix-tui\[eval\]."):
        sdr.check_available()


def test_summary_statistics_skip_undefined_values():
    rows = [{"target": "vocals", "step": 0, "beta": None, "stem": "vocals", "si_sdr": v,
             "si_sdr_delta": 0.0, "sdr": None} for v in (1.0, 2.0, 6.0, None)]
    (si, delta) = summarize(rows)
    assert si["metric"] == "si_sdr" and si["n"] == 3
    assert (si["mean"], si["median"], si["min"], si["max"]) == (3.0, 2.0, 1.0, 6.0)
    assert si["std"] == pytest.approx(np.std([1.0, 2.0, 6.0]))
    assert delta["metric"] == "si_sdr_delta" and delta["n"] == 4


# --------------------------------------------------------------------------- dataset


def test_dataset_root_with_test_subset_and_flac(tmp_path):
    write_track(tmp_path / "musdb" / "train" / "t1", seconds=0.5)
    song = write_track(tmp_path / "musdb" / "test" / "Song B", seconds=0.5)
    write_track(tmp_path / "musdb" / "test" / "Song A", seconds=0.5)
    for path in song.glob("*.wav"):  # FLAC is accepted as well
        data, rate = sf.read(path)
        sf.write(path.with_suffix(".flac"), data, rate, subtype="PCM_24")
        path.unlink()
    data = open_dataset(tmp_path / "musdb")
    assert [t.name for t in data.tracks] == ["Song A", "Song B"]
    assert "test subset" in data.notes[0]
    assert data.tracks[1].files["vocals"].suffix == ".flac"
    loaded = load_track(data.tracks[1], RATE, excerpt=None)
    assert loaded.references.shape == (4, 2, RATE // 2)


def test_single_track_folder_is_a_dataset(tmp_path):
    data = open_dataset(write_track(tmp_path / "one", seconds=0.5))
    assert [t.name for t in data.tracks] == ["one"]


def test_missing_or_empty_dataset(tmp_path):
    with pytest.raises(AudioInputError, match="does not exist"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(AudioInputError, match="no track folders"):
        open_dataset(tmp_path / "empty")


def test_shards_partition_sorted_tracks(tmp_path):
    for name in "edcba":
        (tmp_path / name).mkdir()
        (tmp_path / name / "mixture.wav").write_bytes(b"")
    data = open_dataset(tmp_path)
    parts = [[t.name for t in data.shard(i, 3)] for i in range(3)]
    assert parts == [["a", "d"], ["b", "e"], ["c"]]


def write_stems(folder, stems: np.ndarray, rate: int = RATE) -> DatasetTrack:
    folder.mkdir(parents=True)
    files = {}
    for name, x in zip(("drums", "bass", "other", "vocals"), stems, strict=True):
        files[name] = folder / f"{name}.wav"
        sf.write(files[name], x.T, rate, subtype="FLOAT")
    files["mixture"] = folder / "mixture.wav"
    sf.write(files["mixture"], stems.sum(0).T, rate, subtype="FLOAT")
    return DatasetTrack(folder.name, folder, files)


def test_excerpt_starts_where_no_stem_is_silent(tmp_path):
    rate = 8000
    rng = np.random.default_rng(0)
    stems = rng.standard_normal((4, 2, 7 * rate)).astype(np.float32) * 0.1
    stems[3, :, : int(4.5 * rate)] = 0.0  # vocals enter at 4.5 s
    track = write_stems(tmp_path / "late", stems, rate)
    loaded = load_track(track, rate, excerpt=2.0)
    assert loaded.start == 3.0  # the first whole second whose 2 s window holds vocals
    assert loaded.references.shape == (4, 2, 2 * rate)
    assert torch.allclose(loaded.references[0], torch.from_numpy(stems[0, :, 3 * rate:5 * rate]))
    whole = load_track(track, rate, excerpt=None)
    assert whole.start == 0.0 and whole.duration == 7.0
    stems[1] = 1e-3 * stems[1]  # bass at -80 dBFS RMS: silent
    quiet = write_stems(tmp_path / "quiet", stems, rate)
    with pytest.raises(TrackSkipped, match="bass is silent"):
        load_track(quiet, rate, excerpt=2.0)
    assert load_track(quiet, rate, excerpt=2.0, threshold_db=-100.0).start == 3.0


def test_new_mixture_is_the_exact_sum_of_the_stems(tmp_path):
    track_dir = write_track(tmp_path / "t", seconds=1.0)
    sf.write(track_dir / "mixture.wav", np.zeros((RATE, 2)) + 0.01, RATE)  # a non-linear mix
    track = open_dataset(track_dir).tracks[0]
    plain = load_track(track, RATE, excerpt=None)
    linear = load_track(track, RATE, excerpt=None, new_mixture=True)
    assert torch.equal(linear.mixture, linear.references.sum(0))
    assert not torch.allclose(plain.mixture, linear.mixture)


def test_new_mixture_does_not_need_a_mixture_file(tmp_path):
    track_dir = write_track(tmp_path / "t", seconds=0.5)
    (track_dir / "mixture.wav").unlink()
    track = open_dataset(tmp_path).tracks[0]
    with pytest.raises(TrackSkipped, match="missing mixture"):
        load_track(track, RATE, excerpt=None)
    assert load_track(track, RATE, excerpt=None, new_mixture=True).mixture.shape == (2, RATE // 2)


# --------------------------------------------------------------------------- options


def test_oracle_gain_parsing():
    assert parse_oracle_gains("0,6dB,inf") == pytest.approx((0.0, gain_to_beta(6.0), 1.0))
    assert parse_oracle_gains("beta:0.9,0,0.5") == (0.0, 0.5, 0.9)
    assert beta_to_gain(gain_to_beta(12.0)) == pytest.approx(12.0)
    assert beta_to_gain(1.0) is None
    for bad in ("", "x", "-3", "beta:1.5"):
        with pytest.raises(ConfigError):
            parse_oracle_gains(bad)


def test_shard_parsing():
    assert parse_shard(None) == (0, 1)
    assert parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "1", "a/b", "0/0"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


def test_leakage_warnings(tmp_path):
    musdb_test = open_dataset(write_track(tmp_path / "musdb18hq" / "test" / "x", seconds=0.2)
                              .parent.parent)
    assert "leakage" in leakage_warning("HDEMUCS_HIGH_MUSDB_PLUS", musdb_test)
    assert leakage_warning("HDEMUCS_HIGH_MUSDB", musdb_test) is None
    train = open_dataset(write_track(tmp_path / "m2" / "train" / "y", seconds=0.2).parent)
    assert "train set" in leakage_warning("hdemucs_mmi", train)
    songs = tmp_path / "demo"
    held_out = write_track(songs / "demo-001", seconds=0.2)
    (held_out / "song.json").write_text(json.dumps({"seed": 3}))
    assert leakage_warning("demo", open_dataset(songs)) is None
    assert leakage_warning("hdemucs_mmi", open_dataset(songs)) is None
    other = write_track(songs / "demo-002", seconds=0.2)
    (other / "song.json").write_text(json.dumps({"seed": 1234}))  # never trained on
    assert leakage_warning("demo", open_dataset(songs)) is None
    (other / "song.json").write_text(json.dumps({"seed": 100_123}))  # a training seed
    assert "100123" in leakage_warning("demo", open_dataset(songs))
    (other / "song.json").unlink()
    assert "unknown" in leakage_warning("demo", open_dataset(songs))
