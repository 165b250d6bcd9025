"""β schedules: the weight of the previous estimate in step n's mixture, n = 1..N.

Every schedule is non-decreasing and reaches ``beta_max`` at n = N, except ``zero``; ``flat``
is ``beta_max`` at every step (this tool's old "constant"); ``zero`` is β = 0 at every step,
which with add-sources is the study's "constant" (every stem re-added at gain 1). Step 0 (the
one-shot baseline) has no β.
"""

from __future__ import annotations

import math

from .config import SCHEDULES, ScheduleName, canonical_schedule
from .errors import ConfigError

SIGMOID_STEEPNESS = 10.0


def beta(schedule: ScheduleName, n: int, steps: int, beta_max: float = 1.0) -> float:
    """β_n for step ``n`` (1 ≤ n ≤ steps) of ``schedule`` (an old name is accepted)."""
    schedule = canonical_schedule(schedule)  # type: ignore[assignment]
    if not 1 <= n <= steps:
        raise ConfigError(f"step {n} is outside 1..{steps}.")
    t = n / steps
    if schedule == "linear":
        shape = t
    elif schedule == "flat":
        shape = 1.0
    elif schedule == "zero":
        shape = 0.0
    elif schedule == "cosine":
        shape = 0.5 * (1.0 - math.cos(math.pi * t))
    elif schedule == "geometric":
        shape = 2.0 ** (n - steps)  # doubles every step up to β_max
    elif schedule == "sigmoid":
        def s(u: float) -> float:
            return 1.0 / (1.0 + math.exp(-SIGMOID_STEEPNESS * (u - 0.5)))
        shape = (s(t) - s(0.0)) / (s(1.0) - s(0.0))
    else:
        raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}.")
    return beta_max * shape


def betas(schedule: ScheduleName, steps: int, beta_max: float = 1.0) -> list[float]:
    """[β_1, …, β_N] for ``steps`` = N."""
    return [beta(schedule, n, steps, beta_max) for n in range(1, steps + 1)]
