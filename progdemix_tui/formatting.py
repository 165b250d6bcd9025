"""Numbers as the tables show them, shared by the CLI and the TUI (no dependencies)."""

from __future__ import annotations


def fmt_number(value: float | None, signed: bool = False, digits: int = 2) -> str:
    """``value`` to ``digits`` decimals (with a sign when ``signed``); ``n/a`` for None, the
    engine's mark of an undefined metric."""
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def fmt_time(seconds: float | None, *, trim: bool = False) -> str:
    """A duration or position as a clock, to the tenth of a second: ``M:SS.s`` with minutes
    past 59 (``0:10.0``, ``61:40.0``; the player bar's width does not jump), ``-:--.-`` for
    None (not known yet). ``trim``: ``M:SS`` or ``H:MM:SS``, with tenths only when they are
    not zero (``3:12``, ``0:01.5``, ``1:02:03``: what go-to-time reads back).
    """
    if seconds is None:
        return "-:--.-"
    minutes, rest = divmod(round(max(0.0, seconds) * 10), 600)
    secs, tenth = divmod(rest, 10)
    if not trim:
        return f"{minutes}:{secs:02d}.{tenth}"
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{text}.{tenth}" if tenth else text
