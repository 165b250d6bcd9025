"""A/B level matching, measured once for what plays, what the player bar shows and the A/B
clips exported.

Integrated loudness (ITU-R BS.1770, pyloudnorm), falling back to RMS only where loudness is
undefined (clips under 0.4 s, or below the −70 LUFS gate); attenuation only: the louder one
is turned down, so nothing clips. No torch here: numpy arrays (or CPU tensors) in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Method = Literal["LUFS", "RMS"]


@dataclass(frozen=True)
class LevelMatch:
    """Gains (dB) that give A and B the same level, and how it was measured: ``"LUFS"``,
    ``"RMS"`` (loudness undefined) or None (silence: no gain)."""

    gain_a_db: float = 0.0
    gain_b_db: float = 0.0
    method: Method | None = None

    @property
    def relative_db(self) -> float:
        """B's gain relative to A (the figure the player bar shows)."""
        return self.gain_b_db - self.gain_a_db

    @property
    def linear(self) -> tuple[float, float]:
        """The gains of A and B as factors."""
        return float(10 ** (self.gain_a_db / 20)), float(10 ** (self.gain_b_db / 20))

    def describe(self) -> str:
        if self.method is None:
            return "B ±0dB (silent)"
        return f"B{self.relative_db:+.1f}dB {self.method}"


def _float64(data: Any) -> np.ndarray:
    """``[channels, time]`` (numpy array or CPU tensor) as float64."""
    return np.asarray(data, dtype=np.float64)


def loudness(data: Any, rate: int) -> float | None:
    """Integrated loudness (LUFS) of ``[channels, time]``; None when undefined."""
    import pyloudnorm

    x = _float64(data)
    if x.shape[-1] < int(0.4 * rate) + 1:
        return None
    with np.errstate(divide="ignore"):
        value = float(pyloudnorm.Meter(rate).integrated_loudness(x.T))
    return value if math.isfinite(value) else None


def rms_db(data: Any) -> float | None:
    """RMS level (dB full scale) of ``[channels, time]``; None for silence."""
    x = _float64(data)
    value = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return 20 * math.log10(value) if value > 1e-9 else None


def match_levels(a: Any, b: Any, rate: int, rate_b: int | None = None,
                 measured: tuple[float | None, float | None] | None = None) -> LevelMatch:
    """The gains that level-match ``a`` and ``b`` (``[channels, time]``; ``rate_b``: B's rate
    if it differs from A's; ``measured``: their loudness if known already, None where
    undefined)."""
    la, lb = measured if measured is not None else (loudness(a, rate),
                                                     loudness(b, rate_b or rate))
    method: Method = "LUFS"
    if la is None or lb is None:
        la, lb, method = rms_db(a), rms_db(b), "RMS"
    if la is None or lb is None:
        return LevelMatch()
    ref = min(la, lb)
    return LevelMatch(ref - la, ref - lb, method)
