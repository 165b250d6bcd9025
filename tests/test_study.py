"""The study's procedure and names (docs/study.md): the old "constant", ``--preset study``,
the whole-excerpt SDR, and the adaptive oracle's whole-excerpt guarantee."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import open_session


def fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu"]


# ------------------------------------------------------------------ names: "constant"


def test_old_constant_schedule_reads_as_flat_everywhere(tmp_path, tiny_model_path, capsys,
                                                        monkeypatch):
    """The command line takes the old name with a one-line note; an old session reads it."""
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "s"
    assert main(["run", str(track), "--steps", "1", "--schedule", "constant", "--out", str(out),
                 *fast(tiny_model_path)]) == 0
    err = capsys.readouterr().err
    assert "--schedule constant is now called flat" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["schedule"] == "flat"
    manifest["config"]["schedule"] = "constant"  # as an older version wrote it
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert open_session(out).config.schedule == "flat"
    with pytest.raises(SystemExit) as exited:  # other names are still refused
        main(["run", str(track), "--schedule", "sideways", *fast(tiny_model_path)])
    assert exited.value.code == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


def test_old_constant_in_settings_reads_as_flat(tmp_path, monkeypatch):
    from progdemix_tui.tui.settings import ENV_DIR, Settings

    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    (tmp_path / "settings.json").write_text(json.dumps({"params": {"schedule": "constant"}}))
    settings = Settings.load()
    assert settings.params["schedule"] == "flat" and settings.problem is None


# ------------------------------------------------------------------ adaptive guarantee


def _gain_switching_candidates(length: int = 8000, chunk: int = 4000):
    """Candidates whose target is better than the previous one in every chunk (less noise)
    but at a gain that jumps between chunks: chunk-wise they win, over the whole excerpt the
    assembly is far worse. ``[2, sources=2, channels=2, time]`` with the previous at 0."""
    g = torch.Generator().manual_seed(3)
    reference = torch.randn(2, length, generator=g)
    previous = reference + 0.1 * torch.randn(2, length, generator=g)
    gain = torch.ones(length)
    gain[:chunk], gain[chunk:] = 3.0, 0.3
    candidate = gain * (reference + 0.05 * torch.randn(2, length, generator=g))
    rest = torch.randn(2, length, generator=g)
    stems = torch.stack([torch.stack([previous, rest]), torch.stack([candidate, rest])])
    mixes = stems.sum(1)
    return stems, mixes, reference


def test_adaptive_oracle_never_ends_below_keeping_the_previous_step():
    """Per chunk the candidate wins everywhere; the whole-excerpt check keeps the previous
    estimate. Without it (the old per-chunk selection alone) the target lost ~18 dB."""
    from progdemix_tui.engine import adaptive
    from progdemix_tui.engine.metrics import si_sdr

    stems, mixes, reference = _gain_switching_candidates()
    scores = adaptive.chunk_scores(stems[:, 0], reference, 4000, "oracle")
    assert bool((scores[1] > scores[0]).all())  # chunk by chunk the candidate is better
    chunkwise = adaptive.select(stems, mixes, [0.5], scores, 4000)
    before = si_sdr(stems[0, 0], reference)
    assert bool((si_sdr(chunkwise.stems[0], reference) < before - 10).all())  # the old flaw
    chosen = adaptive.choose(stems, mixes, [0.5], 0, 4000, "oracle", reference, None)
    assert bool((si_sdr(chosen.stems[0], reference) >= before).all())
    assert torch.equal(chosen.stems, stems[0]) and torch.equal(chosen.mixture, mixes[0])
    assert bool((chosen.choice == 0).all()) and float(chosen.betas.abs().max()) == 0.0


def test_adaptive_whole_check_keeps_a_better_assembly_per_channel():
    """Where the assembly is better over the whole excerpt it stays, channel by channel."""
    from progdemix_tui.engine import adaptive
    from progdemix_tui.engine.metrics import si_sdr

    stems, mixes, reference = _gain_switching_candidates()
    stems[1, 0, 1] = reference[1] + 0.01 * torch.randn(8000)  # channel 1: uniformly better
    chosen = adaptive.choose(stems, mixes, [0.5], 0, 4000, "oracle", reference, None)
    assert torch.equal(chosen.stems[:, 0], stems[0, :, 0])  # channel 0 falls back
    assert torch.equal(chosen.stems[:, 1], stems[1, :, 1])  # channel 1 keeps the candidate
    assert chosen.choice[0].tolist() == [0, 0] and chosen.choice[1].tolist() == [1, 1]
    after, before = si_sdr(chosen.stems[0], reference), si_sdr(stems[0, 0], reference)
    assert bool((after >= before).all()) and float(after[1]) > float(before[1]) + 5


def test_adaptive_decorrelation_never_ends_below_previous_on_its_proxy():
    from progdemix_tui.engine import adaptive

    stems, mixes, _ = _gain_switching_candidates()
    mixture = stems[0].sum(0)
    chosen = adaptive.choose(stems, mixes, [0.5], 0, 4000, "decorrelation", None, mixture)
    pair = torch.stack([chosen.stems[0], stems[0, 0]])
    whole = adaptive.chunk_scores(pair, None, 8000, "decorrelation", mixture)[..., 0]
    assert bool((whole[0] >= whole[1]).all())
