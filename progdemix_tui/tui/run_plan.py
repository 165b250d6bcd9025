"""The parameter panel's text turned into a validated run plan (no Textual here).

:func:`parse` returns a :class:`RunPlan` or a dict ``field -> reason`` for every invalid
field, so the panel can flag each one inline and the app can block the run with a reason.
The fields, their kinds and labels are the panel's rows of
:data:`progdemix_tui.engine.options.OPTIONS`. This module only turns text into typed values
and checks what the panel alone knows (model path, excerpt, output); ranges are the engine's
(:meth:`RunConfig.problems`), so the panel, the CLI and the engine never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from progdemix_tui.engine.config import (
    STEM_FORMATS,
    RunConfig,
    StemFormat,
    excerpt_problems,
    not_finite,
)
from progdemix_tui.engine.options import BY_FIELD, OPTION, PANEL, Option, Value, run_config

from .paths import expand, is_file


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs besides the input: the engine config, excerpt and output."""

    config: RunConfig
    start: float
    duration: float | None
    out: Path
    stem_format: StemFormat = "flac"

    @property
    def model(self) -> str:
        return self.config.separator.model

    def without_step0_cache(self) -> RunPlan:
        """This plan with the step-0 cache off (the TUI's ``--no-cache``)."""
        separator = replace(self.config.separator, cache=False)
        return replace(self, config=replace(self.config, separator=separator))


class _Invalid(ValueError):
    pass


def _typed(option: Option, raw: object) -> Value:
    """The panel's text for ``option`` as its kind; raises :class:`_Invalid` with a reason."""
    if option.kind == "flag":
        return bool(raw)
    text = (raw if isinstance(raw, str) else str(raw)).strip()
    if option.kind in ("text", "choice"):
        return text
    if option.kind == "optional float" and not text:
        return None
    if option.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise _Invalid(f"{option.label} must be a whole number") from None
    try:
        value = float(text)
    except ValueError:
        raise _Invalid(f"{option.label} must be a number") from None
    if not_finite(value):
        raise _Invalid(f"{option.label} must be a finite number")
    return value


def _panel_problems(v: dict[str, Value]) -> dict[str, str]:
    """What only the panel knows about: model choice, model file, excerpt, output."""
    found = {}
    path = str(v["model_path"])
    if not v["model"] and not path:
        found["model"] = "choose a model or type a model path"
    if path.endswith((".safetensors", ".th", ".pt", ".pth", ".ckpt")) \
            and not is_file(expand(path)):
        found["model_path"] = f"no such model file: {path}"
    config = str(v.get("model_config") or "").strip()
    if config and not is_file(expand(config)):
        found["model_config"] = f"no such config file: {config}"
    start, duration = v["start"], v["duration"]
    for name, why in excerpt_problems(start if isinstance(start, float) else 0.0,
                                      duration if isinstance(duration, float) else None).items():
        found[name] = f"{name} {why}" + (" (empty = whole file)" if name == "duration" else "")
    if not v["out"]:
        found["out"] = "output folder must not be empty"
    if v["stem_format"] not in STEM_FORMATS:
        found["stem_format"] = f"stem format must be {' or '.join(STEM_FORMATS)}"
    return found


def _config(v: dict[str, Value]) -> RunConfig:
    """The engine config of typed panel values: a model path overrides the model."""
    values = {name: value for name, value in v.items() if OPTION[name].field}
    values["model"] = v["model_path"] or v["model"]
    values["device"] = str(v["device"]).lower()
    return run_config(values)


# The panel's own defaults, typed: they stand in for a field that does not parse, so the
# other fields can still be checked.
_DEFAULT_TYPED: dict[str, Value] = {o.name: _typed(o, o.panel_value) for o in PANEL}


def _sources(config: RunConfig) -> tuple[str, ...] | None:
    """The stems the target must be one of: the model's where they can be read without
    loading it (None: the run checks it once the model is loaded)."""
    from progdemix_tui.engine.models import model_stems

    return model_stems(config.separator.model, config.separator.model_config or None)


def _check(values: dict) -> tuple[RunConfig, dict[str, Value], dict[str, str]]:
    """Typed values, the engine config built from them, and ``{field: reason}`` in panel order."""
    typed: dict[str, Value] = {}
    errors: dict[str, str] = {}
    for option in PANEL:
        try:
            typed[option.name] = _typed(option, values.get(option.name, ""))
        except _Invalid as exc:
            errors[option.name] = str(exc)
            typed[option.name] = _DEFAULT_TYPED[option.name]  # the others can still be checked
    config = _config(typed)
    for key, why in config.problems(_sources(config)).items():
        option = BY_FIELD[key]
        errors.setdefault(option.name, f"{option.label} {why}{option.hint}")
    for name, why in _panel_problems(typed).items():
        errors.setdefault(name, why)
    return config, typed, {o.name: errors[o.name] for o in PANEL if o.name in errors}


def field_errors(values: dict) -> dict[str, str]:
    """``{field: reason}`` for every invalid field of the panel's ``values``."""
    return _check(values)[2]


def parse(values: dict) -> RunPlan | dict[str, str]:
    """A :class:`RunPlan` from the panel's values, or ``{field: reason}`` for invalid ones."""
    config, typed, errors = _check(values)
    if errors:
        return errors
    start, duration = typed["start"], typed["duration"]
    return RunPlan(config, float(start or 0.0), None if duration is None else float(duration),
                   expand(str(typed["out"])), cast(StemFormat, typed["stem_format"]))


def describe_errors(errors: dict[str, str]) -> str:
    """One line naming every invalid field and why."""
    return "; ".join(errors.values())
