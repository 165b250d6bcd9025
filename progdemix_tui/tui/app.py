"""The progdemix-tui app: file browser, parameter panel, live iteration timeline, player bar.

``progdemix-tui [PATH]`` builds it (:mod:`progdemix_tui.cli.tui`). The app is a thin consumer of
the engine: a thread worker (:mod:`.worker.runner`) runs :func:`progdemix_tui.engine.run_session`
and posts small messages; the session folder on disk holds every step's audio. The layout is
:class:`.screens.main.MainScreen`; the views are :data:`.views.VIEWS`; what plays is an
:class:`.audition_controller.AuditionController` (the listening keys: :data:`.listening.PLAYER_KEYS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Input, Select

from progdemix_tui.engine import threads
from progdemix_tui.text import visible

from . import run_actions
from .audition import AuditionBackend, open_backend
from .audition_controller import AuditionController
from .export_job import start_export
from .keys import bindings, palette
from .listening import PLAYER_KEYS
from .main_screen import MainScreen, W
from .screens.help import HelpScreen
from .settings import Settings
from .views import VIEW_ACTIONS
from .widgets.diff_strip import DiffStrip
from .widgets.file_browser import FileBrowser, start_point
from .widgets.param_panel import ParamPanel
from .widgets.player_bar import PlayerBar
from .widgets.run_view import RunView
from .widgets.timeline import Timeline
from .worker.runner import RunStarted, StepCompleted

THEMES = ("textual-dark", "textual-light")


class ProgdemixApp(App[int]):
    """Explore progressive inference by ear and by number."""

    CSS_PATH = "app.tcss"
    TITLE = "progdemix-tui"
    SUB_TITLE = "progressive inference demixing"
    BINDINGS: ClassVar[list[BindingType]] = [*bindings()]

    def __init__(self, path: str | Path | None = None, *, settings: Settings | None = None,
                 backend: AuditionBackend | None = None, models: list[tuple[str, str]] | None = None,
                 torch_threads: int | str | None = "auto", save_settings: bool = True,
                 audio_device: int | str | None = None, notices: Iterable[str] = (),
                 step0_cache: bool = True) -> None:
        super().__init__()
        self.step0_cache = step0_cache  # False (--no-cache): runs neither read nor write it
        self.settings = settings if settings is not None else Settings.load()
        self.save_settings = save_settings
        if torch_threads == "auto":
            # The CLI's policy: one core left, here to the event loop (on a 2-core VM the p95
            # key-to-screen latency fell from ~50 to ~39 ms; bench_tui_latency.py).
            torch_threads = threads.torch_threads()
        self.torch_threads = torch_threads if isinstance(torch_threads, int) else None
        self.models = models
        self.audio_device = audio_device
        self.backend: AuditionBackend = backend if backend is not None \
            else open_backend(audio_device)
        # what plays: the A/B marks, the transport, blind tests (the player bar shows it)
        self.player = AuditionController(
            self.backend, changed=self._audition_changed, call_in_ui=self.call_from_thread,
            run_in_thread=lambda load: self.run_worker(
                load, thread=True, exclusive=True, group="audition", exit_on_error=False))
        self.notices = list(notices)
        self.root, self.input = start_point(path)
        # the layout (a query on the app would search the screen on top: a dialog perhaps)
        self.main = MainScreen(self, self.root, self.settings.params, models, self.player)
        theme = self.settings.ui.get("theme", THEMES[0])
        self.theme = theme if theme in self.available_themes else THEMES[0]

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield from self.main.compose()

    def pane(self, kind: type[W]) -> W:
        """The main screen's view pane of type ``kind`` (see :mod:`.views`)."""
        return self.main.pane(kind)

    def show_invalid(self, name: str) -> None:
        self.main.show_invalid(name)

    def highlighted_input(self) -> Path | None:
        return self.main.get(FileBrowser).highlighted_input()

    def notify(self, message: str, *, title: str = "",
               severity: SeverityLevel = "information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Every notification of the app (widgets' and screens' too): messages quote files,
        settings and manifests, so they are never markup and show control characters."""
        del markup  # no caller styles a notification
        super().notify("\n".join(map(visible, message.split("\n"))), title=visible(title),
                       severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.settings.problem:
            self.notify(self.settings.problem, severity="warning")
        for notice in self.notices:
            self.notify(notice, title="model", severity="warning", timeout=12)
        if self.input is not None and not self.query_one(FileBrowser).choose(self.input):
            self.input = None  # the info line says why it cannot be used
        if self.input is None:
            self._idle_label()
        self.query_one("#tree").focus()
        self.set_interval(0.25, self.main.follow_player)

    @property
    def panel(self) -> ParamPanel:
        return self.main.get(ParamPanel)

    @property
    def timeline(self) -> Timeline:
        return self.main.get(Timeline)

    def _audition_changed(self) -> None:
        if self.screen_stack:
            self.main.get(PlayerBar).refresh_bar()

    @property
    def run_view(self) -> RunView:
        return self.main.get(RunView)

    def _idle_label(self) -> None:
        if self.input is None:
            self.run_view.say("no input: choose a file or track folder (Enter), then r")
        else:
            self.run_view.say(f"input: {self.input.name} — r runs")

    # ------------------------------------------------------------------ input choice

    @on(FileBrowser.Chosen)
    def _chosen(self, event: FileBrowser.Chosen) -> None:
        self.input = event.path
        if not self.run_view.running:
            self._idle_label()
        self.notify(f"input: {event.path.name}", timeout=2)

    # ------------------------------------------------------------------ running

    def action_run(self) -> None:
        run_actions.start_run(self)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc leaves a text field (and the footer says so: the field hides the letter keys
        from it); during a run, or outside a field, Esc is the cancel key. The cancel key is
        in the footer only during a run (at 80 columns the footer has no room to spare)."""
        if action == "leave_field":
            return not (self.run_view.running or self.screen.is_modal) \
                and isinstance(self.focused, (Input, Select))
        if action == "cancel":
            return self.run_view.running
        if action == "view":  # they act on the main screen, not over a dialog
            return not self.screen.is_modal
        return True

    def action_leave_field(self) -> None:
        """Esc in a text field: leave it, so letter keys work again."""
        self.timeline.table.focus()

    def action_cancel(self) -> None:
        self.run_view.cancel()

    @on(RunStarted)
    def _run_started(self, event: RunStarted) -> None:
        self.player.stem = event.config.target  # after the run view showed it (messages bubble)
        separator = event.config.separator
        self.panel.loaded(separator.model, separator.model_config, event.sources)

    @on(StepCompleted)
    def _step_completed(self, event: StepCompleted) -> None:
        rows = self.timeline.rows
        if rows and rows[0] is event.metrics:  # the run's first step: select it
            self.player.choose(event.folder, event.metrics.step, self.timeline.target)

    # ------------------------------------------------------------------ sessions

    def action_sessions(self) -> None:
        run_actions.choose_session(self)

    def action_resume(self) -> None:
        run_actions.resume_shown(self)

    def open_session_folder(self, folder: Path) -> bool:
        """Show a stored session in the timeline (:func:`.run_actions.open_session_folder`)."""
        return run_actions.open_session_folder(self, folder)

    # ------------------------------------------------------------------ selection, A/B

    @on(Timeline.StepSelected)
    def _row(self, event: Timeline.StepSelected) -> None:
        if event.folder is not None:
            self.player.choose(event.folder, event.step, self.timeline.target)

    def sync_selection(self) -> None:
        """Make the selection the timeline cursor's step now: keys typed ahead (↓ ↓ b) run
        before the timeline's highlight message reaches the app."""
        folder, step = self.timeline.folder, self.timeline.selected_step
        cue = self.player.selection
        if folder is not None and step is not None and (
                cue is None or (cue.folder, cue.step) != (folder, step)):
            self.player.choose(folder, step, self.timeline.target)

    def action_cycle_stem(self) -> None:
        self.sync_selection()
        self.player.cycle_stem(self.timeline.sources or ("drums", "bass", "other", "vocals"),
                               self.timeline.target)

    def action_cycle_source(self) -> None:
        self.sync_selection()
        self.player.cycle_source(self.timeline.target)

    def action_player(self, action: str, *args: object) -> None:
        """A listening key (:mod:`.keys`), from anywhere: :data:`.listening.PLAYER_KEYS`.
        A mark is of the timeline cursor's step (keys typed ahead run before its highlight
        message reaches the app)."""
        if action in ("mark", "play_pause"):  # Space with nothing marked marks A
            self.sync_selection()
        PLAYER_KEYS[action](self, *args)

    def action_view(self, action: str) -> None:
        """A view's key (:data:`.views.VIEWS`): chart, difference map, spectrogram…"""
        VIEW_ACTIONS[action](self)

    @property
    def diff_strip(self) -> DiffStrip:
        return self.pane(DiffStrip)

    def action_export(self) -> None:
        start_export(self)

    # ------------------------------------------------------------------ navigation, misc

    def action_show_tab(self, name: str) -> None:
        self.main.show_tab(name)

    def action_focus_timeline(self) -> None:
        self.main.focus_timeline()

    def action_toggle_sidebar(self) -> None:
        self.main.toggle_sidebar()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[0] if self.current_theme.dark is False else THEMES[1]

    def _theme_changed(self, theme: Theme) -> None:
        """Whichever way it was chosen (d, the palette's "Theme"), a theme is kept for the
        next start."""
        self.settings.ui["theme"] = theme.name

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        ours = palette()
        titles = {title for title, _, _ in ours}
        # ours win: Textual's own "Keys" (its key panel) would be listed beside our "Keys"
        yield from (c for c in super().get_system_commands(screen) if c.title not in titles)
        for title, text, action in ours:
            yield SystemCommand(title, text, partial(self.run_action, action))

    @on(ParamPanel.Changed)
    def _params_changed(self, event: ParamPanel.Changed) -> None:
        self.settings.params = dict(event.values)
        if self.run_view.params_refused and not self.panel.has_class("-has-errors"):
            self._idle_label()  # the fields are fixed: the refusal no longer stands

    def save_params(self) -> None:
        if not self.save_settings:
            return
        self.settings.params = self.panel.values()
        if self.settings.save() is None and self.settings.problem:
            self.notify(self.settings.problem, severity="warning")

    def on_unmount(self) -> None:
        if self.save_settings:
            self.settings.save()
        try:
            self.backend.close()
        except Exception as exc:  # a device that went away must not turn quitting into a crash
            self.log.error(f"closing the audio output failed: {exc!r}")

