"""Separation metrics.

SI-SDR follows torchmetrics' ``scale_invariant_signal_distortion_ratio`` with its default
``zero_mean=False``, computed per channel and then averaged. Undefined values (a silent
reference, a silent estimate) are returned as ``None`` so they show as "n/a".
"""

from __future__ import annotations

import math

import torch

SILENCE = 1e-12  # total energy below which a channel counts as silent


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """SI-SDR in dB over the last axis: ``[..., time]`` → ``[...]``.

    torchmetrics' formula, in the inputs' precision (float32 audio is scored in float32, as
    torchmetrics does; pass float64 for more).
    """
    dtype = torch.promote_types(estimate.dtype, reference.dtype)
    estimate = estimate.to(dtype)
    reference = reference.to(dtype)
    eps = torch.finfo(dtype).eps
    alpha = ((estimate * reference).sum(-1, keepdim=True) + eps) / (
        (reference**2).sum(-1, keepdim=True) + eps
    )
    scaled = alpha * reference
    noise = scaled - estimate
    ratio = ((scaled**2).sum(-1) + eps) / ((noise**2).sum(-1) + eps)
    return 10 * torch.log10(ratio)


def si_sdr_stems(estimates: torch.Tensor, references: torch.Tensor) -> list[float | None]:
    """Per-stem SI-SDR, mean over channels, for ``[stems, channels, time]`` pairs in one pass.

    A stem whose reference or estimate has a silent channel is undefined (None).
    """
    defined = ((references**2).sum(-1) > SILENCE) & ((estimates**2).sum(-1) > SILENCE)
    values = si_sdr(estimates, references).mean(-1)
    return [_finite(v) if ok else None
            for v, ok in zip(values.tolist(), defined.all(-1).tolist(), strict=True)]


def si_sdr_db(estimate: torch.Tensor, reference: torch.Tensor) -> float | None:
    """Mean over channels of SI-SDR for ``[channels, time]``; None if any channel is silent."""
    return si_sdr_stems(estimate[None], reference[None])[0]


def residual_db(mixture: torch.Tensor, stems: torch.Tensor) -> float | None:
    """Mixture-consistency residual ``10·log10(‖y − Σ_s x̂_s‖² / ‖y‖²)`` in dB (lower is better).

    ``mixture`` is ``[channels, time]``, ``stems`` ``[sources, channels, time]``.
    """
    energy = float(mixture.pow(2).sum())
    if energy <= SILENCE:
        return None
    error = float((mixture - stems.sum(0)).pow(2).sum())
    if error == 0.0:
        return None
    return _finite(10 * math.log10(error / energy))


def _finite(value: torch.Tensor | float) -> float | None:
    out = float(value)
    return out if math.isfinite(out) else None
