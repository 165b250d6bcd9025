"""The progdemix-tui app: file browser, parameter panel, live iteration timeline, player bar.

``progdemix-tui [PATH]`` builds it (:mod:`progdemix_tui.cli.tui`). The app is a thin consumer of
the engine: a thread worker (:mod:`.worker.runner`) runs :func:`progdemix_tui.engine.run_session`
and posts small messages; the session folder on disk holds every step's audio.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import (
    Footer,
    Header,
    Input,
    Select,
    TabbedContent,
    TabPane,
)

from progdemix_tui.engine import threads
from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.text import visible

from .audition import SOURCES, AuditionBackend, Cue, open_backend
from .chart_data import step_chart
from .export_job import write_export
from .keys import bindings, palette
from .paths import expand
from .run_plan import RunPlan, describe_errors
from .screens.chart import ChartScreen
from .screens.export import ExportRequest, ExportScreen
from .screens.help import HelpScreen
from .screens.sessions import Resume, SessionsScreen
from .session_reader import unexpected
from .settings import Settings
from .widgets.diff_strip import DiffStrip
from .widgets.file_browser import FileBrowser, start_point
from .widgets.param_panel import ParamPanel
from .widgets.player_bar import PlayerBar
from .widgets.run_view import RunView
from .widgets.spectrogram_view import SpectrogramView
from .widgets.timeline import Timeline
from .worker.runner import RunRequest, RunStarted, StepCompleted

THEMES = ("textual-dark", "textual-light")
VIEW_ACTIONS = ("chart", "difference", "next_difference", "spectrogram")


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
        self.notices = list(notices)
        self.root, self.input = start_point(path)
        self.stem: str | None = None
        self.source = "estimate"
        theme = self.settings.ui.get("theme", THEMES[0])
        self.theme = theme if theme in self.available_themes else THEMES[0]

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with TabbedContent(id="sidebar", initial="files"):
                with TabPane("Files", id="files"):
                    yield FileBrowser(self.root, id="browser")
                with TabPane("Params", id="params"):
                    yield ParamPanel(self.settings.params, self.models, id="panel")
            with Vertical(id="work"):
                timeline = Timeline(id="timeline")
                yield RunView(timeline, id="progress-row")
                yield timeline
                self._diff = DiffStrip(id="diff-strip")
                self._spectrogram = SpectrogramView(id="spectrogram")
                yield self._diff
                yield self._spectrogram
        yield PlayerBar(self.backend, id="player")
        yield Footer()

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
        self.set_interval(0.25, self._follow_player)

    @property
    def panel(self) -> ParamPanel:
        return self.query_one(ParamPanel)

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def player(self) -> PlayerBar:
        return self.query_one(PlayerBar)

    @property
    def run_view(self) -> RunView:
        return self.query_one(RunView)

    def _label(self, text: str) -> None:
        self.run_view.say(text)

    def _idle_label(self) -> None:
        if self.input is None:
            self._label("no input: choose a file or track folder (Enter), then r")
        else:
            self._label(f"input: {self.input.name} — r runs")

    # ------------------------------------------------------------------ input choice

    @on(FileBrowser.Chosen)
    def _chosen(self, event: FileBrowser.Chosen) -> None:
        self.input = event.path
        if not self.run_view.running:
            self._idle_label()
        self.notify(f"input: {event.path.name}", timeout=2)

    # ------------------------------------------------------------------ running

    def action_run(self) -> None:
        if self.run_view.running:
            self.notify("a run is in progress; c cancels it", severity="warning")
            return
        plan = self.panel.plan()
        if isinstance(plan, dict):
            self.run_view.refuse(describe_errors(plan), title="invalid parameters", params=True)
            self._show_invalid(next(iter(plan)))
            return
        if not self.step0_cache:
            plan = plan.without_step0_cache()
        highlighted = self.input is None
        if self.input is None:
            self.input = self.query_one(FileBrowser).highlighted_input()
            if self.input is None:
                self._label("cannot run: choose an input first")
                self.notify("choose an input file or track folder first (Files tab, Enter)",
                            severity="error")
                return
        if self.run_view.launch(self.input, plan, self.torch_threads, highlighted):
            self._save_settings()

    def _show_invalid(self, name: str) -> None:
        """Show the Params tab and focus the (highlighted) field ``name`` that was wrong, its
        value selected: typing replaces it, Esc leaves the field."""
        self.query_one("#sidebar").display = True
        self.query_one(TabbedContent).active = "params"
        field = self.query_one(f"#p-{name}")
        self.screen.set_focus(field)
        self.panel.scroll_to_widget(field, animate=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc leaves a text field (and the footer says so: the field hides the letter keys
        from it); during a run, or outside a field, Esc is the cancel key. The cancel key is
        in the footer only during a run (at 80 columns the footer has no room to spare)."""
        if action == "leave_field":
            return not (self.run_view.running or self.screen.is_modal) \
                and isinstance(self.focused, (Input, Select))
        if action == "cancel":
            return self.run_view.running
        if action in VIEW_ACTIONS:  # they act on the main screen, not over a dialog
            return not self.screen.is_modal
        return True

    def action_leave_field(self) -> None:
        """Esc in a text field: leave it, so letter keys work again."""
        self.timeline.table.focus()

    def action_cancel(self) -> None:
        self.run_view.cancel()

    @on(RunStarted)
    def _run_started(self, event: RunStarted) -> None:
        self.stem = event.config.target  # after the run view showed it (messages bubble)

    @on(StepCompleted)
    def _step_completed(self, event: StepCompleted) -> None:
        rows = self.timeline.rows
        if rows and rows[0] is event.metrics:  # the run's first step: select it
            self._select(event.folder, event.metrics.step)

    # ------------------------------------------------------------------ sessions

    def sessions_root(self) -> Path:
        out = str(self.panel.values().get("out", "") or "sessions")
        return expand(out)

    def action_sessions(self) -> None:
        self.push_screen(SessionsScreen(self.sessions_root()), self._open_chosen)

    def _open_chosen(self, folder: Path | Resume | None) -> None:
        if isinstance(folder, Resume):
            self.resume_session(folder.folder)
        elif folder is not None:
            self.open_session_folder(folder)

    def action_resume(self) -> None:
        """Resume the session shown in the timeline (cancelled or interrupted)."""
        folder = self.timeline.folder
        if folder is None:
            self.notify("open a cancelled session first (o), then R resumes it",
                        severity="warning")
            return
        self.resume_session(folder)

    def resume_session(self, folder: Path) -> None:
        """Continue ``folder`` after its last complete step, shown live like a run."""
        from progdemix_tui.engine.resume import plan_resume

        if self.run_view.running:
            self.notify("a run is in progress; c cancels it", severity="warning")
            return
        try:
            plan = plan_resume(folder)
        except ProgdemixError as exc:
            self.notify(str(exc), title="cannot resume", severity="error", timeout=10)
            return
        run_plan = RunPlan(plan.config, plan.start, plan.duration, folder.parent)
        self.run_view.start(RunRequest(plan.source, run_plan, folder, self.torch_threads,
                                       resume=True))
        self.run_view.say(f"resuming {folder.name} after step {plan.last_step}")

    def open_session_folder(self, folder: Path) -> bool:
        """Show a stored session in the timeline (its steps, metrics and best step).

        A folder that is not a readable session is one notification; the app goes on."""
        try:
            view = self.timeline.show_session(folder)
        except ProgdemixError as exc:
            self.log.error(f"cannot open session {folder}: {exc}")
            self.notify(str(exc), title="session not opened", severity="error", timeout=10)
            return False
        self.stem = view.target
        if view.rows:
            self._select(folder, view.rows[0].step)
        self.timeline.table.focus()
        if not self.run_view.running:
            self.run_view.settle()
            resumable = " — R resumes it" if view.status in ("cancelled", "interrupted") else ""
            self._label(f"session {folder.name} ({view.status}, {len(view.rows)} steps)"
                        f"{resumable}")
        return True

    # ------------------------------------------------------------------ selection, A/B

    @on(Timeline.StepSelected)
    def _row(self, event: Timeline.StepSelected) -> None:
        if event.folder is not None:
            self._select(event.folder, event.step)

    def _select(self, folder: Path, step: int) -> None:
        stem = self.stem or self.timeline.target
        self.player.select(Cue(folder, step, stem, self.source))

    def _sync_selection(self) -> None:
        """Make the selection the timeline cursor's step now: keys typed ahead (↓ ↓ b) run
        before the timeline's highlight message reaches the app."""
        folder, step = self.timeline.folder, self.timeline.selected_step
        cue = self.player.selection
        if folder is not None and step is not None and (
                cue is None or (cue.folder, cue.step) != (folder, step)):
            self._select(folder, step)

    def _reselect(self) -> None:
        self._sync_selection()
        cue = self.player.selection
        if cue is not None:
            self._select(cue.folder, cue.step)

    def action_cycle_stem(self) -> None:
        sources = self.timeline.sources or ("drums", "bass", "other", "vocals")
        current = self.stem or self.timeline.target
        self.stem = sources[(sources.index(current) + 1) % len(sources)] \
            if current in sources else sources[0]
        self._reselect()

    def action_cycle_source(self) -> None:
        self.source = SOURCES[(SOURCES.index(self.source) + 1) % len(SOURCES)]
        self._reselect()

    def action_player(self, action: str, *args: object) -> None:
        """A listening key (:mod:`.keys`), from anywhere: the player bar's ``action_<action>``.
        A mark is of the timeline cursor's step (keys typed ahead run before its highlight
        message reaches the app)."""
        if action in ("mark", "play_pause"):  # Space with nothing marked marks A
            self._sync_selection()
        getattr(self.player, f"action_{action}")(*args)

    # ------------------------------------------------------------------ views

    def action_chart(self) -> None:
        """The chart of the timeline's steps (a run in progress or an opened session)."""
        tl = self.timeline
        if not tl.rows:
            self.notify("no steps to chart yet: run (r) or open a session (o)",
                        severity="warning")
            return
        self.push_screen(ChartScreen(step_chart(tl.rows, tl.target, tl.sources,
                                                tl.has_references)))

    @property
    def diff_strip(self) -> DiffStrip:
        """The main screen's (a query would search the screen on top, a dialog perhaps)."""
        return self._diff

    def _ab_pair(self) -> tuple[Cue, Cue] | None:
        a, b = self.player.a, self.player.b
        if a is None or b is None:
            self.notify("mark A and B first (a, b on two steps): the map shows where they "
                        "differ", severity="warning")
            return None
        return a, b

    def action_difference(self) -> None:
        """D: show or hide the A/B difference map."""
        strip = self.diff_strip
        if strip.display:
            strip.display = False
            return
        pair = self._ab_pair()
        if pair is not None:
            strip.display = True
            strip.show_pair(*pair)

    def action_next_difference(self) -> None:
        """n: move the playhead to the next largest A − B difference (the map shows)."""
        pair = self._ab_pair()
        if pair is None:
            return
        strip = self.diff_strip
        strip.display = True
        if strip.pair == pair and strip.current is not None:
            self._jump_to_difference()
        else:
            strip.show_pair(*pair, on_ready=self._jump_to_difference)

    def _jump_to_difference(self) -> None:
        seconds = self.diff_strip.next_largest()
        if seconds is not None:
            self.player.goto(seconds)
            self.diff_strip.set_position(self.player.position)

    def action_spectrogram(self) -> None:
        """S: show or hide the spectrogram of the selected step's selected source."""
        view = self._spectrogram
        view.display = not view.display
        if view.display:
            self._sync_selection()
            view.show_cue(self.player.selection)
            view.set_position(self.player.position)

    def _follow_player(self) -> None:
        """The views follow the player: its position, the selection, new A/B marks."""
        strip = self.diff_strip
        if strip.display:
            a, b = self.player.a, self.player.b
            if a is not None and b is not None and strip.pair != (a, b):
                strip.show_pair(a, b)
            strip.set_position(self.player.position)
        view = self._spectrogram
        if view.display:
            if view.cue != self.player.selection:
                view.show_cue(self.player.selection)
            view.set_position(self.player.position)

    # ------------------------------------------------------------------ export

    def action_export(self) -> None:
        self._sync_selection()
        cue = self.player.selection
        if cue is None:
            self.notify("select a step in the timeline first (t, ↑/↓)", severity="warning")
            return
        dest = cue.folder / "export"
        ab = self.player.a is not None and self.player.b is not None
        title = f"export step {cue.step} of {cue.folder.name}"
        self.push_screen(ExportScreen(title, dest, self.timeline.target, ab),
                         lambda req: self._export_chosen(cue, req))

    def _export_chosen(self, cue: Cue, request: ExportRequest | None) -> None:
        if request is not None:
            self.export(cue, request)

    @work(thread=True, group="export", exit_on_error=False)
    def export(self, cue: Cue, request: ExportRequest) -> list[Path]:
        """Write the export in a thread; notifies with what was written."""
        try:
            written = write_export(cue, request, (self.player.a, self.player.b),
                                   self.player.loop)
        except Exception as exc:  # a tampered session the engine let through: say so too
            why = exc if isinstance(exc, (ProgdemixError, OSError)) else unexpected(cue.folder,
                                                                                     exc)
            self.call_from_thread(self.notify, f"export failed: {why}", severity="error")
            return []
        self.call_from_thread(self.notify, f"exported {len(written)} file(s) to {request.dest}")
        return written

    # ------------------------------------------------------------------ navigation, misc

    def action_show_tab(self, name: str) -> None:
        self.query_one("#sidebar").display = True
        self.query_one(TabbedContent).active = name
        target = "#tree" if name == "files" else "#p-model"
        self.screen.set_focus(self.query_one(target))  # at once, like t: keys typed ahead

    def action_focus_timeline(self) -> None:
        # at once, not via focus()'s call_later: keys typed ahead (t ↓ ↓) must reach the table
        self.screen.set_focus(self.timeline.table)

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar")
        sidebar.display = not sidebar.display
        if not sidebar.display:
            self.screen.set_focus(self.timeline.table)

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

    def _save_settings(self) -> None:
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

