"""The progdemix-tui app: file browser, parameter panel, live iteration timeline, player bar.

``progdemix-tui [PATH]`` calls :func:`main`. The app is a thin consumer of the engine: a
thread worker (:mod:`.worker.runner`) runs :func:`progdemix_tui.engine.execute` and posts
small messages; the session folder on disk holds every step's audio.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    Footer,
    Header,
    Input,
    ProgressBar,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.engine.session import default_session_name, export_step, open_session
from progdemix_tui.formatting import fmt_time

from .audition import SOURCES, AuditionBackend, Cue, export_ab, open_backend, parse_device
from .keys import bindings
from .parameters import RunPlan, describe_errors
from .paths import PATH_ERRORS, expand, is_dir
from .paths import reason as os_reason
from .screens.export import ExportRequest, ExportScreen
from .screens.help import HelpScreen
from .screens.sessions import SessionsScreen
from .session_reader import read_session, unexpected
from .settings import Settings
from .widgets.file_browser import FileBrowser, describe, mixture_file
from .widgets.params import ParamPanel
from .widgets.player_bar import PlayerBar
from .widgets.timeline import Timeline
from .worker.runner import (
    ChunkProgress,
    RunEnded,
    RunNote,
    RunRequest,
    RunStarted,
    RunStatus,
    StepCompleted,
    run_job,
)

THEMES = ("textual-dark", "textual-light")


class ProgdemixApp(App[int]):
    """Explore progressive inference by ear and by number."""

    CSS_PATH = "app.tcss"
    TITLE = "progdemix-tui"
    SUB_TITLE = "progressive inference demixing"
    BINDINGS = bindings()

    def __init__(self, path: str | Path | None = None, *, settings: Settings | None = None,
                 backend: AuditionBackend | None = None, models: list[tuple[str, str]] | None = None,
                 torch_threads: int | str | None = "auto", save_settings: bool = True,
                 audio_device: int | str | None = None, notices: Iterable[str] = ()) -> None:
        super().__init__()
        self.settings = settings if settings is not None else Settings.load()
        self.save_settings = save_settings
        if torch_threads == "auto":
            # Leave one core to the event loop: on a 2-core VM this cut the p95 key-to-screen
            # latency from ~50 to ~39 ms with no loss of throughput (bench_tui_latency.py).
            torch_threads = max(1, (os.cpu_count() or 2) - 1)
        self.torch_threads = torch_threads if isinstance(torch_threads, int) else None
        self.models = models
        self.audio_device = audio_device
        self.backend: AuditionBackend = backend if backend is not None \
            else open_backend(audio_device)
        self.notices = list(notices)
        self.input: Path | None = None
        root = Path(".")
        if path is not None:
            given = expand(path)
            if is_dir(given) and mixture_file(given) is None:
                root = given
            else:
                root = given.parent if str(given.parent) else Path(".")
                self.input = given
        self.root = root
        self.cancel_event = threading.Event()
        self.running = False
        self.run_folder: Path | None = None
        self.run_steps = 0
        self.run_chunks = 1
        self.run_started = 0.0
        self.run_done_steps = 0
        self.last_error: str | None = None
        self.stem: str | None = None
        self.source = "estimate"
        theme = self.settings.ui.get("theme", THEMES[0])
        self.theme = theme if theme in THEMES else THEMES[0]

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
                with Horizontal(id="progress-row"):
                    yield Static("", id="progress-label", markup=False)
                    yield ProgressBar(total=1, id="progress", show_eta=False, show_percentage=True)
                yield Timeline(id="timeline")
        yield PlayerBar(self.backend, id="player")
        yield Footer()

    def on_mount(self) -> None:
        if self.settings.problem:
            self.notify(self.settings.problem, severity="warning")
        for notice in self.notices:
            self.notify(notice, title="model", severity="warning", timeout=12)
        if self.input is not None and not self.query_one(FileBrowser).choose(self.input):
            self.input = None  # the info line says why it cannot be used
        if self.input is None:
            self._idle_label()
        self.query_one("#tree").focus()

    @property
    def panel(self) -> ParamPanel:
        return self.query_one(ParamPanel)

    @property
    def timeline(self) -> Timeline:
        return self.query_one(Timeline)

    @property
    def player(self) -> PlayerBar:
        return self.query_one(PlayerBar)

    def _label(self, text: str) -> None:
        self.query_one("#progress-label", Static).update(text)

    def _idle_label(self) -> None:
        if self.input is None:
            self._label("no input: choose a file or track folder (Enter), then r")
        else:
            self._label(f"input: {self.input.name} — r runs")

    # ------------------------------------------------------------------ input choice

    @on(FileBrowser.Chosen)
    def _chosen(self, event: FileBrowser.Chosen) -> None:
        self.input = event.path
        if not self.running:
            self._idle_label()
        self.notify(f"input: {event.path.name}", timeout=2)

    # ------------------------------------------------------------------ running

    def action_run(self) -> None:
        if self.running:
            self.notify("a run is in progress; c cancels it", severity="warning")
            return
        plan = self.panel.plan()
        if isinstance(plan, dict):
            reason = describe_errors(plan)
            self._label(f"cannot run: {reason}")
            self.notify(f"cannot run: {reason}", title="invalid parameters", severity="error")
            self.action_show_tab("params")
            first = next((k for k in plan if k != "config"), None)
            if first is not None:
                self.query_one(f"#p-{first}").focus()
            return
        highlighted = None
        if self.input is None:
            highlighted = self.query_one(FileBrowser).highlighted_input()
            if highlighted is None:
                self._label("cannot run: choose an input first")
                self.notify("choose an input file or track folder first (Files tab, Enter)",
                            severity="error")
                return
            self.input = highlighted
        text, ok = describe(self.input)
        if not ok:
            self.notify(f"cannot run: {text}", severity="error")
            self._label(f"cannot run: {text}")
            return
        try:
            folder = self._new_folder(plan)
        except PATH_ERRORS as exc:
            text = f"cannot use the sessions folder {plan.out}: {os_reason(exc)}"
            self.notify(f"cannot run: {text}", severity="error")
            self._label(f"cannot run: {text}")
            return
        self._save_settings()
        self.cancel_event = threading.Event()
        self.running = True
        self.run_folder = folder
        self.run_done_steps = 0
        self.run_steps = plan.config.steps + 1
        self.run_chunks = 1
        self.run_started = time.monotonic()
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        if highlighted is not None:
            note = f"no input chosen: running the highlighted {self.input.name}"
            self.notify(note, timeout=4)
            self._label(f"{note} — starting")
        else:
            self._label(f"starting: {self.input.name}")
        self.timeline.reset(folder, plan.config.target, (), False,
                            f"{folder.name}: preparing…")
        self._run_worker(RunRequest(self.input, plan, folder, self.torch_threads))

    def _new_folder(self, plan: RunPlan) -> Path:
        assert self.input is not None
        base = plan.out / default_session_name(self.input, plan.config.target, plan.config.mode)
        folder, n = base, 1
        while folder.exists():
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
        return folder

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _run_worker(self, request: RunRequest) -> None:
        run_job(request, self.cancel_event, self.post_message)

    def action_leave_field(self) -> None:
        """Esc: cancel a run; otherwise leave a text field (so letter keys work again)."""
        if self.running:
            self.action_cancel()
        elif isinstance(self.focused, (Input, Select)):
            self.timeline.table.focus()

    def action_cancel(self) -> None:
        if self.running:
            self.cancel_event.set()
            self._label("cancelling… (finishing the current chunk)")
            self.notify("cancelling: completed steps are kept", timeout=3)

    @on(RunStatus)
    def _status(self, event: RunStatus) -> None:
        self._label(event.text)

    @on(RunNote)
    def _note(self, event: RunNote) -> None:
        self.notify(event.text, severity="warning", markup=False)

    @on(RunStarted)
    def _started(self, event: RunStarted) -> None:
        cfg = event.config
        self.run_chunks = max(1, event.chunks_per_step)
        self.run_steps = cfg.steps + 1
        self.run_started = time.monotonic()
        self.query_one("#progress", ProgressBar).update(total=self.run_steps * self.run_chunks,
                                                        progress=0)
        self.timeline.reset(event.folder, cfg.target, event.sources, event.has_references,
                            f"{event.folder.name}: {cfg.target}, {cfg.mode}, {cfg.schedule}")
        self.stem = cfg.target
        self._label(event.description)

    @on(ChunkProgress)
    def _chunk(self, event: ChunkProgress) -> None:
        done = event.step * self.run_chunks + min(event.done, self.run_chunks)
        total = self.run_steps * self.run_chunks
        self.query_one("#progress", ProgressBar).update(progress=done)
        elapsed = time.monotonic() - self.run_started
        eta = elapsed / done * (total - done) if done else None
        self._label(f"step {event.step}/{self.run_steps - 1} chunk {event.done}/{event.total}"
                    f" ETA {fmt_time(eta)}")

    @on(StepCompleted)
    def _step(self, event: StepCompleted) -> None:
        if event.folder != self.timeline.folder:
            return
        first = not self.timeline.rows
        self.run_done_steps += 1
        self.timeline.add_step(event.metrics, f"running {self.run_done_steps}/{self.run_steps}")
        if first:
            self._select(event.folder, event.metrics.step)

    @on(RunEnded)
    def _ended(self, event: RunEnded) -> None:
        self.running = False
        folder = event.folder
        where = f" in {folder}" if folder else ""
        if event.status == "failed":
            self.last_error = event.error
            self.notify(event.error or "the run failed", title="run failed", severity="error",
                        timeout=10)
            self._label(f"failed: {event.error}")
        elif event.status == "cancelled":
            self.notify(f"cancelled: kept {event.steps_done} completed step(s){where}",
                        severity="warning")
            self._label(f"cancelled: {event.steps_done} step(s) kept")
        else:
            self.notify(f"{event.status}: {event.steps_done} step(s){where}")
            self._label(f"{event.status}: {event.steps_done} steps · e exports")
            bar = self.query_one("#progress", ProgressBar)
            bar.update(total=bar.total or 1, progress=bar.total or 1)
        if folder is not None and self.timeline.folder == folder:
            self.timeline.finish(event.status)
        elif folder is None:
            why = f": {event.error}" if event.error else ""
            self.timeline.set_title(f"run {event.status} before its first step{why}")

    # ------------------------------------------------------------------ sessions

    def sessions_root(self) -> Path:
        out = str(self.panel.values().get("out", "") or "sessions")
        return expand(out)

    def action_sessions(self) -> None:
        self.push_screen(SessionsScreen(self.sessions_root()), self._open_chosen)

    def _open_chosen(self, folder: Path | None) -> None:
        if folder is not None:
            self.open_session_folder(folder)

    def open_session_folder(self, folder: Path) -> bool:
        """Show a stored session in the timeline (its steps, metrics and best step).

        A folder that is not a readable session is one notification; the app goes on."""
        try:
            view = read_session(folder)
        except ProgdemixError as exc:
            self.log.error(f"cannot open session {folder}: {exc}")
            self.notify(str(exc), title="session not opened", severity="error", timeout=10)
            return False
        previous = self.timeline.target
        try:
            self.timeline.load(folder, view.rows, view.target, view.sources,
                               view.has_references, view.title, view.status)
        except Exception as exc:  # values the engine let through but the table cannot show
            error = unexpected(folder, exc)
            self.log.error(f"cannot show session {folder}: {exc!r}")
            self.timeline.reset(None, previous, (), False, f"not shown: {folder.name}")
            self.notify(str(error), title="session not opened", severity="error", timeout=10)
            return False
        self.stem = view.target
        if view.rows:
            self._select(folder, view.rows[0].step)
        self.timeline.table.focus()
        if not self.running:
            self._label(f"session {folder.name} ({view.status}, {len(view.rows)} steps)")
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
        if action == "mark":
            self._sync_selection()
        getattr(self.player, f"action_{action}")(*args)

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
            if request.what == "ab":
                a, b = self.player.a, self.player.b
                if a is None or b is None:
                    raise ProgdemixError("mark A and B first (a, b)")
                written = export_ab(a, b, request.dest, self.player.loop, request.fmt)
            else:
                session = open_session(cue.folder)
                stems = [session.config.target] if request.what == "target" else None
                written = export_step(session, cue.step, request.dest, stems,
                                      request.fmt)  # type: ignore[arg-type]
        except (ProgdemixError, OSError) as exc:
            self.call_from_thread(self.notify, f"export failed: {exc}", severity="error")
            return []
        except Exception as exc:  # a tampered session the engine let through: say so
            why = unexpected(cue.folder, exc)
            self.call_from_thread(self.notify, f"export failed: {why}", severity="error")
            return []
        self.call_from_thread(self.notify, f"exported {len(written)} file(s) to "
                              f"{request.dest}")
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
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]
        self.settings.ui["theme"] = self.theme

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Run", "Run progressive inference on the chosen input (r)",
                            self.action_run)
        yield SystemCommand("Cancel run", "Stop the run; completed steps are kept (c)",
                            self.action_cancel)
        yield SystemCommand("Export step", "Export the selected step or A/B clips (e)",
                            self.action_export)
        yield SystemCommand("Open session", "Open a previous run from the sessions folder (o)",
                            self.action_sessions)
        yield SystemCommand("Go to time", "Seek to a typed position: 1:23, 83.5, 50% (g)",
                            lambda: self.action_player("goto"))
        yield SystemCommand("Blind A/B test", "A and B hidden as 1/2; 1/2 picks; m reveals (m)",
                            lambda: self.action_player("blind", "ab"))
        yield SystemCommand("ABX test", "Is X A or B? 1/2 answers; M reveals (M)",
                            lambda: self.action_player("blind", "abx"))
        yield SystemCommand("Keys", "Show every key (?)", self.action_help)
        yield SystemCommand("Toggle side panel", "Hide/show files and parameters (z)",
                            self.action_toggle_sidebar)
        yield SystemCommand("Toggle light/dark", "Switch theme (d)", self.action_toggle_theme)

    @on(ParamPanel.Changed)
    def _params_changed(self, event: ParamPanel.Changed) -> None:
        self.settings.params = dict(event.values)

    def _save_settings(self) -> None:
        if not self.save_settings:
            return
        self.settings.params = self.panel.values()
        if self.settings.save() is None and self.settings.problem:
            self.notify(self.settings.problem, severity="warning")

    def on_unmount(self) -> None:
        self.cancel_event.set()
        if self.save_settings:
            self.settings.save()
        try:
            self.backend.close()
        except Exception as exc:  # a device that went away must not turn quitting into a crash
            self.log.error(f"closing the audio output failed: {exc!r}")


DEFAULT_MODEL = "hdemucs_mmi"
OFFLINE_NOTICE = ("hdemucs_mmi is not cached and cannot be downloaded offline: using the demo "
                  "model; choose another in Params")


def offline_model_fallback(settings: Settings, status=None) -> str | None:
    """Preselect the bundled ``demo`` model when the default one is not cached.

    Only when the user has not chosen a model (no ``model`` in the saved settings, no
    ``--model``: the caller skips this then), no model path is set, the default
    ``hdemucs_mmi`` is not cached and the demo weights are present. Returns the one-time
    notice to show, or None (nothing changed: then a run's error explains a missing model).
    """
    if "model" in settings.stored or settings.params.get("model_path") \
            or settings.params.get("model", DEFAULT_MODEL) != DEFAULT_MODEL:
        return None
    if status is None:
        from progdemix_tui.engine.models import model_status as status
    try:
        if status(DEFAULT_MODEL).cached or not status("demo").cached:
            return None
    except Exception:  # a broken cache must not stop the app from opening
        return None
    settings.params["model"] = "demo"
    return OFFLINE_NOTICE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="progdemix-tui", description="Open the progdemix-tui terminal app.",
        epilog="`progdemix-tui devices` lists the audio output devices.")
    parser.add_argument("path", nargs="?", metavar="PATH",
                        help="folder to browse, or an audio file / track folder to open")
    parser.add_argument("--model", help="model name or .safetensors path (saved as last used)")
    parser.add_argument("--out", metavar="DIR", help="sessions folder (saved as last used)")
    parser.add_argument("--session", metavar="DIR", help="open this session folder")
    parser.add_argument("--audio-device", metavar="NAME|INDEX",
                        help="audio output device: index or (part of) its name, as listed by "
                             "`progdemix-tui devices`; '' = the default (saved as last used)")
    return parser


def build_app(argv: list[str] | None = None, **kwargs) -> ProgdemixApp:
    """The app for command line ``argv`` (``kwargs`` go to :class:`ProgdemixApp`)."""
    args = build_parser().parse_args(argv or [])
    session = None
    if args.session:
        session = expand(args.session)
        read_session(session)  # not a readable session: ProgdemixError, before the app opens
    settings = Settings.load()
    notices = []
    if args.model:
        key = "model_path" if Path(args.model).suffix or "/" in args.model else "model"
        settings.params[key] = args.model
        if key == "model":
            settings.params["model_path"] = ""
    elif (notice := offline_model_fallback(settings)) is not None:
        notices.append(notice)
    if args.out:
        settings.params["out"] = args.out
    if args.audio_device is not None:
        settings.ui["audio_device"] = args.audio_device.strip()
    device = parse_device(settings.ui.get("audio_device", ""))
    app = ProgdemixApp(args.path, settings=settings, audio_device=device, notices=notices,
                       **kwargs)
    if session is not None:
        app.call_later(app.open_session_folder, session)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the app; the exit status is non-zero if it stopped on an unhandled error.

    A ``--session`` folder that cannot be read is refused before the app starts, as the
    CLI refuses bad input: one line on stderr, exit 2.
    """
    try:
        app = build_app(argv)
    except ProgdemixError as exc:
        from progdemix_tui.cli.common import fail

        return fail(str(exc), exc.exit_code)
    result = app.run()
    if app.return_code:  # Textual sets 1 after an unhandled exception (the traceback shown)
        return app.return_code
    return int(result or 0)
