"""The export screen: the selected step's target or all stems (WAV/FLAC) with the
manifest, or the A/B clips (level-matched, loop region) — handy without an audio device."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from progdemix_tui.engine.config import StemFormat

from ..paths import expand

WHAT = ("target", "all", "ab")


@dataclass(frozen=True)
class ExportRequest:
    what: str  # "target", "all" or "ab"
    fmt: StemFormat
    dest: Path


class ExportScreen(ModalScreen[ExportRequest | None]):
    """Choose what, format and folder; Enter or the button exports."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, title: str, dest: Path, target: str, ab_ready: bool) -> None:
        super().__init__()
        self.title_text = title
        self.dest = dest
        self.target = target
        self.ab_ready = ab_ready

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static(self.title_text, id="export-title", markup=False)
            with Horizontal(classes="export-row"):
                with RadioSet(id="export-what"):
                    yield RadioButton(f"target ({self.target})", value=True, id="what-target")
                    yield RadioButton("all stems", id="what-all")
                    yield RadioButton("A/B clips", id="what-ab", disabled=not self.ab_ready)
                with RadioSet(id="export-format"):
                    yield RadioButton("WAV", value=True, id="fmt-wav")
                    yield RadioButton("FLAC", id="fmt-flac")
            yield Label("to folder:")
            yield Input(str(self.dest), id="export-dest", compact=True)
            with Horizontal(classes="export-row"):
                yield Button("Export", id="export-go", variant="primary", compact=True)
                yield Button("Cancel", id="export-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#export-go", Button).focus()

    def request(self) -> ExportRequest:
        what = self.query_one("#export-what", RadioSet).pressed_button
        fmt = self.query_one("#export-format", RadioSet).pressed_button
        kind = (what.id or "what-target")[5:] if what else "target"
        chosen: StemFormat = "flac" if fmt is not None and fmt.id == "fmt-flac" else "wav"
        return ExportRequest(kind, chosen,
                             expand(self.query_one("#export-dest", Input).value.strip()
                                    or str(self.dest)))

    @on(Button.Pressed, "#export-go")
    @on(Input.Submitted, "#export-dest")
    def _go(self) -> None:
        self.dismiss(self.request())

    @on(Button.Pressed, "#export-cancel")
    def action_close(self) -> None:
        self.dismiss(None)
