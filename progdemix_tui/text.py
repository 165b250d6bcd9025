"""Strings from files as the CLI and the TUI show them: control characters visible
(:func:`.engine.text.visible`) and Rich markup inert, so a name like ``[/bold]`` or
``ESC]52;…`` is shown as written and never styles, crashes or commands the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from progdemix_tui.engine.text import visible as visible

if TYPE_CHECKING:
    from rich.text import Text


def markup_safe(text: object) -> str:
    """``text`` for a Rich/Textual markup string: controls visible, markup escaped."""
    from rich.markup import escape

    return escape(visible(text))


def plain(text: object, style: str = "") -> Text:
    """``text`` as a Rich ``Text`` cell (never read as markup), controls visible."""
    from rich.text import Text

    return Text(visible(text), style=style)
