"""Last-used parameters, persisted as JSON in the user's config folder.

The folder is ``$PROGDEMIX_TUI_CONFIG_DIR`` when set (tests use this), else
``$XDG_CONFIG_HOME/progdemix-tui``, else platformdirs' user config folder
(``~/.config/progdemix-tui`` on Linux). The file is ``settings.json``. Values are stored as
the text the user typed (numbers included), so an invalid value survives a restart and is
flagged again rather than silently replaced.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from progdemix_tui.engine.audio import write_text_atomic

APP_NAME = "progdemix-tui"
ENV_DIR = "PROGDEMIX_TUI_CONFIG_DIR"
FILE_NAME = "settings.json"

DEFAULTS: dict[str, str | bool] = {
    "model": "hdemucs_mmi",
    "model_path": "",
    "device": "auto",
    "target": "vocals",
    "steps": "10",
    "mode": "add-to-mixture",
    "schedule": "linear",
    "beta_max": "1.0",
    "adaptive_k": "0",
    "adaptive_score": "auto",
    "early_stop": "",
    "wiener": False,
    "loudness_match": False,
    "segment": "",
    "overlap": "0.25",
    "shifts": "0",
    "start": "0",
    "duration": "30",
    "out": "sessions",
    "stem_format": "flac",
}
"""Every parameter of the panel with its default (text for inputs, bool for checkboxes)."""

UI_DEFAULTS: dict[str, str] = {"theme": "textual-dark", "audio_device": ""}
"""UI preferences: the theme, and the audio output device (``--audio-device``: an index or a
name; empty = the default output)."""


def config_dir() -> Path:
    """Folder holding ``settings.json`` (see module docstring)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    if xdg:
        return Path(xdg).expanduser() / APP_NAME
    try:
        import platformdirs

        return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    except ImportError:  # pragma: no cover - platformdirs ships with most environments
        return Path.home() / ".config" / APP_NAME


def settings_path() -> Path:
    return config_dir() / FILE_NAME


@dataclass
class Settings:
    """Parameter values (``params``) and UI preferences (``ui``)."""

    params: dict[str, str | bool] = field(default_factory=lambda: dict(DEFAULTS))
    ui: dict[str, str] = field(default_factory=lambda: dict(UI_DEFAULTS))
    path: Path | None = None
    problem: str | None = None  # why the file could not be read, if it could not
    stored: set[str] = field(default_factory=set)  # params the file held (chosen earlier)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read settings, falling back to defaults for anything missing or malformed."""
        path = path or settings_path()
        out = cls(path=path)
        if not path.is_file():
            return out
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            out.problem = f"{path} is unreadable ({exc}); using defaults."
            return out
        params = data.get("params", {}) if isinstance(data, dict) else {}
        for key, default in DEFAULTS.items():
            value = params.get(key)
            if isinstance(default, bool) and isinstance(value, bool):
                out.params[key] = value
                out.stored.add(key)
            elif isinstance(default, str) and isinstance(value, (str, int, float)):
                out.params[key] = str(value)
                out.stored.add(key)
        ui = data.get("ui", {}) if isinstance(data, dict) else {}
        for key in UI_DEFAULTS:
            if isinstance(ui.get(key), (str, int)) and not isinstance(ui.get(key), bool):
                out.ui[key] = str(ui[key])
        return out

    def save(self) -> Path | None:
        """Write the settings atomically; returns None (and sets ``problem``) on failure."""
        path = self.path or settings_path()
        try:
            text = json.dumps({"params": self.params, "ui": self.ui}, indent=2) + "\n"
            return write_text_atomic(path, text)
        except Exception as exc:  # an unwritable config folder must not break the app
            self.problem = f"cannot save settings to {path} ({exc})."
            return None
