"""The help screen: every key, grouped."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keys import HELP


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for group, rows in HELP:
        table.add_row(Text(group, style="bold underline"), "")
        for key, text in rows:
            table.add_row(key, text)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    """Modal list of keys; any of Esc, q, ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("progdemix-tui — keys", style="bold"), id="help-title")
            yield Static(help_table(), id="help-table")
            yield Static("Esc closes · docs/tui.md has more", id="help-foot")
