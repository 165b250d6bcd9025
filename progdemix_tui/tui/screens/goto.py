"""The go-to-time screen: type a position (``1:23``, ``83.5``, ``50%``…), Enter seeks there.

A position that cannot be used keeps the screen open with one line saying why.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from progdemix_tui.formatting import fmt_time

from ..timeparse import EXAMPLES, PositionError, parse_position


class GotoScreen(ModalScreen[float | None]):
    """Ask for a position in ``0..duration`` seconds; dismissed with it, or None (Esc)."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, duration: float, position: float,
                 loop: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.duration = duration
        self.position = position
        self.loop = loop

    def compose(self) -> ComposeResult:
        position, duration = fmt_time(self.position, trim=True), fmt_time(self.duration, trim=True)
        now = f"go to time — now {position} of {duration}"
        if self.loop is not None:
            lo, hi = self.loop
            region = f"{fmt_time(lo, trim=True)}–{fmt_time(hi, trim=True)}"
            hint = f"outside the loop {region} clears it · Esc closes"
        else:
            hint = "Enter goes there · Esc closes"
        with Vertical(id="goto-box"):
            yield Static(now, id="goto-title", markup=False)
            yield Input(placeholder=EXAMPLES, id="goto-input", compact=True)
            yield Static("", id="goto-error", markup=False)
            yield Static(hint, id="goto-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#goto-input", Input).focus()

    @on(Input.Changed, "#goto-input")
    def _typing(self) -> None:
        self.query_one("#goto-error", Static).update("")

    @on(Input.Submitted, "#goto-input")
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            seconds = parse_position(event.value, self.duration)
        except PositionError as exc:
            self.query_one("#goto-error", Static).update(str(exc))
            return
        self.dismiss(seconds)

    def action_close(self) -> None:
        self.dismiss(None)
