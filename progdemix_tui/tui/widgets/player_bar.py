"""Player bar: the selection, A and B marks, what plays, position, loop, blind mode.

It keeps the A/B state and drives an audio backend (see :mod:`..audition`). Without an
audio device it says so once and keeps working: marks, loop and A/B clip export still do.
"""

from __future__ import annotations

import random

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ..audition import Cue, NullBackend


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--.-"
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{secs:04.1f}"


class PlayerBar(Vertical):
    """Two lines: the marks and transport state, then the selection and messages."""

    def __init__(self, backend=None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.backend = backend or NullBackend()
        self.selection: Cue | None = None
        self.a: Cue | None = None
        self.b: Cue | None = None
        self.active = "A"
        self.playing = False
        self.position = 0.0
        self.duration: float | None = None
        self.loop: tuple[float, float] | None = None
        self.loop_start: float | None = None
        self.blind = False
        self._swap = False
        self.gain_b_db: float | None = None
        self.message = "" if self.backend.available else f"{self.backend.reason}: " \
            "marks work; export A/B clips with e"

    def compose(self) -> ComposeResult:
        yield Static("", id="player-line", markup=False)
        yield Static("", id="player-status", markup=False)

    def on_mount(self) -> None:
        self.call_after_refresh(self.refresh_bar)

    # ------------------------------------------------------------------ state changes

    def select(self, cue: Cue | None) -> None:
        self.selection = cue
        self.refresh_bar()

    def mark(self, which: str) -> Cue | None:
        """Mark the selection as A or B; returns the marked cue."""
        if self.selection is None:
            self.say("select a step in the timeline first")
            return None
        if which == "A":
            self.a = self.selection
        else:
            self.b = self.selection
        self.gain_b_db = None
        self.refresh_bar()
        return self.selection

    def toggle_ab(self) -> str:
        self.active = "B" if self.active == "A" else "A"
        self._safe(self.backend.select, self.active)
        self.refresh_bar()
        return self.active

    def toggle_play(self) -> bool:
        if self.a is None and self.b is None and self.selection is None:
            self.say("nothing to play: select a step, mark it with a or b")
            return False
        if self.a is None and self.b is None:
            self.say("mark A (a) and/or B (b) to play")
            return False
        self.playing = not self.playing
        try:
            if self.playing:
                self.backend.play()
            else:
                self.backend.pause()
        except Exception as exc:  # AudioUnavailable and friends: say it, keep working
            self.playing = False
            self.say(f"no sound: {str(exc).splitlines()[0][:120]} — export A/B clips with e")
            return False
        if not self.backend.available:
            self.say(f"{self.backend.reason}: nothing sounds; export A/B clips with e")
        self.refresh_bar()
        return self.playing

    def seek(self, delta: float) -> None:
        top = self.duration if self.duration is not None else float("inf")
        self.position = min(max(0.0, self.position + delta), top)
        self._safe(self.backend.seek, self.position)
        self.refresh_bar()

    def toggle_loop(self) -> None:
        """First press: loop start here; second: loop end here; third: clear."""
        if self.loop is not None:
            self.loop, self.loop_start = None, None
        elif self.loop_start is None:
            self.loop_start = self.position
        else:
            lo, hi = sorted((self.loop_start, self.position))
            if hi - lo < 0.1:
                hi = lo + 5.0
            self.loop, self.loop_start = (lo, hi), None
        self._safe(self.backend.set_loop, self.loop)
        self.refresh_bar()

    def toggle_blind(self) -> str:
        self.blind = not self.blind
        if self.blind:
            self._swap = random.random() < 0.5
            text = "blind mode: A and B are now X and Y (x toggles); m reveals"
        else:
            x_is = "B" if self._swap else "A"
            text = f"blind mode off: X was {x_is}"
        self.say(text)
        return text

    def _safe(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a device error must not take the app down
            self.say(f"audio: {str(exc).splitlines()[0][:120] if str(exc) else exc!r}")

    def say(self, text: str) -> None:
        self.message = text
        self.refresh_bar()

    def tick(self) -> None:
        """Poll the backend's position while playing."""
        try:
            pos = self.backend.position()
        except Exception:  # the device went away; keep the last position
            return
        if pos is not None and abs(pos - self.position) > 0.05:
            self.position = pos
            self.refresh_bar()

    # ------------------------------------------------------------------ rendering

    def _shown(self, which: str) -> str:
        if not self.blind:
            return which
        return "X" if (which == "A") != self._swap else "Y"

    def _mark_text(self, which: str, cue: Cue | None) -> str:
        name = self._shown(which)
        if self.blind:
            return f"{name}: ?" if cue else f"{name}: —"
        return f"{name}: {cue.describe() if cue else '—'}"

    def refresh_bar(self) -> None:
        if not self.is_mounted:
            return
        state = "▶" if self.playing else "⏸"
        active = self._shown(self.active)
        loop = ""
        if self.loop is not None:
            loop = f" ⟳{clock(self.loop[0])}–{clock(self.loop[1])}"
        elif self.loop_start is not None:
            loop = f" ⟳{clock(self.loop_start)}–…"
        gain = ""
        if self.gain_b_db is not None and not self.blind:
            gain = f" B{self.gain_b_db:+.1f}dB"
        line = (f"{state} {active} {clock(self.position)}{loop}  "
                f"{self._mark_text('A', self.a)} │ {self._mark_text('B', self.b)}{gain}")
        self.query_one("#player-line", Static).update(line)
        sel = f"sel: {self.selection.describe()}" if self.selection else "sel: —"
        status = f"{sel}  {self.message}" if self.message else sel
        self.query_one("#player-status", Static).update(status)
