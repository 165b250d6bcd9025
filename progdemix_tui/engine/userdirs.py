"""The user's config folder (settings, the cache key), for the engine and the TUI alike.

``$PROGDEMIX_TUI_CONFIG_DIR`` when set (tests use this), else ``$XDG_CONFIG_HOME/progdemix-tui``,
else platformdirs' user config folder (``~/.config/progdemix-tui`` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "progdemix-tui"
CONFIG_ENV = "PROGDEMIX_TUI_CONFIG_DIR"


def config_dir() -> Path:
    """The config folder (see the module docstring)."""
    env = os.environ.get(CONFIG_ENV)
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
