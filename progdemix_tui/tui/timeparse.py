"""Typed playback positions: ``83``, ``83.5``, ``1:23``, ``1:23.5``, ``1:02:03``, ``50%``.

No Textual here: :func:`parse_position` turns what the user typed into seconds (checked
against the audio's length) or raises :class:`PositionError` with one line saying why.
"""

from __future__ import annotations

import re

from progdemix_tui.formatting import fmt_time

EXAMPLES = "1:23, 83.5, 1:02:03 or 50%"
_SHORT = "e.g. 1:23, 83.5 or 50%"
END_SLACK = 0.05
"""Seconds past the end still accepted (and clamped): half the tenth the player bar shows,
so typing the length as displayed always works."""

_NUMBER = r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+"
_PERCENT = re.compile(rf"({_NUMBER})\s*%")
_CLOCK = re.compile(rf"(?:(?:([0-9]+):)?([0-9]+):)?({_NUMBER})")


class PositionError(ValueError):
    """A typed position that cannot be used; ``str()`` is the one line to show."""


def _cut(text: str) -> str:
    """What the user typed, cut to fit one line."""
    return text if len(text) <= 12 else text[:11] + "…"


def _echo(text: str) -> str:
    return repr(_cut(text))


def _clock_seconds(text: str) -> float:
    match = _CLOCK.fullmatch(text)
    if match is None:
        if text.startswith(("-", "+")):
            raise PositionError(f"{_echo(text)}: type an absolute position ([ ] seek ∓5 s)")
        raise PositionError(f"{_echo(text)} is not a position ({_SHORT})")
    hours, minutes, secs = match.groups()
    try:  # int() refuses more than 4300 digits (a paste gone wrong)
        h, m, seconds = int(hours or 0), int(minutes or 0), float(secs)
    except ValueError:
        raise PositionError(f"{_echo(text)} is not a position ({_SHORT})") from None
    if minutes is not None and seconds >= 60:
        raise PositionError(f"{_echo(text)}: seconds must be below 60 after minutes")
    if hours is not None and m >= 60:
        raise PositionError(f"{_echo(text)}: minutes must be below 60 after hours")
    return h * 3600 + m * 60 + seconds


def parse_position(text: str, duration: float | None = None) -> float:
    """Seconds for ``text`` (``SS``, ``SS.s``, ``M:SS``, ``M:SS.s``, ``H:MM:SS[.s]`` or a
    percentage of ``duration``), checked to lie within ``0..duration`` when it is given.

    Raises :class:`PositionError` with one line (e.g. "position 4:10 is past the end (3:12)").
    """
    text = text.strip()
    if not text:
        raise PositionError(f"type a position, {_SHORT}")
    percent = _PERCENT.fullmatch(text)
    if percent is not None:
        if duration is None:
            raise PositionError(f"{_echo(text)}: a percentage needs a loaded length")
        value = float(percent.group(1))
        if value > 100:
            raise PositionError(f"position {_cut(text)} is past the end (100%)")
        return duration * value / 100
    seconds = _clock_seconds(text)
    if duration is not None and seconds > duration + END_SLACK:
        raise PositionError(f"position {_cut(text)} is past the end "
                            f"({fmt_time(duration, trim=True)})")
    return seconds if duration is None else min(seconds, duration)
