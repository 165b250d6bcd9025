"""Last-used parameters, persisted as JSON in the user's config folder.

The folder is ``$PROGDEMIX_TUI_CONFIG_DIR`` when set (tests use this), else
``$XDG_CONFIG_HOME/progdemix-tui``, else platformdirs' user config folder
(``~/.config/progdemix-tui`` on Linux). The file is ``settings.json``. Values are stored as
the text the user typed (numbers included), so an invalid value survives a restart and is
flagged again rather than silently replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from progdemix_tui.engine.files import write_text_atomic
from progdemix_tui.engine.options import OPTION, PANEL
from progdemix_tui.engine.userdirs import APP_NAME as APP_NAME
from progdemix_tui.engine.userdirs import CONFIG_ENV
from progdemix_tui.engine.userdirs import config_dir as config_dir

ENV_DIR = CONFIG_ENV  # re-exported: tests and the CLI set it

FILE_NAME = "settings.json"

DEFAULTS: dict[str, str | bool] = {option.name: option.panel_value for option in PANEL}
"""Every parameter of the panel with its default (text for inputs, bool for checkboxes), from
the option table (:mod:`progdemix_tui.engine.options`)."""

UI_DEFAULTS: dict[str, str] = {"theme": "textual-dark", "audio_device": ""}
"""UI preferences: the theme, and the audio output device (``--audio-device``: an index or a
name; empty = the default output)."""


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
    stand_ins: dict[str, tuple[str | bool, str | bool | None]] = field(default_factory=dict)
    """name: (value the app set for this session, the user's own value, None when the file
    held none), e.g. the offline fallback to ``demo``; see :meth:`to_save`."""

    def stand_in(self, name: str, value: str | bool) -> None:
        """Use ``value`` for ``name`` this session without saving it as the user's choice."""
        own = self.params.get(name) if name in self.stored else None
        self.stand_ins[name] = (value, own)
        self.params[name] = value

    def to_save(self) -> dict[str, str | bool]:
        """``params`` as written: a stand-in still in place is not saved (the user's own value,
        or nothing, is)."""
        out = dict(self.params)
        for name, (value, own) in self.stand_ins.items():
            if out.get(name) == value:
                if own is None:
                    out.pop(name, None)
                else:
                    out[name] = own
        return out

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read settings, falling back to defaults for anything missing or malformed.

        Never raises. Whatever could not be used (an unreadable file, invalid JSON, a folder
        where the file should be, values of the wrong type, unknown keys) is named in
        ``problem``, one line, which the app shows when it starts.
        """
        try:
            path = path or settings_path()
        except Exception as exc:  # a config folder platformdirs cannot work out
            out = cls()
            out.problem = f"cannot locate the settings file ({exc}); using defaults."
            return out
        out = cls(path=path)
        try:
            if not path.exists():
                return out
            if not path.is_file():
                out.problem = f"{path} is not a file; using defaults (nothing will be saved)."
                return out
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            why = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120] \
                or type(exc).__name__
            out.problem = (f"{path} is unreadable ({why}); using defaults "
                           "(it is rewritten when the app saves).")
            return out
        if not isinstance(data, dict):
            out.problem = (f"{path} does not hold a JSON object; using defaults "
                           "(it is rewritten when the app saves).")
            return out
        ignored = [_name(key) for key in data if key not in ("params", "ui")]
        params = _section(data, "params", ignored)
        for key, value in params.items():
            default = DEFAULTS.get(key)
            if isinstance(default, bool) and isinstance(value, bool):
                out.params[key] = value
                out.stored.add(key)
            elif isinstance(default, str) and isinstance(value, (str, int, float)) \
                    and not isinstance(value, bool):
                out.params[key] = str(OPTION[key].canonical(str(value)))  # old names read as new
                out.stored.add(key)
            else:
                ignored.append(f"params.{_name(key)}")
        ui = _section(data, "ui", ignored)
        for key, value in ui.items():
            if key in UI_DEFAULTS and isinstance(value, (str, int)) \
                    and not isinstance(value, bool):
                out.ui[key] = str(value)
            else:
                ignored.append(f"ui.{_name(key)}")
        if ignored:
            shown = ", ".join(ignored[:6]) + (f" and {len(ignored) - 6} more"
                                              if len(ignored) > 6 else "")
            out.problem = (f"{path}: ignored {shown} (unknown or of the wrong type); "
                           "using defaults for those.")
        return out

    def save(self) -> Path | None:
        """Write the settings atomically; returns None (and sets ``problem``) on failure."""
        path = self.path or settings_path()
        try:
            text = json.dumps({"params": self.to_save(), "ui": self.ui}, indent=2) + "\n"
            return write_text_atomic(path, text)
        except Exception as exc:  # an unwritable config folder must not break the app
            self.problem = f"cannot save settings to {path} ({exc})."
            return None


def _section(data: dict, name: str, ignored: list[str]) -> dict:
    """``data[name]`` if it is an object (else noted in ``ignored`` and empty)."""
    section = data.get(name, {})
    if isinstance(section, dict):
        return section
    ignored.append(name)
    return {}


def _name(key: str) -> str:
    """A key from the file as one short line."""
    text = " ".join(str(key).split())
    return text if len(text) <= 40 else text[:39] + "…"
