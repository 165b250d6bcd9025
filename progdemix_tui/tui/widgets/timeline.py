"""Iteration timeline: one row per completed step, a sparkline of the target's metric, and
the best step marked. Selecting a row selects that step for audition and export."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from progdemix_tui.engine import columns as col
from progdemix_tui.engine.progressive import StepMetrics, best_step

from ..session_reader import SessionView, read_session, unexpected

BEST = "★"


class Timeline(Vertical):
    """DataTable of steps + sparkline + a caption line."""

    class StepSelected(Message):
        """Row for ``step`` of the session in ``folder`` was highlighted."""

        def __init__(self, folder: Path | None, step: int) -> None:
            super().__init__()
            self.folder = folder
            self.step = step

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[StepMetrics] = []
        self.folder: Path | None = None
        self.target = "vocals"
        self.sources: tuple[str, ...] = ()
        self.has_references = False
        self.best: int | None = None
        self.label = ""

    def compose(self) -> ComposeResult:
        yield Static("no run yet: choose a file, press r to run, o to open a session",
                     id="timeline-title", markup=False)
        table: DataTable = DataTable(id="timeline-table", cursor_type="row", zebra_stripes=True)
        yield table
        with Horizontal(id="spark-row"):
            yield Static("", id="spark-label", markup=False)
            yield Sparkline([], id="spark")

    @property
    def table(self) -> DataTable:
        return self.query_one("#timeline-table", DataTable)

    def reset(self, folder: Path | None, target: str, sources: tuple[str, ...],
              has_references: bool, label: str) -> None:
        """Start an empty timeline for a run (or a session about to be restored)."""
        self.rows = []
        self.folder = folder
        self.target = target
        self.sources = tuple(sources)
        self.has_references = has_references
        self.best = None
        self.label = label
        table = self.table
        table.clear(columns=True)
        for c in col.columns(col.TIMELINE, has_references):
            if c is col.SI_SDR:  # the target first, Δ0 after it, then the other stems
                table.add_column(Text(f"{target}", style="bold reverse"), key=f"sdr-{target}")
            elif c is col.DELTA:
                table.add_column(c.header, key=c.key)
                for name in self.sources:
                    if name != target:
                        table.add_column(name, key=f"sdr-{name}")
            else:
                table.add_column(c.header, key=c.key)
        self._caption("")
        self.query_one("#spark", Sparkline).data = []

    def set_title(self, text: str) -> None:
        self.query_one("#timeline-title", Static).update(text)

    def _caption(self, status: str) -> None:
        what = f"{self.target} {col.headline(self.has_references).header}"
        best = f" best {BEST}{self.best}" if self.best is not None else ""
        self.query_one("#spark-label", Static).update(f"{what}{best}")
        self.set_title(f"{self.label}{'  ' + status if status else ''}")

    def add_step(self, m: StepMetrics, status: str = "") -> None:
        """Append a completed step (rows arrive in step order)."""
        self.rows.append(m)
        target = self.target
        cells: list = []
        for c in col.columns(col.TIMELINE, self.has_references):
            if c.key == "step":
                cells.append(Text(str(m.step)))
            elif c.key == "beta" and m.beta is None:
                cells.append("—")
            elif c is col.SI_SDR:
                cells.append(Text(c.text(c.value(m, target)), style="bold"))
            elif c is col.DELTA:
                cells.append(c.text(c.value(m)))
                cells += [col.SI_SDR.text(col.SI_SDR.value(m, n)) for n in self.sources
                          if n != target]
            else:
                cells.append(c.text(c.value(m, target)))
        self.table.add_row(*cells, key=str(m.step))
        self._update_best()
        values = [self._metric(r) for r in self.rows]
        self.query_one("#spark", Sparkline).data = [v for v in values if v is not None] or []
        self._caption(status)

    def _metric(self, m: StepMetrics) -> float | None:
        return col.headline(self.has_references).value(m, self.target)

    def _update_best(self) -> None:
        best = best_step(self.rows, self.target)
        if best == self.best:
            return
        table = self.table
        if self.best is not None:
            table.update_cell(str(self.best), "step", Text(str(self.best)))
        if best is not None:
            table.update_cell(str(best), "step", Text(f"{best}{BEST}", style="bold green"))
        self.best = best

    def finish(self, status: str) -> None:
        self._caption(status)

    def load(self, folder: Path, rows: list[StepMetrics], target: str,
             sources: tuple[str, ...], has_references: bool, label: str, status: str) -> None:
        """Show a stored session's steps."""
        self.reset(folder, target, sources, has_references, label)
        for m in rows:
            self.add_step(m)
        self._caption(status)

    def show_session(self, folder: Path) -> SessionView:
        """Read the session in ``folder`` and show its steps; raises the one-line
        :class:`~progdemix_tui.engine.errors.ProgdemixError` of a folder that is not a
        readable session (the timeline then shows what it showed before, or nothing)."""
        view = read_session(folder)
        previous = self.target
        try:
            self.load(folder, view.rows, view.target, view.sources, view.has_references,
                      view.title, view.status)
        except Exception as exc:  # values the engine let through but the table cannot show
            self.log.error(f"cannot show session {folder}: {exc!r}")
            self.reset(None, previous, (), False, f"not shown: {folder.name}")
            raise unexpected(folder, exc) from None
        return view

    @property
    def selected_step(self) -> int | None:
        table = self.table
        if not self.rows or table.row_count == 0:
            return None
        row = min(max(table.cursor_row, 0), len(self.rows) - 1)
        return self.rows[row].step

    @on(DataTable.RowHighlighted, "#timeline-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        step = self.selected_step
        if step is not None:
            self.post_message(self.StepSelected(self.folder, step))
