"""The sessions screen: previous runs in the sessions folder; Enter opens one.

Opening a session restores its timeline; A/B marks keep pointing at their own session, so
A from one run and B from another can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.engine.resume import RESUMABLE
from progdemix_tui.engine.session import SessionSummary
from progdemix_tui.formatting import fmt_number
from progdemix_tui.text import plain, visible

from ..chart_data import Compared, compare_chart, run_labels
from ..paths import expand
from ..screens.chart import ChartScreen
from ..session_reader import read_listing, read_session

MARK = "✓"
SONG_WIDTH = 24  # the song column's widest (longer names end in …)


@dataclass(frozen=True)
class Resume:
    """The sessions screen's answer when R asks to resume ``folder``."""

    folder: Path


class SessionsScreen(ModalScreen[Path | Resume | None]):
    """Pick a session folder (returned on dismiss), or Esc for none; Space marks sessions,
    C charts the marked sessions' target curves together, R resumes a cancelled or
    interrupted session."""

    BINDINGS = [Binding("escape", "close", "Close"), Binding("enter", "open", "Open"),
                Binding("space", "mark", "Mark"), Binding("C", "compare", "Compare marked"),
                Binding("R", "resume", "Resume")]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.sessions: list[SessionSummary] = []
        self.skipped: list[str] = []  # one line per folder left out of the listing
        self.marked: set[Path] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="sessions-box"):
            yield Static("sessions — Enter opens, Space marks, C compares marked, R resumes, "
                         "Esc closes",
                         id="sessions-title")
            yield Input(str(self.root), id="sessions-root", compact=True)
            yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="sessions-info", markup=False)

    def on_mount(self) -> None:
        self.load(self.root)
        self.query_one("#sessions-table", DataTable).focus()

    def load(self, root: Path) -> None:
        self.root = root
        self.sessions, self.skipped = read_listing(root)
        table = self.query_one("#sessions-table", DataTable)
        table.clear(columns=True)
        # what tells runs apart first (as `report SESSIONS_DIR`; mode, model and date whole
        # at 100 columns); the dated name last
        self.marked &= {s.folder for s in self.sessions}
        table.add_column(" ", key="mark")
        for col in ("song", "target", "schedule", "steps", "best", "Δ0 dB", "mode", "model",
                    "created", "status", "name"):
            table.add_column(col)
        for s in self.sessions:
            best = "n/a" if s.best_step is None else str(s.best_step)
            delta = fmt_number(s.best_delta_db, signed=True)
            song = s.song if len(s.song) <= SONG_WIDTH else s.song[:SONG_WIDTH - 1] + "…"
            # strings from the manifest and the folder's name: never markup, controls visible
            cells = (song, s.target, s.schedule_text, f"{s.steps_done}/{s.steps_planned}", best,
                     delta, s.mode, s.model, s.created[:16].replace("T", " "), s.status,
                     s.folder.name)
            table.add_row(MARK if s.folder in self.marked else " ", *map(plain, cells),
                          key=str(s.folder))
        info = self.query_one("#sessions-info", Static)
        text = (f"{len(self.sessions)} session(s) in {root}" if self.sessions
                else f"no sessions in {root}; type another folder above")
        if self.skipped:
            text += f" · {len(self.skipped)} left out: {self.skipped[0]}"
            more = f" (and {len(self.skipped) - 3} more)" if len(self.skipped) > 3 else ""
            self.notify("\n".join(self.skipped[:3]) + more,
                        title=f"{len(self.skipped)} folder(s) left out", severity="warning",
                        timeout=10)
        info.update(visible(text))

    @on(Input.Submitted, "#sessions-root")
    def _root(self, event: Input.Submitted) -> None:
        event.stop()
        self.load(expand(event.value.strip() or "."))
        self.query_one("#sessions-table", DataTable).focus()

    @on(DataTable.RowSelected, "#sessions-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        table = self.query_one("#sessions-table", DataTable)
        if self.sessions and 0 <= table.cursor_row < len(self.sessions):
            self.dismiss(self.sessions[table.cursor_row].folder)

    def action_resume(self) -> None:
        """Resume the session under the cursor, if it was cancelled or interrupted."""
        table = self.query_one("#sessions-table", DataTable)
        if not self.sessions or not 0 <= table.cursor_row < len(self.sessions):
            return
        chosen = self.sessions[table.cursor_row]
        if chosen.status not in RESUMABLE:
            self.notify(f"{chosen.folder.name} is {chosen.status}; only a cancelled or "
                        "interrupted session can be resumed", severity="warning")
            return
        self.dismiss(Resume(chosen.folder))

    def action_mark(self) -> None:
        """Mark or unmark the session under the cursor for a comparison."""
        table = self.query_one("#sessions-table", DataTable)
        if not self.sessions or not 0 <= table.cursor_row < len(self.sessions):
            return
        folder = self.sessions[table.cursor_row].folder
        self.marked ^= {folder}
        table.update_cell(str(folder), "mark", MARK if folder in self.marked else " ")

    def action_compare(self) -> None:
        """Chart the marked sessions' target curves (two or more)."""
        folders = [s.folder for s in self.sessions if s.folder in self.marked]
        if len(folders) < 2:
            self.notify("mark two or more sessions (Space), then C compares them",
                        severity="warning")
            return
        compared = []
        chosen = [s for s in self.sessions if s.folder in self.marked]
        for summary, label in zip(chosen, run_labels(chosen), strict=True):
            try:
                view = read_session(summary.folder)
            except ProgdemixError as exc:
                self.notify(str(exc), title="session left out", severity="error")
                continue
            compared.append(Compared(label, view.target, view.rows, view.has_references))
        if len(compared) >= 2:
            self.app.push_screen(ChartScreen(compare_chart(compared)))

    def action_close(self) -> None:
        self.dismiss(None)
