"""The A/B difference map: the level of A − B (level-matched as the player plays them) per
half second, as one strip over time with the playhead under it; ``n`` moves the playhead
to the next largest difference. Computed in a thread, cached per A/B pair; no audio device
needed."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.widget import Widget

from progdemix_tui.formatting import fmt_time
from progdemix_tui.lru import LRU
from progdemix_tui.playback.difference import FLOOR_DB, DifferenceMap, difference_map
from progdemix_tui.playback.levels import match_levels

from ..audition import Cue, load_cue

BARS = " ▁▂▃▄▅▆▇█"
RANGE_DB = 60.0  # the strip shows the loudest difference and the 60 dB below it
CACHE = 16  # A/B pairs kept

Pair = tuple[Cue, Cue]


def cell_levels(levels_db: list[float], width: int) -> list[float]:
    """``levels_db`` squeezed (or stretched) to ``width`` cells, each the loudest of its
    windows: a short loud difference is never averaged away."""
    n = len(levels_db)
    out = []
    for c in range(width):
        lo = c * n // width
        hi = max(lo + 1, (c + 1) * n // width)
        out.append(max(levels_db[lo:hi]))
    return out


def level_color(fraction: float) -> str:
    """Dark blue (no difference) through yellow to red (the loudest), as ``#rrggbb``."""
    stops = ((0.0, (20, 30, 80)), (0.5, (230, 200, 40)), (1.0, (230, 40, 40)))
    f = min(max(fraction, 0.0), 1.0)
    for (f0, c0), (f1, c1) in zip(stops, stops[1:], strict=False):
        if f <= f1:
            t = (f - f0) / (f1 - f0)
            r, g, b = (round(x0 + (x1 - x0) * t) for x0, x1 in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#e62828"


class DiffStrip(Widget):
    """Three lines: what is shown, the strip, the playhead."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cache: LRU[Pair, DifferenceMap] = LRU(CACHE)
        self.pair: Pair | None = None
        self.error = ""
        self.visit = 0  # how many of the largest differences n has visited
        self.position = 0.0
        self.on_ready: Callable[[], None] | None = None

    @property
    def current(self) -> DifferenceMap | None:
        return self.cache.peek(self.pair) if self.pair is not None else None

    def show_pair(self, a: Cue, b: Cue, on_ready: Callable[[], None] | None = None) -> None:
        """Show A − B for these marks (computed in a thread unless cached); ``on_ready``
        runs once the map is there."""
        pair = (a, b)
        if pair != self.pair:
            self.pair, self.visit, self.error = pair, 0, ""
        self.on_ready = on_ready
        if self.cache.get(pair) is not None:  # get: now the most recent
            self._ready(pair)
        else:
            self.refresh_strip()
            self._compute(pair)

    @work(thread=True, exclusive=True, group="diff-map", exit_on_error=False)
    def _compute(self, pair: Pair) -> None:
        try:
            xa, rate = load_cue(pair[0])
            xb, rate_b = load_cue(pair[1])
            if rate != rate_b:
                raise ValueError(f"A is at {rate} Hz and B at {rate_b} Hz; mark two of one "
                                 "sample rate")
            dm = difference_map(xa, xb, rate, match_levels(xa, xb, rate))
        except Exception as exc:  # unreadable files: one line in the strip, the app goes on
            self.app.call_from_thread(self._failed, pair, f"cannot compute A − B: {exc}")
            return
        self.app.call_from_thread(self._store, pair, dm)

    def _store(self, pair: Pair, dm: DifferenceMap) -> None:
        self.cache.put(pair, dm)
        if pair == self.pair:
            self._ready(pair)

    def _ready(self, pair: Pair) -> None:
        self.refresh_strip()
        callback, self.on_ready = self.on_ready, None
        if callback is not None:
            callback()

    def _failed(self, pair: Pair, text: str) -> None:
        if pair == self.pair:
            self.error, self.on_ready = text, None
            self.refresh_strip()

    def next_largest(self) -> float | None:
        """The start (s) of the next largest difference not yet visited (then the largest
        again); None before the map is there."""
        dm = self.current
        if dm is None:
            return None
        ranked = dm.ranked()
        index = ranked[self.visit % len(ranked)]
        self.visit += 1
        return dm.start(index)

    def set_position(self, seconds: float) -> None:
        if abs(seconds - self.position) > 1e-6:
            self.position = seconds
            self.refresh_strip()

    def refresh_strip(self) -> None:
        """Repaint (the drawing is :meth:`render`, at the size of the moment)."""
        self.refresh()

    def render(self) -> Text:
        width = max(10, self.size.width or 80)
        dm = self.current
        if self.pair is None:
            return Text("A − B: mark A and B (a, b), then D shows where they differ")
        if dm is None:
            return Text(self.error or "A − B: computing…")
        values = [float(v) for v in dm.levels_db]
        top = max(values)
        bottom = top - RANGE_DB
        cells = cell_levels(values, width)
        strip = Text()
        for v in cells:
            f = 0.0 if v <= FLOOR_DB or v <= bottom else (v - bottom) / RANGE_DB
            strip.append(BARS[min(len(BARS) - 1, round(f * (len(BARS) - 1)))] or " ",
                         style=level_color(f))
        col = min(width - 1, int(self.position / dm.duration * width)) if dm.duration else 0
        head = Text(" " * col + "▲", style="bold")
        peak = dm.ranked()[0]
        details: tuple[str, ...] = ()
        if top > FLOOR_DB:  # what matters first; the details follow while they fit
            first = f"A−B loudest {top:.1f} dB at {fmt_time(dm.start(peak))} · n: next largest"
            details = (f"per {dm.window:g} s", f"bars span {RANGE_DB:g} dB",
                       dm.levels.describe())
        else:
            first = "A−B: identical (after level matching) · n: next largest"
        for detail in details:
            if len(first) + 3 + len(detail) > width:
                break
            first += f" · {detail}"
        label = Text(first, style="dim")
        label.truncate(width)
        return Text("\n").join([label, strip, head])
