"""Separation metrics.

SI-SDR follows torchmetrics' ``scale_invariant_signal_distortion_ratio`` with its default
``zero_mean=False``, computed per channel and then averaged. Undefined values (a silent
reference, a silent estimate) are returned as ``None`` so they show as "n/a".
"""

from __future__ import annotations

import math

import torch


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """SI-SDR in dB over the last axis: ``[..., time]`` → ``[...]`` (torchmetrics' formula)."""
    estimate = estimate.to(torch.float64)
    reference = reference.to(torch.float64)
    eps = torch.finfo(torch.float32).eps
    alpha = ((estimate * reference).sum(-1, keepdim=True) + eps) / (
        (reference**2).sum(-1, keepdim=True) + eps
    )
    scaled = alpha * reference
    noise = scaled - estimate
    ratio = ((scaled**2).sum(-1) + eps) / ((noise**2).sum(-1) + eps)
    return 10 * torch.log10(ratio)


def _defined(signal: torch.Tensor) -> torch.Tensor:
    """Channels with energy: ``[..., time]`` → bool ``[...]``."""
    return signal.to(torch.float64).pow(2).sum(-1) > 1e-12


def si_sdr_db(estimate: torch.Tensor, reference: torch.Tensor) -> float | None:
    """Mean over channels of SI-SDR for ``[channels, time]``; None if any channel is silent."""
    if not bool(_defined(reference).all()) or not bool(_defined(estimate).all()):
        return None
    return _finite(si_sdr(estimate, reference).mean())


def estimate_change_db(current: torch.Tensor, previous: torch.Tensor) -> float | None:
    """SI-SDR of x̂_n against x̂_{n-1} (``[channels, time]``): high = little change."""
    return si_sdr_db(current, previous)


def residual_db(mixture: torch.Tensor, stems: torch.Tensor) -> float | None:
    """Mixture-consistency residual ``10·log10(‖y − Σ_s x̂_s‖² / ‖y‖²)`` in dB (lower is better).

    ``mixture`` is ``[channels, time]``, ``stems`` ``[sources, channels, time]``.
    """
    energy = float(mixture.to(torch.float64).pow(2).sum())
    if energy <= 1e-12:
        return None
    error = float((mixture.double() - stems.double().sum(0)).pow(2).sum())
    if error == 0.0:
        return None
    return _finite(10 * math.log10(error / energy))


def _finite(value: torch.Tensor | float) -> float | None:
    out = float(value)
    return out if math.isfinite(out) else None
