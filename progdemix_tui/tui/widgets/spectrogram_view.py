"""The spectrogram view: the selected step's selected source (estimate, y_n, residual…),
log-frequency, drawn with half-block characters (two bands per row) in true colour; Rich
renders the same colours in 256 where the terminal has no more. A playhead column marks
the player's position. Computed in a thread, cached per cue (step, stem, source)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.strip import Strip
from textual.widget import Widget

from progdemix_tui.engine.spectrogram import Spectrogram, spectrogram
from progdemix_tui.lru import LRU

from ..audition import Cue, load_cue

RANGE_DB = 80.0  # the loudest cell and the 80 dB below it
CACHE = 16  # cues kept
STOPS = ((0.0, (0, 0, 4)), (0.25, (80, 18, 123)), (0.5, (182, 54, 121)),
         (0.75, (251, 136, 97)), (1.0, (252, 253, 191)))  # magma


def heat(fraction: float) -> tuple[int, int, int]:
    """``fraction`` (0 quiet … 1 loudest) on the magma colour map."""
    f = min(max(fraction, 0.0), 1.0)
    for (f0, c0), (f1, c1) in zip(STOPS, STOPS[1:], strict=False):
        if f <= f1:
            t = (f - f0) / (f1 - f0)
            r, g, b = (round(a + (z - a) * t) for a, z in zip(c0, c1, strict=True))
            return r, g, b
    return STOPS[-1][1]


STEPS = 64  # colour levels: styles are made once per pair of levels


@lru_cache(maxsize=4 * STEPS * STEPS)
def half_block(up: int, down: int, playhead: bool = False) -> Style:
    """The style of a cell whose upper half is level ``up`` and lower ``down`` (0–STEPS)."""
    below = "rgb({},{},{})".format(*heat(down / STEPS))
    if playhead:
        return Style(color="white", bgcolor=below, bold=True)
    return Style(color="rgb({},{},{})".format(*heat(up / STEPS)), bgcolor=below)


def _pool(db: np.ndarray, count: int, axis: int) -> np.ndarray:
    """``db`` squeezed (or stretched) to ``count`` along ``axis``, each the loudest of its
    group: a short or narrow loud part is never averaged away."""
    n = db.shape[axis]
    groups = []
    for k in range(count):
        lo = k * n // count
        hi = max(lo + 1, (k + 1) * n // count)
        groups.append(np.take(db, range(lo, min(hi, n)), axis=axis).max(axis=axis))
    return np.stack(groups, axis=axis)


def cells(spec: Spectrogram, width: int, rows: int) -> np.ndarray:
    """``[2·rows, width]`` levels (0–1, 1 the loudest), top row the highest bands."""
    pooled = _pool(_pool(spec.db, width, 1), 2 * rows, 0)[::-1]
    top = float(pooled.max())
    return np.clip((pooled - (top - RANGE_DB)) / RANGE_DB, 0.0, 1.0)


def fmt_hz(hz: float) -> str:
    return f"{hz / 1000:.0f} kHz" if hz >= 1000 else f"{hz:.0f} Hz"


class SpectrogramView(Widget):
    """A title line, then the spectrogram; fills its height."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cache: LRU[Cue, Spectrogram] = LRU(CACHE)
        self.cue: Cue | None = None
        self.error = ""
        self.position = 0.0
        self._cached: tuple[tuple, list[Strip]] | None = None

    @property
    def current(self) -> Spectrogram | None:
        return self.cache.peek(self.cue) if self.cue is not None else None

    def show_cue(self, cue: Cue | None) -> None:
        """Show ``cue``'s spectrogram (computed in a thread unless cached)."""
        self.cue, self.error = cue, ""
        if cue is not None and self.cache.get(cue) is None:  # get: now the most recent
            self._compute(cue)
        self.refresh_view()

    @work(thread=True, exclusive=True, group="spectrogram", exit_on_error=False)
    def _compute(self, cue: Cue) -> None:
        try:
            samples, rate = load_cue(cue)
            spec = spectrogram(samples, rate)
        except Exception as exc:  # unreadable files: one line in the view, the app goes on
            self.app.call_from_thread(self._failed, cue, f"no spectrogram: {exc}")
            return
        self.app.call_from_thread(self._store, cue, spec)

    def _store(self, cue: Cue, spec: Spectrogram) -> None:
        self.cache.put(cue, spec)
        if cue == self.cue:
            self.refresh_view()

    def _failed(self, cue: Cue, text: str) -> None:
        if cue == self.cue:
            self.error = text
            self.refresh_view()

    def set_position(self, seconds: float) -> None:
        if abs(seconds - self.position) > 1e-6:
            self.position = seconds
            self.refresh_view()

    def refresh_view(self) -> None:
        """Repaint (the drawing is :meth:`render`, at the size of the moment)."""
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """Line API: the strips are built once per (cue, size, playhead column) and
        reused, so a relayout or a repaint costs no more than copying them."""
        lines = self._strips()
        return lines[y] if y < len(lines) else Strip.blank(self.size.width)

    def _strips(self) -> list[Strip]:
        width = max(10, self.size.width or 80)
        rows = max(1, (self.size.height or 8) - 1)
        spec = self.current
        col = min(width - 1, int(self.position / spec.duration * width)) \
            if spec is not None and spec.duration else 0
        key = (self.cue, id(spec), self.error, width, rows, col)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        strips = [self._text_strip(line, width) for line in self._head(spec)] \
            if spec is None else [self._text_strip(self._head(spec)[0], width)]
        if spec is not None:
            levels = (cells(spec, width, rows) * STEPS).round().astype(int)
            for r in range(rows):
                segments = [Segment("┃" if c == col else "▀",
                                    half_block(int(levels[2 * r, c]), int(levels[2 * r + 1, c]),
                                               c == col)) for c in range(width)]
                strips.append(Strip(segments, width).simplify())
        self._cached = (key, strips)
        return strips

    def _head(self, spec: Spectrogram | None) -> list[Text]:
        if self.cue is None:
            return [Text("spectrogram: select a step in the timeline (t, ↑/↓)")]
        name = self.cue.describe()
        if spec is None:
            return [Text(self.error or f"spectrogram of {name}: computing…")]
        if self.cue.source == "estimate":  # the other sources name themselves
            name += " estimate"
        return [Text(f"{name} · {fmt_hz(spec.edges_hz[0])}–"
                     f"{fmt_hz(spec.edges_hz[-1])} log · {RANGE_DB:g} dB · ┃ playhead",
                     style="dim")]

    def _text_strip(self, text: Text, width: int) -> Strip:
        text.truncate(width, overflow="ellipsis")
        segments = Segment.apply_style(text.render(self.app.console), self.rich_style)
        return Strip(list(segments)).adjust_cell_length(width, self.rich_style)
