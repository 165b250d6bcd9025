"""The export screen: the selected step's target, the target and its accompaniment
(``no_<target>`` = mixture − target), or all stems (the song's: see
:mod:`progdemix_tui.engine.export`) in the formats of the
``export`` command (:data:`~progdemix_tui.engine.export.EXPORT_FORMATS`), or the A/B clips
(level-matched, loop region, in the chosen format) — handy without an audio
device."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from progdemix_tui.engine.export import EXPORT_FORMATS, ExportFormat
from progdemix_tui.text import visible

from ..paths import expand

WHAT = ("target", "two", "all", "ab")


class Choice(RadioButton):
    """A radio button that reads without colour: ``(•)`` chosen, ``( )`` not."""

    @property
    def _button(self) -> Content:
        mark = "•" if self.value else " "
        return Content.assemble("(", (mark, self.get_visual_style("toggle--button")), ")")


class Choices(RadioSet, inherit_bindings=False):
    """A radio set where the arrow keys choose (as in most dialogs); Enter is the screen's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down,right", "step(1)", "Next choice", show=False),
        Binding("up,left", "step(-1)", "Previous choice", show=False),
    ]

    def action_step(self, direction: int) -> None:
        """Move to the next (previous) enabled choice and choose it."""
        if direction > 0:
            self.action_next_button()
        else:
            self.action_previous_button()
        if self._selected is not None:
            button = self._nodes[self._selected]
            if isinstance(button, RadioButton) and not button.value:
                button.value = True


@dataclass(frozen=True)
class ExportRequest:
    what: str  # "target", "two" (target and no_target), "all" or "ab"
    fmt: ExportFormat
    dest: Path


class ExportScreen(ModalScreen[ExportRequest | None]):
    """Choose what, format and folder; Enter or the button exports. Focus starts on the
    first choice; arrows choose, Tab moves on."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("enter", "go", "Export")]

    def __init__(self, title: str, dest: Path, target: str, ab_ready: bool) -> None:
        super().__init__()
        self.title_text = title
        self.dest = dest
        self.target = target
        self.ab_ready = ab_ready

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static(visible(self.title_text), id="export-title", markup=False)
            with Horizontal(classes="export-row"):
                with Choices(id="export-what"):
                    yield Choice(f"target ({self.target})", value=True, id="what-target")
                    yield Choice(f"+ no_{self.target}", id="what-two")
                    yield Choice("all stems", id="what-all")
                    yield Choice("A/B clips", id="what-ab", disabled=not self.ab_ready)
                with Choices(id="export-format"):
                    for i, fmt in enumerate(EXPORT_FORMATS):
                        yield Choice(fmt, value=i == 0, id=f"fmt-{fmt}")
            yield Label("to folder:")
            # a field shows its text raw: a folder named with control characters starts
            # blank (blank is the default folder), shown inert in the line below
            shown = str(self.dest) if visible(self.dest) == str(self.dest) else ""
            yield Input(shown, placeholder="the session's export folder", id="export-dest",
                        compact=True)
            # the folder whole, wrapped: the field scrolls and would hide its end
            yield Static(visible(self.dest), id="export-dest-full", markup=False)
            with Horizontal(classes="export-row"):
                yield Button("Export", id="export-go", variant="primary", compact=True)
                yield Button("Cancel", id="export-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#export-what", Choices).focus()

    def request(self) -> ExportRequest:
        what = self.query_one("#export-what", RadioSet).pressed_button
        fmt = self.query_one("#export-format", RadioSet).pressed_button
        kind = (what.id or "what-target")[5:] if what else "target"
        name = (fmt.id or "")[4:] if fmt is not None else ""
        chosen = cast(ExportFormat, name if name in EXPORT_FORMATS else EXPORT_FORMATS[0])
        return ExportRequest(kind, chosen,
                             expand(self.query_one("#export-dest", Input).value.strip()
                                    or str(self.dest)))

    @on(Input.Changed, "#export-dest")
    def _dest_changed(self, event: Input.Changed) -> None:
        self.query_one("#export-dest-full", Static).update(
            visible(expand(event.value.strip() or str(self.dest))))

    @on(Button.Pressed, "#export-go")
    @on(Input.Submitted, "#export-dest")
    def action_go(self) -> None:
        self.dismiss(self.request())

    @on(Button.Pressed, "#export-cancel")
    def action_close(self) -> None:
        self.dismiss(None)
