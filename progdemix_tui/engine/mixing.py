"""Building step n's input mixture y_n, and guarding it (clipping, loudness).

Shapes: ``mixture`` and ``y_n`` are ``[channels, time]``; ``stems`` and ``references`` are
``[sources, channels, time]``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .config import Mode
from .errors import ReferencesRequired


def build_mixture(
    mode: Mode,
    beta: float,
    mixture: torch.Tensor,
    previous: torch.Tensor,
    target: int,
    references: torch.Tensor | None = None,
) -> torch.Tensor:
    """y_n for ``mode`` (DESIGN.md §1).

    - add-to-mixture: ``(1-β)·y + β·x̂_{n-1}[target]``
    - add-sources: ``x̂_{n-1}[target] + (1-β)·Σ_{s≠target} x̂_{n-1}[s]``
    - oracle: ``x[target] + (1-β)·Σ_{s≠target} x[s]`` from the true stems, rescaled to the
      peak of ``mixture``.
    """
    if mode == "add-to-mixture":
        return (1.0 - beta) * mixture + beta * previous[target]
    if mode == "add-sources":
        return previous[target] + (1.0 - beta) * _others(previous, target)
    if mode == "oracle":
        if references is None:
            raise ReferencesRequired(
                "oracle mode needs the true stems: use a MUSDB-style track folder or --references DIR."
            )
        y = references[target] + (1.0 - beta) * _others(references, target)
        peak = float(y.abs().max())
        return y * (float(mixture.abs().max()) / peak) if peak > 0 else y
    raise ValueError(f"unknown mode {mode!r}")


def _others(stems: torch.Tensor, target: int) -> torch.Tensor:
    return stems.sum(0) - stems[target]


def clip_guard(y: torch.Tensor, limit: float = 1.0) -> tuple[torch.Tensor, float]:
    """Rescale ``y`` so that ``max|y| ≤ limit``; returns ``(y, factor)`` (factor 1 if untouched)."""
    peak = float(y.abs().max()) if y.numel() else 0.0
    if peak <= limit:
        return y, 1.0
    factor = limit / peak
    return y * factor, factor


def integrated_loudness(samples: torch.Tensor, samplerate: int) -> float | None:
    """ITU-R BS.1770 integrated loudness (LUFS) of ``[channels, time]``; None if undefined."""
    import pyloudnorm

    if samples.shape[-1] < int(0.4 * samplerate) + 1:
        return None
    meter = pyloudnorm.Meter(samplerate)
    data = samples.detach().to("cpu", torch.float64).numpy().T
    with np.errstate(divide="ignore"):
        value = float(meter.integrated_loudness(data))
    return value if math.isfinite(value) else None


def match_loudness(y: torch.Tensor, reference_lufs: float | None,
                   samplerate: int) -> tuple[torch.Tensor, float]:
    """Scale ``y`` to ``reference_lufs``; returns ``(y, gain_db)`` (0 dB when undefined)."""
    if reference_lufs is None:
        return y, 0.0
    current = integrated_loudness(y, samplerate)
    if current is None:
        return y, 0.0
    gain_db = reference_lufs - current
    return y * (10.0 ** (gain_db / 20.0)), gain_db
