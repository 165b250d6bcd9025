"""Typed parameters of a progressive run."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Literal, get_args

from .errors import ConfigError

Mode = Literal["add-to-mixture", "add-sources", "oracle"]
ScheduleName = Literal["linear", "flat", "cosine", "geometric", "sigmoid", "zero"]
AdaptiveScore = Literal["auto", "oracle", "decorrelation"]
Preset = Literal["none", "study"]  # the procedures' names (.procedure.PROCEDURES)
StemFormat = Literal["flac", "wav"]  # how a session stores step audio
Precision = Literal["auto", "fp32", "bf16", "fp16"]  # the separator's (see .precision)
DeviceSpec = str  # "auto", "cpu", "cuda", "cuda:N", "mps"

MODES: tuple[str, ...] = get_args(Mode)
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)
ADAPTIVE_SCORES: tuple[str, ...] = get_args(AdaptiveScore)
STEM_FORMATS: tuple[str, ...] = get_args(StemFormat)
PRESETS: tuple[str, ...] = get_args(Preset)
PRECISIONS: tuple[str, ...] = get_args(Precision)
STEMS: tuple[str, ...] = ("drums", "bass", "other", "vocals")
STEM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$")
"""A stem name before the model is known (the model's own list decides once it is)."""
#: Old schedule names still read (settings, session and evaluation files, the command line):
#: ``constant`` was this tool's β = β_max at every step, now ``flat``. The study's own
#: "constant" (add-sources with every gain 1, i.e. β = 0) is ``--mode add-sources --schedule
#: zero``; the two had opposite meanings under one name (docs/study.md).
SCHEDULE_ALIASES: dict[str, str] = {"constant": "flat"}


def canonical_schedule(name: object) -> object:
    """``name`` with an old schedule name (:data:`SCHEDULE_ALIASES`) replaced by its new one."""
    return SCHEDULE_ALIASES.get(name, name) if isinstance(name, str) else name


HALF_CONTRADICTION = "--half means --precision fp16; drop --half or --precision {precision}."
"""The one-line error for ``--half`` beside another precision (:func:`fold_half`)."""


def fold_half(half: bool, precision: str) -> str:
    """``--half`` read as what it means, ``--precision fp16``: ``precision``, or fp16 when
    ``half``; :class:`ConfigError` when ``half`` comes with another precision than auto or
    fp16 (the two flags are one concept)."""
    if not half:
        return precision
    if precision not in ("auto", "fp16"):
        raise ConfigError(HALF_CONTRADICTION.format(precision=precision))
    return "fp16"


def upgrade_config_dict(data: dict) -> dict:
    """A stored :meth:`RunConfig.to_dict` with old names read as their new ones: a schedule
    alias (:data:`SCHEDULE_ALIASES`), and the separator's ``half`` (sessions and evaluations
    written before it was folded into ``precision``) as ``precision`` fp16. ``data`` is not
    changed; anything else is left for the caller's checks."""
    data = dict(data)
    if "schedule" in data:
        data["schedule"] = canonical_schedule(data["schedule"])
    separator = data.get("separator")
    if isinstance(separator, dict) and "half" in separator:
        separator = dict(separator)
        half = separator.pop("half")
        if half is True:
            separator["precision"] = fold_half(True, str(separator.get("precision", "auto")))
        elif half is not False:
            raise ConfigError(f"separator.half must be true or false, not {half!r}")
        data["separator"] = separator
    return data
DEFAULT_MODEL = "hdemucs_mmi"

# The valid ranges: one source for the engine, the CLI and the TUI's parameter panel.
MAX_STEPS = 1000
MAX_CANDIDATES = 32
MAX_SHIFTS = 20
MAX_BATCH_CHUNKS = 64  # chunks per forward pass (--batch-chunks); 0 picks per device
MIN_SEGMENT = 0.1  # seconds; also where halving the segment after out-of-memory stops
MAX_SEGMENT = 600.0  # seconds; the separator also caps a segment at the input's length
DEFAULT_SEGMENT = 10.0  # seconds, when none is given (capped by the model's maximum)
DEFAULT_OVERLAP = 0.25  # chunk overlap when none is given and the model has no default_overlap
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


#: How :meth:`RunConfig.validate` names each field it checks (the dotted paths of
#: :meth:`RunConfig.problems`), in ``--help`` order: the engine's own vocabulary for its
#: messages. :data:`.options.OPTIONS` rows take their ``checked_as`` from here.
FIELD_NAMES: dict[str, str] = {
    "target": "target", "steps": "steps", "mode": "mode", "schedule": "schedule",
    "beta_max": "beta-max", "preset": "preset", "adaptive.candidates": "adaptive candidates K",
    "adaptive.score": "adaptive score", "adaptive.chunk_seconds": "adaptive chunk length",
    "early_stop_db": "early-stop threshold", "separator.device": "device",
    "separator.precision": "precision",
    "separator.segment": "segment", "separator.overlap": "overlap",
    "separator.shifts": "shifts", "separator.batch_chunks": "batch-chunks",
}


def not_finite(value: object) -> str | None:
    """Why a float option is unusable ("must be a finite number, not nan"), or None.

    The one finiteness check for every float option: :meth:`RunConfig.problems`, the input
    excerpt (:func:`excerpt_problems`), the evaluation options and the TUI's panel use it.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number, not {value!r}"
    if not math.isfinite(value):
        return f"must be a finite number, not {value}"
    return None


def excerpt_problems(start: float, duration: float | None) -> dict[str, str]:
    """``{"start"|"duration": reason}`` for an invalid input excerpt; empty when valid. The
    one check of an excerpt: ``run``'s options, :func:`.audio.load` and the TUI's panel."""
    found: dict[str, str] = {}
    why = not_finite(start)
    if why or not start >= 0:
        found["start"] = why or f"must be ≥ 0 seconds, not {start:g}"
    if duration is not None:
        why = not_finite(duration)
        if why or not duration > 0:
            found["duration"] = why or f"must be > 0 seconds, not {duration:g}"
    return found


def excerpt_length_problem(seconds: float) -> str | None:
    """Why ``eval``'s excerpt length (``--excerpt``; 0: whole tracks) is invalid; None when
    it is valid."""
    why = not_finite(seconds)
    if why or not seconds >= 0:
        return why or "must be ≥ 0 seconds (0: whole tracks)"
    return None


def check_excerpt(start: float, duration: float | None) -> None:
    """Raise :class:`ConfigError` naming an invalid ``--start``/``--duration`` in one line."""
    found = excerpt_problems(start, duration)
    if found:
        raise ConfigError("; ".join(f"--{k} {why}" for k, why in found.items()) + ".")


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

    model: str = DEFAULT_MODEL
    repo: str | None = None
    trust_checkpoint: bool = False
    model_config: str | None = None  # the model's own config file (a RoFormer's YAML)
    device: DeviceSpec = "auto"
    segment: float | None = None  # seconds; None: the model's default (10 s), capped by it
    overlap: float | None = None  # None: the model's default (demucs 0.25; a RoFormer's own)
    shifts: int = 0
    seed: int = 0
    precision: Precision = "auto"  # the one precision field (``--half`` is read as fp16)
    cache: bool = True  # reuse step 0 from the step-0 cache (see .step0_cache)
    batch_chunks: int = 0  # chunks per forward; 0: per device (.resources.batch_chunks_for)

    def __post_init__(self) -> None:
        if not self.model_config:  # the TUI's empty field: no config
            object.__setattr__(self, "model_config", None)


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
    preset: Preset = "none"  # which procedure (.procedure): "study" is the study's code
    separator: SeparatorConfig = field(default_factory=SeparatorConfig)

    def __post_init__(self) -> None:
        # The study's code ran float32: its preset reads ``auto`` as fp32, so the one flag
        # reproduces it on every machine (an explicit --precision is kept). This and the β
        # rule of :meth:`problems` are what the preset fixes in the config itself; what it
        # does differently at run time is its procedure's (.procedure.procedure_for).
        if self.preset == "study" and self.separator.precision == "auto":
            object.__setattr__(self, "separator", replace(self.separator, precision="fp32"))

    def problems(self, sources: tuple[str, ...] | None = STEMS) -> dict[str, str]:
        """Every invalid value as ``{field: reason}``; empty when the config is valid.

        ``sources`` are the model's stems; None before the model is known (the target must
        then only be a plain stem name: models such as htdemucs_6s have guitar and piano).

        Fields are dotted paths (``"separator.overlap"``, keys of
        :data:`FIELD_NAMES`), in that table's order; a reason reads after the field's
        name: ``"must be in [0, 1), not 1.0"``. The values are checked once per config (it is
        frozen; :meth:`_value_problems`): a later call checks only the target against
        ``sources``.
        """
        found = dict(self._value_problems())
        if sources is None:
            if not isinstance(self.target, str) or not STEM_NAME.match(self.target):
                found["target"] = f"must be a stem name such as vocals, not {self.target!r}"
        elif self.target not in sources:
            found["target"] = f"must be one of {', '.join(sources)}, not {self.target!r}"
        return {key: found[key] for key in FIELD_NAMES if key in found}

    def with_target(self, target: str) -> RunConfig:
        """This config for another ``target``; values already checked stay checked (they do
        not depend on the target)."""
        config = replace(self, target=target)
        kept = self.__dict__.get("_checked_values")
        if kept is not None:
            object.__setattr__(config, "_checked_values", kept)
        return config

    def _value_problems(self) -> dict[str, str]:
        """Every invalid value but the target's, computed on the first call and kept."""
        kept = self.__dict__.get("_checked_values")
        if kept is None:
            kept = self._check_values()
            object.__setattr__(self, "_checked_values", kept)  # not a field: no dict, no eq
        return kept

    def _check_values(self) -> dict[str, str]:
        found: dict[str, str] = {}
        floats = {"beta_max": self.beta_max, "early_stop_db": self.early_stop_db,
                  "separator.segment": self.separator.segment,
                  "separator.overlap": self.separator.overlap,
                  "adaptive.chunk_seconds": (self.adaptive.chunk_seconds
                                             if self.adaptive is not None else None)}
        for key, value in floats.items():
            why = None if value is None else not_finite(value)
            if why:
                found[key] = why
        if not isinstance(self.steps, int) or not 0 <= self.steps <= MAX_STEPS:
            found["steps"] = f"must be a whole number from 0 to {MAX_STEPS}, not {self.steps!r}"
        if self.mode not in MODES:
            found["mode"] = f"must be one of {', '.join(MODES)}, not {self.mode!r}"
        if self.schedule not in SCHEDULES:
            found["schedule"] = f"must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}"
        if "beta_max" not in found and not 0.0 < self.beta_max <= 1.0:
            found["beta_max"] = f"must be in (0, 1], not {self.beta_max:g}"
        if self.adaptive is not None:
            if not 1 <= self.adaptive.candidates <= MAX_CANDIDATES:
                found["adaptive.candidates"] = f"must be from 1 to {MAX_CANDIDATES}"
            if self.adaptive.score not in ADAPTIVE_SCORES:
                found["adaptive.score"] = f"must be one of {', '.join(ADAPTIVE_SCORES)}"
            if ("adaptive.chunk_seconds" not in found
                    and not 0 < self.adaptive.chunk_seconds <= MAX_SEGMENT):
                found["adaptive.chunk_seconds"] = (f"must be > 0 and at most {MAX_SEGMENT:g} "
                                                   f"seconds, not {self.adaptive.chunk_seconds:g}")
        if ("early_stop_db" not in found and self.early_stop_db is not None
                and not self.early_stop_db > 0):
            found["early_stop_db"] = "must be > 0 dB"
        sep = self.separator
        if not DEVICE_PATTERN.match(str(sep.device).strip().lower()):
            found["separator.device"] = f"must be auto, cpu, cuda, cuda:N or mps, not {sep.device!r}"
        if "separator.segment" not in found and sep.segment is not None:
            if not sep.segment > MIN_SEGMENT:
                found["separator.segment"] = f"must be longer than {MIN_SEGMENT:g} s"
            elif sep.segment > MAX_SEGMENT:
                found["separator.segment"] = f"must be at most {MAX_SEGMENT:g} s"
        if ("separator.overlap" not in found and sep.overlap is not None
                and not 0.0 <= sep.overlap < 1.0):
            found["separator.overlap"] = f"must be in [0, 1), not {sep.overlap:g}"
        if not 0 <= sep.shifts <= MAX_SHIFTS:
            found["separator.shifts"] = f"must be from 0 to {MAX_SHIFTS}"
        if (isinstance(sep.batch_chunks, bool) or not isinstance(sep.batch_chunks, int)
                or not 0 <= sep.batch_chunks <= MAX_BATCH_CHUNKS):
            found["separator.batch_chunks"] = (f"must be a whole number from 0 (auto) to "
                                               f"{MAX_BATCH_CHUNKS}, not {sep.batch_chunks!r}")
        if self.preset not in PRESETS:
            found["preset"] = f"must be one of {', '.join(PRESETS)}, not {self.preset!r}"
        elif (self.preset == "study" and self.mode != "add-sources"
              and (self.schedule != "linear" or self.beta_max != 1.0)):
            found["preset"] = ("study fixes β = n/N in add-to-mixture and oracle mode (as its "
                               "code does): drop --schedule and --beta-max")
        if sep.precision not in PRECISIONS:
            found["separator.precision"] = (f"must be one of {', '.join(PRECISIONS)}, "
                                            f"not {sep.precision!r}")
        return found

    def validate(self, sources: tuple[str, ...] | None = STEMS) -> RunConfig:
        """Return ``self``, or raise :class:`ConfigError` naming every invalid value in one line."""
        found = self.problems(sources)
        if found:
            raise ConfigError("; ".join(f"{FIELD_NAMES[k]} {why}" for k, why in found.items())
                              + ".")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """The config :meth:`to_dict` wrote, old names read (:func:`upgrade_config_dict`)."""
        data = upgrade_config_dict(data)
        adaptive = data.pop("adaptive", None)
        separator = data.pop("separator", None) or {}
        return cls(
            **data,
            adaptive=AdaptiveConfig(**adaptive) if adaptive else None,
            separator=SeparatorConfig(**separator),
        )
