"""Where A and B differ: the level of A − B over time, after the player's level matching.

No torch, no Textual: numpy arrays (or CPU tensors) ``[channels, time]`` in, one level per
window out, and the order in which to visit the windows ("take me to where they differ").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .levels import LevelMatch

WINDOW = 0.5  # seconds per level
FLOOR_DB = -120.0  # what silence (A and B identical there) is shown as


@dataclass(frozen=True)
class DifferenceMap:
    """``levels_db[k]``: RMS level (dB full scale) of gain_a·A − gain_b·B over window ``k``
    (``window`` seconds from ``k·window``); :data:`FLOOR_DB` where they are identical."""

    levels_db: np.ndarray
    window: float
    levels: LevelMatch

    @property
    def duration(self) -> float:
        return len(self.levels_db) * self.window

    def ranked(self) -> list[int]:
        """Window indices, largest difference first (earlier first among equals)."""
        return sorted(range(len(self.levels_db)), key=lambda k: (-self.levels_db[k], k))

    def start(self, index: int) -> float:
        return index * self.window


def difference_map(a: Any, b: Any, rate: int, levels: LevelMatch,
                   window: float = WINDOW) -> DifferenceMap:
    """The level of A − B per ``window`` seconds; A and B are ``[channels, time]`` at ``rate``
    (the shorter length counts; channels must agree), ``levels`` the player's match."""
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if xa.ndim != 2 or xb.ndim != 2 or xa.shape[0] != xb.shape[0]:
        raise ValueError(f"A {xa.shape} and B {xb.shape} are not [channels, time] alike")
    n = min(xa.shape[-1], xb.shape[-1])
    gain_a, gain_b = levels.linear
    diff = gain_a * xa[:, :n] - gain_b * xb[:, :n]
    hop = max(1, int(round(window * rate)))
    count = max(1, math.ceil(n / hop))
    power = np.zeros(count)
    for k in range(count):
        part = diff[:, k * hop:(k + 1) * hop]
        power[k] = float(np.mean(part * part)) if part.size else 0.0
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(power)
    db = np.where(np.isfinite(db), np.maximum(db, FLOOR_DB), FLOOR_DB)
    return DifferenceMap(db, hop / rate, levels)
