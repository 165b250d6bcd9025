"""The web speaker's page → server messages, checked before use.

A page sends JSON text: ``{"type": "pull", "n": BLOCKS}``, ``{"type": "ping", "t": MS}`` and
``{"type": "stats", ...}``. :func:`parse` turns one into a typed message or raises
:class:`BadMessage` (wrong JSON, type, non-finite or out-of-range number); the server ignores
a bad message, so nothing a page sends can raise in the server.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

MAX_PULL = 64  # blocks one request may ask for (a hostile page cannot inflate it further)
MAX_MS = 1e7  # a buffer or latency above this (about 3 hours) is not a measurement
MAX_COUNT = 2 ** 53  # counters as a page's JavaScript numbers can hold them exactly


class BadMessage(ValueError):
    """A message from a page that is not one the protocol knows; ignored by the server."""


@dataclass(frozen=True)
class ListenerStats:
    """What one page last reported: its buffer, the latency it measured, its underruns."""

    buffer_ms: float = 0.0
    latency_ms: float | None = None
    underruns: int = 0
    consumed: int = 0


@dataclass(frozen=True)
class Pull:
    """The page wants ``n`` more blocks (asked for up to MAX_COUNT, served up to MAX_PULL)."""

    n: int


@dataclass(frozen=True)
class Ping:
    """A round-trip probe; ``t`` is echoed back in a pong."""

    t: float


Message = Pull | Ping | ListenerStats


def _number(data: dict[str, object], key: str, lo: float, hi: float, *, integer: bool,
            default: float | None = None) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadMessage(f"{key} is not a number")
    if integer and not (isinstance(value, int) or (math.isfinite(value) and value.is_integer())):
        raise BadMessage(f"{key} is not a whole number")
    if not (math.isfinite(value) and lo <= value <= hi):
        raise BadMessage(f"{key} is out of range")
    return value


def parse(text: str) -> Message:
    """The message in ``text``; :class:`BadMessage` for anything else."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadMessage("not JSON") from exc
    if not isinstance(data, dict):
        raise BadMessage("not a JSON object")
    kind = data.get("type")
    if kind == "pull":
        return Pull(min(int(_number(data, "n", 1, MAX_COUNT, integer=True)), MAX_PULL))
    if kind == "ping":
        return Ping(float(_number(data, "t", -MAX_COUNT, MAX_COUNT, integer=False)))
    if kind == "stats":
        latency = data.get("latency_ms")
        return ListenerStats(
            buffer_ms=float(_number(data, "buffer_ms", 0, MAX_MS, integer=False, default=0)),
            latency_ms=None if latency is None else float(
                _number(data, "latency_ms", 0, MAX_MS, integer=False)),
            underruns=int(_number(data, "underruns", 0, MAX_COUNT, integer=True, default=0)),
            consumed=int(_number(data, "consumed", 0, MAX_COUNT, integer=True, default=0)))
    raise BadMessage(f"unknown message type {str(kind)[:20]!r}")
