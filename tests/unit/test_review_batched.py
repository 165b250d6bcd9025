"""Batched chunks against demucs's own ``apply_model`` on awkward lengths and overlaps:
shorter than one segment, an odd sample count, an exact multiple of the stride."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_hdemucs

from progdemix_tui.engine.chunked import apply_batched

RATE = 44100


@pytest.mark.parametrize("samples", [int(0.4 * RATE), 2 * RATE + 7, 3 * RATE])
@pytest.mark.parametrize("overlap", [0.1, 0.25, 0.5])
def test_batched_equals_apply_model(samples, overlap):
    from demucs.apply import apply_model

    module = tiny_hdemucs()
    mix = 0.1 * torch.randn(2, 2, samples, generator=torch.Generator().manual_seed(samples))
    with torch.no_grad():
        expected = apply_model(module, mix, shifts=0, split=True, overlap=overlap,
                               segment=1.0, device="cpu")
    calls: list[int] = []
    out = apply_batched(module, mix, batch=3, shifts=0, overlap=overlap, segment=1.0,
                        device=torch.device("cpu"), before=lambda: None,
                        done=lambda: calls.append(1))
    assert out.shape == expected.shape
    assert (out - expected).abs().max().item() <= 1e-5 * expected.abs().max().item()
    assert len(calls) == len(range(0, samples, int((1 - overlap) * RATE)))
