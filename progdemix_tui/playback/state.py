"""What a UI reads of the :class:`~progdemix_tui.playback.player.Player`: one snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from .blind import BlindState
from .errors import AudioUnavailable


@dataclass(frozen=True)
class PlayerState:
    """A consistent snapshot for a UI (positions in seconds of the audio and in its samples).

    ``source`` is the selected source, or its blind label (``"X"``, ``"1"``...) while a blind
    test hides it; ``ab_side`` is ``"A"``/``"B"`` when the selection is one of the marked pair
    (None in blind mode).
    """

    status: str  # "stopped" | "playing" | "paused"
    position: float
    position_samples: int
    duration: float
    samplerate: int
    source: str | None
    a: str | None
    b: str | None
    ab_side: str | None
    level_match: bool
    gains: dict[str, float]
    loudness: dict[str, float]
    loop: tuple[float, float] | None
    loop_count: int
    volume: float
    crossfade: float
    blind: BlindState | None
    device: str | None
    stream_samplerate: int | None
    latency: float | None
    blocks: int
    underruns: int
    cache_misses: int
    error: AudioUnavailable | None
    output_url: str | None = None  # where to listen when the output is a page (the browser)
    listeners: int = 0  # pages connected to it
