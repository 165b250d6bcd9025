"""The progdemix-tui engine: audio io, models, separation, the progressive loop, metrics and
sessions. It never imports Textual or Rich, so it can be used and tested alone.

Typical use::

    from progdemix_tui import engine
    cfg = engine.RunConfig(target="vocals", steps=4, separator=engine.SeparatorConfig(model="demo"))
    sep = engine.Separator.from_config(cfg.separator)
    inp = engine.load_input("song/", sep.samplerate, sep.sources, duration=30)
    for result in engine.run_session(sep, inp, cfg, "sessions/song"):
        print(result.metrics)
"""

import importlib
from typing import TYPE_CHECKING

# Public name -> submodule. Names load on first use (PEP 562), so ``import
# progdemix_tui.engine.errors`` or ``.config`` does not pull in torch and demucs.
_EXPORTS = {
    "config": ("ADAPTIVE_SCORES", "MODES", "SCHEDULES", "STEMS", "AdaptiveConfig", "Mode",
               "RunConfig", "ScheduleName", "SeparatorConfig"),
    "errors": ("AudioInputError", "Cancelled", "ConfigError", "DeviceError", "ModelUnavailable",
               "OutputError", "ProgdemixError", "ReferencesRequired", "UntrustedCheckpoint"),
    "job": ("CheckedRun", "check_run", "model_description", "run_session"),
    "models": ("DEFAULT_MODEL", "LoadedModel", "ModelStatus", "list_models", "load_model",
               "model_status"),
    "progressive": ("IterationResult", "StepMetrics", "iterate"),
    "schedules": ("beta", "betas"),
    "separator": ("Separator", "SeparatorCache"),
    "session": ("Session", "SessionSummary", "SessionWriter", "check_output_folder",
                "list_sessions", "open_session"),
    "tracks": ("InputInfo", "PreparedInput", "inspect_input", "is_track_folder", "load_input"),
}
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "ADAPTIVE_SCORES", "AdaptiveConfig", "AudioInputError", "Cancelled", "CheckedRun",
    "ConfigError", "DEFAULT_MODEL", "DeviceError", "InputInfo", "IterationResult", "LoadedModel",
    "MODES", "Mode", "ModelStatus", "ModelUnavailable", "OutputError", "PreparedInput",
    "ProgdemixError", "ReferencesRequired", "RunConfig", "SCHEDULES", "STEMS", "ScheduleName",
    "Separator", "SeparatorCache", "SeparatorConfig", "Session", "SessionSummary", "SessionWriter",
    "StepMetrics", "UntrustedCheckpoint", "beta", "betas", "check_output_folder", "check_run",
    "inspect_input", "is_track_folder", "iterate", "list_models", "list_sessions",
    "load_input", "load_model", "model_description", "model_status", "open_session", "run_session",
]


def __getattr__(name: str) -> object:
    module = _SOURCE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load lazily
    from .config import (
        ADAPTIVE_SCORES,
        MODES,
        SCHEDULES,
        STEMS,
        AdaptiveConfig,
        Mode,
        RunConfig,
        ScheduleName,
        SeparatorConfig,
    )
    from .errors import (
        AudioInputError,
        Cancelled,
        ConfigError,
        DeviceError,
        ModelUnavailable,
        OutputError,
        ProgdemixError,
        ReferencesRequired,
        UntrustedCheckpoint,
    )
    from .job import CheckedRun, check_run, model_description, run_session
    from .models import (
        DEFAULT_MODEL,
        LoadedModel,
        ModelStatus,
        list_models,
        load_model,
        model_status,
    )
    from .progressive import IterationResult, StepMetrics, iterate
    from .schedules import beta, betas
    from .separator import Separator, SeparatorCache
    from .session import (
        Session,
        SessionSummary,
        SessionWriter,
        check_output_folder,
        list_sessions,
        open_session,
    )
    from .tracks import InputInfo, PreparedInput, inspect_input, is_track_folder, load_input
