"""Typed parameters of a progressive run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, get_args

from .errors import ConfigError

Mode = Literal["add-to-mixture", "add-sources", "oracle"]
ScheduleName = Literal["linear", "constant", "cosine", "geometric", "sigmoid"]
AdaptiveScore = Literal["auto", "oracle", "decorrelation"]
DeviceSpec = str  # "auto", "cpu", "cuda", "cuda:N", "mps"

MODES: tuple[str, ...] = get_args(Mode)
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)
ADAPTIVE_SCORES: tuple[str, ...] = get_args(AdaptiveScore)
STEMS: tuple[str, ...] = ("drums", "bass", "other", "vocals")


@dataclass(frozen=True)
class AdaptiveConfig:
    """Adaptive β (Zang et al. 2025): try ``candidates`` β values per step in one batch.

    The best candidate, or the previous estimate ("keep previous"), is kept per
    ``chunk_seconds`` chunk and channel by ``score``: ``oracle`` is SI-SDR against the
    reference target (an upper bound), ``decorrelation`` is reference-free (see
    :mod:`progdemix_tui.engine.adaptive`), ``auto`` picks oracle when references exist.
    """

    candidates: int = 4
    score: AdaptiveScore = "auto"
    chunk_seconds: float = 1.0


@dataclass(frozen=True)
class SeparatorConfig:
    """How the separator runs: model, device and chunking for ``apply_model``."""

    model: str = "hdemucs_mmi"
    repo: str | None = None
    trust_checkpoint: bool = False
    device: DeviceSpec = "auto"
    segment: float | None = None  # seconds; None: min(10 s, model maximum)
    overlap: float = 0.25
    shifts: int = 0
    half: bool = False
    seed: int = 0


@dataclass(frozen=True)
class RunConfig:
    """What the progressive loop does: target, steps, mixture update and post-processing."""

    target: str = "vocals"
    steps: int = 10
    mode: Mode = "add-to-mixture"
    schedule: ScheduleName = "linear"
    beta_max: float = 1.0
    adaptive: AdaptiveConfig | None = None
    early_stop_db: float | None = None  # stop when estimate change exceeds this SI-SDR (dB)
    wiener: bool = False
    loudness_match: bool = False
    clip_guard: bool = True
    separator: SeparatorConfig = field(default_factory=SeparatorConfig)

    def validate(self, sources: tuple[str, ...] = STEMS) -> RunConfig:
        """Raise :class:`ConfigError` with one clear line for any invalid value."""
        if self.target not in sources:
            raise ConfigError(f"target {self.target!r} is not one of {', '.join(sources)}.")
        if not isinstance(self.steps, int) or self.steps < 0 or self.steps > 1000:
            raise ConfigError(f"steps must be an integer from 0 to 1000, not {self.steps!r}.")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}.")
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}."
            )
        if not 0.0 < self.beta_max <= 1.0:
            raise ConfigError(f"beta-max must be in (0, 1], not {self.beta_max}.")
        if self.adaptive is not None:
            if not 1 <= self.adaptive.candidates <= 32:
                raise ConfigError("adaptive candidates K must be from 1 to 32.")
            if self.adaptive.score not in ADAPTIVE_SCORES:
                raise ConfigError(f"adaptive score must be one of {', '.join(ADAPTIVE_SCORES)}.")
            if self.adaptive.chunk_seconds <= 0:
                raise ConfigError("adaptive chunk length must be > 0 seconds.")
        if self.early_stop_db is not None and self.early_stop_db <= 0:
            raise ConfigError("early-stop threshold must be > 0 dB.")
        sep = self.separator
        if sep.segment is not None and sep.segment <= 0.1:
            raise ConfigError("segment must be longer than 0.1 s.")
        if not 0.0 <= sep.overlap < 1.0:
            raise ConfigError(f"overlap must be in [0, 1), not {sep.overlap}.")
        if sep.shifts < 0 or sep.shifts > 20:
            raise ConfigError("shifts must be from 0 to 20.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        data = dict(data)
        adaptive = data.pop("adaptive", None)
        separator = data.pop("separator", None) or {}
        return cls(
            **data,
            adaptive=AdaptiveConfig(**adaptive) if adaptive else None,
            separator=SeparatorConfig(**separator),
        )
