"""Schedules' values, mixture guards and metric conventions."""

from __future__ import annotations

import math

import pytest
import torch

from progdemix_tui.engine import metrics, mixing, schedules
from progdemix_tui.engine.config import SCHEDULES


def test_linear_flat_and_zero_values():
    assert schedules.betas("linear", 4) == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert schedules.betas("flat", 3, 0.4) == pytest.approx([0.4, 0.4, 0.4])
    assert schedules.betas("zero", 3, 0.4) == [0.0, 0.0, 0.0]
    assert schedules.betas("geometric", 3, 0.8) == pytest.approx([0.2, 0.4, 0.8])


def test_old_constant_name_reads_as_flat():
    """The tool's old "constant" (β_max at every step) is "flat" now, and old files read so;
    "constant" is no longer a schedule of its own (the study used it for the opposite)."""
    from progdemix_tui.engine.config import RunConfig

    assert "constant" not in SCHEDULES
    assert schedules.betas("constant", 2, 0.5) == schedules.betas("flat", 2, 0.5)  # type: ignore[arg-type]
    assert RunConfig.from_dict({"schedule": "constant"}).schedule == "flat"


def test_study_constant_is_add_sources_with_zero_schedule():
    """The study's "constant": every estimated stem re-added at gain 1 (y_n = Σ x̂_{n-1})."""
    previous = torch.randn(4, 2, 100)
    y = mixing.build_mixture("add-sources", schedules.beta("zero", 1, 3), previous.sum(0),
                             previous, 2)
    assert torch.allclose(y, previous.sum(0), atol=1e-6)


@pytest.mark.parametrize("name", [s for s in SCHEDULES if s != "zero"])
def test_schedules_are_monotone_and_reach_beta_max(name):
    values = schedules.betas(name, 10, 0.7)
    assert all(0 < v <= 0.7 + 1e-12 for v in values)
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:], strict=False))
    assert values[-1] == pytest.approx(0.7)


def test_cosine_and_sigmoid_shapes():
    cos = schedules.betas("cosine", 4)
    assert cos[1] == pytest.approx(0.5)
    sig = schedules.betas("sigmoid", 10)
    assert sig[4] == pytest.approx(0.5, abs=1e-9)  # midpoint at n = N/2


def test_si_sdr_matches_torchmetrics():
    from torchmetrics.functional.audio import scale_invariant_signal_distortion_ratio as tm

    torch.manual_seed(0)
    ref = torch.randn(3, 2, 4000)
    est = ref + 0.3 * torch.randn(3, 2, 4000)
    torch.testing.assert_close(metrics.si_sdr(est, ref).float(), tm(est, ref), atol=1e-4, rtol=0)
    assert metrics.si_sdr_db(est[0], ref[0]) == pytest.approx(float(tm(est[0], ref[0]).mean()),
                                                              abs=1e-4)


def test_undefined_metrics_are_none():
    silent = torch.zeros(2, 1000)
    noise = torch.randn(2, 1000)
    assert metrics.si_sdr_db(noise, silent) is None
    assert metrics.si_sdr_db(silent, noise) is None
    assert metrics.residual_db(silent, torch.zeros(4, 2, 1000)) is None


def test_residual_db():
    y = torch.ones(2, 100)
    stems = torch.stack([0.5 * y, 0.375 * y])
    assert metrics.residual_db(y, stems) == pytest.approx(10 * math.log10(0.125**2), abs=1e-9)


def test_clip_guard_records_factor():
    y = torch.tensor([[0.5, -2.0], [1.0, 0.0]])
    out, factor = mixing.clip_guard(y)
    assert factor == pytest.approx(0.5)
    assert float(out.abs().max()) == pytest.approx(1.0)
    same, one = mixing.clip_guard(y * 0.4)
    assert one == 1.0 and torch.equal(same, y * 0.4)


def test_loudness_match_reaches_reference():
    torch.manual_seed(1)
    y = 0.1 * torch.randn(2, 44100)
    target = mixing.integrated_loudness(y, 44100)
    quiet = y * 0.1
    matched, gain = mixing.match_loudness(quiet, target, 44100)
    assert gain == pytest.approx(20.0, abs=0.1)
    assert mixing.integrated_loudness(matched, 44100) == pytest.approx(target, abs=0.1)
