"""Turning the parameter panel's text into a validated run plan (no Textual here).

:func:`parse` returns a :class:`RunPlan` or a dict ``field -> reason`` for every invalid
field, so the panel can flag each one inline and the app can block the run with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from progdemix_tui.engine.config import (
    ADAPTIVE_SCORES,
    MODES,
    SCHEDULES,
    STEMS,
    AdaptiveConfig,
    RunConfig,
    SeparatorConfig,
)
from progdemix_tui.engine.errors import ConfigError

DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
LABELS = {
    "model": "model", "model_path": "model path", "device": "device", "target": "target",
    "steps": "steps", "mode": "mode", "schedule": "schedule", "beta_max": "β max",
    "adaptive_k": "adaptive K", "adaptive_score": "adaptive score", "early_stop": "early stop",
    "wiener": "Wiener", "loudness_match": "loudness match", "segment": "segment",
    "overlap": "overlap", "shifts": "shifts", "start": "start", "duration": "duration",
    "out": "output folder", "stem_format": "stem format",
}


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs besides the input: the engine config, excerpt and output."""

    config: RunConfig
    start: float
    duration: float | None
    out: Path
    stem_format: str = "flac"

    @property
    def model(self) -> str:
        return self.config.separator.model


class _Invalid(ValueError):
    pass


def _int(text: str, lo: int, hi: int, what: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise _Invalid(f"{what} must be a whole number") from None
    if not lo <= value <= hi:
        raise _Invalid(f"{what} must be from {lo} to {hi}")
    return value


def _float(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise _Invalid(f"{what} must be a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _Invalid(f"{what} must be a finite number")
    return value


def _optional_float(text: str, what: str) -> float | None:
    return None if not str(text).strip() else _float(text, what)


def _check_field(name: str, values: dict) -> object:
    """Parse one field; raises :class:`_Invalid` with a short reason."""
    raw = values.get(name, "")
    text = raw if isinstance(raw, str) else str(raw)
    if name == "model":
        if not text.strip() and not str(values.get("model_path", "")).strip():
            raise _Invalid("choose a model or type a model path")
        return text.strip()
    if name == "model_path":
        path = text.strip()
        if path and path.endswith((".safetensors", ".th", ".pt", ".pth")) \
                and not Path(path).expanduser().is_file():
            raise _Invalid(f"no such model file: {path}")
        return path
    if name == "device":
        if not DEVICE_RE.match(text.strip().lower()):
            raise _Invalid("device must be auto, cpu, cuda, cuda:N or mps")
        return text.strip().lower()
    if name == "target":
        if text not in STEMS:
            raise _Invalid(f"target must be one of {', '.join(STEMS)}")
        return text
    if name == "steps":
        return _int(text, 0, 1000, "steps")
    if name == "mode":
        if text not in MODES:
            raise _Invalid(f"mode must be one of {', '.join(MODES)}")
        return text
    if name == "schedule":
        if text not in SCHEDULES:
            raise _Invalid(f"schedule must be one of {', '.join(SCHEDULES)}")
        return text
    if name == "beta_max":
        value = _float(text, "β max")
        if not 0.0 < value <= 1.0:
            raise _Invalid("β max must be in (0, 1]")
        return value
    if name == "adaptive_k":
        return _int(text or "0", 0, 32, "adaptive K (0 = off)")
    if name == "adaptive_score":
        if text not in ADAPTIVE_SCORES:
            raise _Invalid(f"adaptive score must be one of {', '.join(ADAPTIVE_SCORES)}")
        return text
    if name == "early_stop":
        value = _optional_float(text, "early stop")
        if value is not None and value <= 0:
            raise _Invalid("early stop must be > 0 dB (empty = off)")
        return value
    if name in ("wiener", "loudness_match"):
        return bool(raw)
    if name == "segment":
        value = _optional_float(text, "segment")
        if value is not None and value <= 0.1:
            raise _Invalid("segment must be longer than 0.1 s (empty = default)")
        return value
    if name == "overlap":
        value = _float(text, "overlap")
        if not 0.0 <= value < 1.0:
            raise _Invalid("overlap must be in [0, 1)")
        return value
    if name == "shifts":
        return _int(text, 0, 20, "shifts")
    if name == "start":
        value = _float(text or "0", "start")
        if value < 0:
            raise _Invalid("start must be ≥ 0 s")
        return value
    if name == "duration":
        value = _optional_float(text, "duration")
        if value is not None and value <= 0:
            raise _Invalid("duration must be > 0 s (empty = whole file)")
        return value
    if name == "out":
        if not text.strip():
            raise _Invalid("output folder must not be empty")
        return Path(text.strip()).expanduser()
    if name == "stem_format":
        if text not in ("flac", "wav"):
            raise _Invalid("stem format must be flac or wav")
        return text
    raise KeyError(name)


def field_error(name: str, values: dict) -> str | None:
    """The reason ``name`` is invalid in ``values``, or None when it is fine."""
    try:
        _check_field(name, values)
    except _Invalid as exc:
        return str(exc)
    return None


def parse(values: dict) -> RunPlan | dict[str, str]:
    """A :class:`RunPlan` from the panel's values, or ``{field: reason}`` for invalid ones.

    A problem that only the whole config reveals (``RunConfig.validate``) is reported under
    the key ``"config"``.
    """
    parsed: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name in LABELS:
        try:
            parsed[name] = _check_field(name, values)
        except _Invalid as exc:
            errors[name] = str(exc)
    if errors:
        return errors
    k = int(parsed["adaptive_k"])  # type: ignore[arg-type]
    adaptive = AdaptiveConfig(k, parsed["adaptive_score"]) if k > 0 else None  # type: ignore[arg-type]
    separator = SeparatorConfig(
        model=str(parsed["model_path"] or parsed["model"]), device=str(parsed["device"]),
        segment=parsed["segment"], overlap=float(parsed["overlap"]),  # type: ignore[arg-type]
        shifts=int(parsed["shifts"]))  # type: ignore[arg-type]
    try:
        config = RunConfig(
            target=str(parsed["target"]), steps=int(parsed["steps"]),  # type: ignore[arg-type]
            mode=parsed["mode"], schedule=parsed["schedule"],  # type: ignore[arg-type]
            beta_max=float(parsed["beta_max"]), adaptive=adaptive,  # type: ignore[arg-type]
            early_stop_db=parsed["early_stop"], wiener=bool(parsed["wiener"]),  # type: ignore[arg-type]
            loudness_match=bool(parsed["loudness_match"]), separator=separator,
        ).validate()
    except ConfigError as exc:
        return {"config": str(exc)}
    return RunPlan(config, float(parsed["start"]), parsed["duration"],  # type: ignore[arg-type]
                   parsed["out"], str(parsed["stem_format"]))  # type: ignore[arg-type]


def describe_errors(errors: dict[str, str]) -> str:
    """One line naming every invalid field and why."""
    return "; ".join(f"{LABELS.get(k, k)}: {v}" if k != "config" else v
                     for k, v in errors.items())
