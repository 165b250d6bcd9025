"""The main screen: files and parameters beside the run, its timeline and the views' panes
(:data:`.views.VIEWS`), the player bar below. The app composes it into its default screen
(dialogs go on top of that one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, TabbedContent, TabPane

from .audition_controller import AuditionController
from .views import VIEWS, View
from .widgets.file_browser import FileBrowser
from .widgets.param_panel import ParamPanel
from .widgets.player_bar import PlayerBar
from .widgets.run_view import RunView
from .widgets.timeline import Timeline

W = TypeVar("W", bound=Widget)


class MainScreen:
    """The main screen's widgets (:meth:`compose`) and what acts on them; its queries search
    the app's first screen, whatever dialog is on top."""

    def __init__(self, app: App[Any], root: Path, params: dict[str, Any],
                 models: list[tuple[str, str]] | None, audition: AuditionController) -> None:
        self.app, self.root, self.params, self.models = app, root, params, models
        self.audition = audition
        self.panes: list[tuple[View, Widget]] = []

    @property
    def screen(self) -> Screen[Any]:
        return self.app.screen_stack[0]

    def get(self, kind: type[W]) -> W:
        """The main screen's widget of type ``kind``."""
        return self.screen.query_one(kind)

    def compose(self) -> ComposeResult:
        self.panes = [(view, view.pane()) for view in VIEWS if view.pane is not None]
        yield Header()
        with Horizontal(id="main"):
            with TabbedContent(id="sidebar", initial="files"):
                with TabPane("Files", id="files"):
                    yield FileBrowser(self.root, id="browser")
                with TabPane("Params", id="params"):
                    yield ParamPanel(self.params, self.models, id="panel")
            with Vertical(id="work"):
                timeline = Timeline(id="timeline")
                yield RunView(timeline, id="progress-row")
                yield timeline
                yield from (pane for _, pane in self.panes)
        yield PlayerBar(self.audition, id="player")
        yield Footer()

    def pane(self, kind: type[W]) -> W:
        """The view pane of type ``kind``."""
        return next(pane for _, pane in self.panes if isinstance(pane, kind))

    def follow_player(self) -> None:
        """The shown panes follow the player: its position, the selection, new A/B marks."""
        for view, pane in self.panes:
            if pane.display and view.follow is not None:
                view.follow(pane, self.audition)

    def show_tab(self, name: str, focus: str | None = None) -> None:
        """Show the side panel's tab ``name``, focusing ``focus`` (a selector) at once:
        keys typed ahead must reach it."""
        screen = self.screen
        screen.query_one("#sidebar").display = True
        screen.query_one(TabbedContent).active = name
        screen.set_focus(screen.query_one(focus or ("#tree" if name == "files" else "#p-model")))

    def show_invalid(self, name: str) -> None:
        """The Params tab with the (highlighted) field ``name`` that was wrong focused, its
        value selected: typing replaces it, Esc leaves the field."""
        self.show_tab("params", f"#p-{name}")
        field = self.screen.query_one(f"#p-{name}")
        self.get(ParamPanel).scroll_to_widget(field, animate=False)

    def focus_timeline(self) -> None:
        # at once, not via focus()'s call_later: keys typed ahead (t ↓ ↓) must reach the table
        self.screen.set_focus(self.get(Timeline).table)

    def toggle_sidebar(self) -> None:
        sidebar = self.screen.query_one("#sidebar")
        sidebar.display = not sidebar.display
        if not sidebar.display:
            self.focus_timeline()
