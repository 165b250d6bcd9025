"""The progressive loop's maths, with a perfect separator and with a tiny real HDemucs."""

from __future__ import annotations

import threading

import pytest
import torch
from conftest import synth_stems
from support.perfect import PerfectSeparator

from progdemix_tui.engine import adaptive, progressive, schedules
from progdemix_tui.engine.config import AdaptiveConfig, RunConfig, SeparatorConfig
from progdemix_tui.engine.errors import Cancelled, ReferencesRequired
from progdemix_tui.engine.models import _wrap
from progdemix_tui.engine.separator import Separator

VOCALS = 3


@pytest.fixture
def stems() -> torch.Tensor:
    return torch.from_numpy(synth_stems(1.0))


def test_n_steps_give_n_plus_one_results(stems):
    sep = PerfectSeparator(stems)
    config = RunConfig(steps=5, schedule="cosine", beta_max=0.8)
    results = list(progressive.iterate(sep, stems.sum(0), config))
    assert [r.step for r in results] == [0, 1, 2, 3, 4, 5]
    assert results[0].metrics.beta is None
    assert [r.metrics.beta for r in results[1:]] == pytest.approx(schedules.betas("cosine", 5, 0.8))


def test_add_to_mixture_keeps_target_at_unit_gain(stems):
    sep = PerfectSeparator(stems)
    config = RunConfig(steps=4, mode="add-to-mixture", schedule="linear", beta_max=0.9)
    for r in progressive.iterate(sep, stems.sum(0), config):
        gains = sep.gains(r.mixture)
        assert gains[VOCALS] == pytest.approx(1.0, abs=1e-4)
        expected_acc = 1.0 - (r.metrics.beta or 0.0)
        for s in range(3):
            assert gains[s] == pytest.approx(expected_acc, abs=1e-4)
        torch.testing.assert_close(r.stem("vocals"), stems[VOCALS], atol=1e-4, rtol=0)


def test_add_sources_follows_schedule(stems):
    sep = PerfectSeparator(stems)
    config = RunConfig(steps=3, mode="add-sources", beta_max=0.6, target="bass")
    results = list(progressive.iterate(sep, stems.sum(0), config))
    # y_n = x̂_{n-1}[bass] + (1-β_n)·others(x̂_{n-1}): others' gain is the product of (1-β_k).
    acc = 1.0
    for r in results[1:]:
        acc *= 1.0 - r.metrics.beta
        gains = sep.gains(r.mixture)
        assert gains[1] == pytest.approx(1.0, abs=1e-4)
        assert gains[0] == pytest.approx(acc, abs=1e-4)


def test_oracle_mode_raises_target_share(stems):
    sep = PerfectSeparator(stems)
    mixture = stems.sum(0)
    config = RunConfig(steps=5, mode="oracle")
    shares = []
    for r in progressive.iterate(sep, mixture, config, references=stems):
        g = sep.gains(r.mixture).abs()
        shares.append(float(g[VOCALS] / g.sum()))
        assert float(r.mixture.abs().max()) == pytest.approx(float(mixture.abs().max()), rel=1e-5)
    assert all(b > a for a, b in zip(shares, shares[1:], strict=False))


def test_oracle_mode_requires_references(stems):
    with pytest.raises(ReferencesRequired, match="true stems"):
        list(progressive.iterate(PerfectSeparator(stems), stems.sum(0), RunConfig(mode="oracle")))


def test_metrics_with_references(stems):
    sep = PerfectSeparator(stems)
    results = list(progressive.iterate(sep, stems.sum(0), RunConfig(steps=2), references=stems))
    first = results[0].metrics
    assert first.si_sdr_delta == 0.0
    assert first.si_sdr["vocals"] > 60  # perfect estimates
    assert first.estimate_change is None
    assert results[1].metrics.estimate_change["vocals"] > 60


def test_early_stop_when_estimates_converge(stems):
    sep = PerfectSeparator(stems)
    config = RunConfig(steps=8, early_stop_db=40.0)
    results = list(progressive.iterate(sep, stems.sum(0), config))
    assert len(results) == 2 and results[-1].metrics.converged


def test_cancel_takes_effect_within_one_chunk(stems):
    sep = PerfectSeparator(stems, chunks=5)
    cancel = threading.Event()
    seen = []

    def on_chunk(step, done, total):
        seen.append((step, done))
        if step == 1 and done == 1:
            cancel.set()

    results = []
    with pytest.raises(Cancelled):
        for r in progressive.iterate(sep, stems.sum(0), RunConfig(steps=4), cancel=cancel,
                                 on_chunk=on_chunk):
            results.append(r)
    assert [r.step for r in results] == [0]
    assert [s for s in seen if s[0] == 1] == [(1, 1)]


def tiny_separator(segment: float = 1.0) -> Separator:
    from conftest import tiny_hdemucs

    model = _wrap("tiny", tiny_hdemucs(), "test")
    return Separator.from_config(SeparatorConfig(model="tiny", segment=segment, device="cpu"),
                                 model=model)


@pytest.mark.parametrize("score", ["oracle", "decorrelation"])
def test_adaptive_never_scores_below_keep_previous(stems, score):
    sep = tiny_separator()
    mixture = stems.sum(0)
    config = RunConfig(steps=3, adaptive=AdaptiveConfig(candidates=3, score=score,
                                                        chunk_seconds=0.25))
    results = list(progressive.iterate(sep, mixture, config, references=stems))
    chunk = int(0.25 * sep.samplerate)
    for prev, cur in zip(results, results[1:], strict=False):
        pair = torch.stack([prev.estimates[VOCALS], cur.estimates[VOCALS]])
        scores = adaptive.chunk_scores(pair, stems[VOCALS], chunk, score, mixture)
        assert bool((scores[1] >= scores[0] - 1e-4).all())
        assert cur.metrics.adaptive_beta_mean is not None


def test_decorrelation_score_prefers_the_true_target(stems):
    """Leakage and missing target both raise |ρ(t, y − t)|: the truth scores best."""
    mixture = stems.sum(0)
    acc = mixture - stems[VOCALS]
    candidates = torch.stack([stems[VOCALS], stems[VOCALS] + 0.3 * acc, 0.6 * stems[VOCALS]])
    scores = adaptive.chunk_scores(candidates, None, mixture.shape[-1], "decorrelation", mixture)
    assert scores.shape == (3, 2, 1)
    assert bool((scores[0] > scores[1]).all()) and bool((scores[0] > scores[2]).all())


def test_adaptive_batches_candidates_in_one_call(stems):
    sep = PerfectSeparator(stems)
    config = RunConfig(steps=2, adaptive=AdaptiveConfig(candidates=4))
    list(progressive.iterate(sep, stems.sum(0), config, references=stems))
    assert sep.calls == 3  # step 0 + one batched call per step


@pytest.mark.smoke
def test_real_model_loop_with_wiener_and_loudness(stems):
    sep = tiny_separator()
    config = RunConfig(steps=2, wiener=True, loudness_match=True)
    results = list(progressive.iterate(sep, stems.sum(0), config, references=stems))
    assert len(results) == 3
    for r in results:
        assert r.estimates.shape == (4, *stems.shape[1:])
        assert torch.isfinite(r.estimates).all()
        assert r.metrics.clip_factor <= 1.0
