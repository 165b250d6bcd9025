"""Turning the parameter panel's text into a validated run plan (no Textual here).

:func:`parse` returns a :class:`RunPlan` or a dict ``field -> reason`` for every invalid
field, so the panel can flag each one inline and the app can block the run with a reason.
This module only turns text into typed values and checks what the panel alone knows (model
path, excerpt, output); ranges are the engine's (:meth:`RunConfig.problems`), so the panel,
the CLI and the engine never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from progdemix_tui.engine.config import AdaptiveConfig, RunConfig, SeparatorConfig, not_finite

from .paths import expand, is_file
from .settings import DEFAULTS

LABELS = {
    "model": "model", "model_path": "model path", "device": "device", "target": "target",
    "steps": "steps", "mode": "mode", "schedule": "schedule", "beta_max": "β max",
    "adaptive_k": "adaptive K", "adaptive_score": "adaptive score", "early_stop": "early stop",
    "wiener": "Wiener", "loudness_match": "loudness match", "segment": "segment",
    "overlap": "overlap", "shifts": "shifts", "start": "start", "duration": "duration",
    "out": "output folder", "stem_format": "stem format",
}
# RunConfig.problems() field -> panel field
ENGINE_FIELDS = {
    "target": "target", "steps": "steps", "mode": "mode", "schedule": "schedule",
    "beta_max": "beta_max", "adaptive.candidates": "adaptive_k",
    "adaptive.score": "adaptive_score", "early_stop_db": "early_stop",
    "separator.device": "device", "separator.segment": "segment",
    "separator.overlap": "overlap", "separator.shifts": "shifts",
}
HINTS = {"adaptive_k": " (0 = off)", "early_stop": " (empty = off)",
         "segment": " (empty = default)"}
TYPES = {"steps": "int", "adaptive_k": "int", "shifts": "int", "beta_max": "float",
         "overlap": "float", "early_stop": "float?", "segment": "float?", "start": "float?",
         "duration": "float?", "wiener": "bool", "loudness_match": "bool"}


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


def _typed(name: str, raw: object) -> object:
    """The panel's text for ``name`` as its type; raises :class:`_Invalid` with a reason."""
    kind = TYPES.get(name, "str")
    if kind == "bool":
        return bool(raw)
    text = (raw if isinstance(raw, str) else str(raw)).strip()
    what = LABELS[name]
    if kind == "str":
        return text
    if kind.endswith("?") and not text:
        return None
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise _Invalid(f"{what} must be a whole number") from None
    try:
        value = float(text)
    except ValueError:
        raise _Invalid(f"{what} must be a number") from None
    if not_finite(value):
        raise _Invalid(f"{what} must be a finite number")
    return value


def _panel_problems(v: dict[str, object]) -> dict[str, str]:
    """What only the panel knows about: model choice, model file, excerpt, output."""
    found = {}
    path = str(v["model_path"])
    if not v["model"] and not path:
        found["model"] = "choose a model or type a model path"
    if path.endswith((".safetensors", ".th", ".pt", ".pth")) and not is_file(expand(path)):
        found["model_path"] = f"no such model file: {path}"
    if v["start"] is not None and v["start"] < 0:  # type: ignore[operator]
        found["start"] = "start must be ≥ 0 s"
    if v["duration"] is not None and not v["duration"] > 0:  # type: ignore[operator]
        found["duration"] = "duration must be > 0 s (empty = whole file)"
    if not v["out"]:
        found["out"] = "output folder must not be empty"
    if v["stem_format"] not in ("flac", "wav"):
        found["stem_format"] = "stem format must be flac or wav"
    return found


def _config(v: dict[str, object]) -> RunConfig:
    k = int(v["adaptive_k"] or 0)  # type: ignore[call-overload]
    separator = SeparatorConfig(
        model=str(v["model_path"] or v["model"]), device=str(v["device"]).lower(),
        segment=v["segment"], overlap=v["overlap"], shifts=v["shifts"])  # type: ignore[arg-type]
    return RunConfig(
        target=str(v["target"]), steps=v["steps"], mode=v["mode"],  # type: ignore[arg-type]
        schedule=v["schedule"], beta_max=v["beta_max"],  # type: ignore[arg-type]
        adaptive=AdaptiveConfig(k, v["adaptive_score"]) if k else None,  # type: ignore[arg-type]
        early_stop_db=v["early_stop"], wiener=bool(v["wiener"]),  # type: ignore[arg-type]
        loudness_match=bool(v["loudness_match"]), separator=separator)


# The panel's own defaults, typed: they stand in for a field that does not parse, so the
# other fields can still be checked.
_DEFAULT_TYPED: dict[str, object] = {name: _typed(name, DEFAULTS[name]) for name in LABELS}


def _check(values: dict) -> tuple[RunConfig, dict[str, object], dict[str, str]]:
    """Typed values, the engine config built from them, and ``{field: reason}`` in panel order."""
    typed: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name in LABELS:
        try:
            typed[name] = _typed(name, values.get(name, ""))
        except _Invalid as exc:
            errors[name] = str(exc)
            typed[name] = _DEFAULT_TYPED[name]  # so the other fields can still be checked
    config = _config(typed)
    for key, why in config.problems().items():
        name = ENGINE_FIELDS[key]
        errors.setdefault(name, f"{LABELS[name]} {why}{HINTS.get(name, '')}")
    for name, why in _panel_problems(typed).items():
        errors.setdefault(name, why)
    return config, typed, {name: errors[name] for name in LABELS if name in errors}


def field_errors(values: dict) -> dict[str, str]:
    """``{field: reason}`` for every invalid field of the panel's ``values``."""
    return _check(values)[2]


def parse(values: dict) -> RunPlan | dict[str, str]:
    """A :class:`RunPlan` from the panel's values, or ``{field: reason}`` for invalid ones."""
    config, typed, errors = _check(values)
    if errors:
        return errors
    return RunPlan(config, float(typed["start"] or 0.0), typed["duration"],  # type: ignore[arg-type]
                   expand(str(typed["out"])), str(typed["stem_format"]))


def describe_errors(errors: dict[str, str]) -> str:
    """One line naming every invalid field and why."""
    return "; ".join(errors.values())
