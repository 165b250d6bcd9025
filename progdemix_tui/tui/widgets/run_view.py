"""The run's progress line: a status label and a progress bar, owning the run in progress.

:class:`RunView` starts the background run (:func:`..worker.runner.run_job`) in a thread
worker, keeps its state (folder, step and chunk counts, start time, cancel event) and turns
the worker's messages into the label, the bar, the timeline's rows and notifications. The
messages bubble on to the app afterwards, which follows the run's target and first step.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from progdemix_tui.engine.separator import SeparatorCache
from progdemix_tui.engine.session import new_session_folder
from progdemix_tui.formatting import fmt_time
from progdemix_tui.text import visible

from ..paths import PATH_ERRORS
from ..paths import reason as os_reason
from ..run_plan import RunPlan
from ..session_reader import run_title
from ..worker.runner import (
    ChunkProgress,
    RunEnded,
    RunNote,
    RunRequest,
    RunStarted,
    RunStatus,
    StepCompleted,
    run_job,
)
from .file_browser import describe
from .timeline import Timeline


class RunView(Horizontal):
    """Label + progress bar; :meth:`start` runs a :class:`RunRequest`, :meth:`cancel`
    stops it (completed steps are kept). Rows go to ``timeline`` as steps complete."""

    def __init__(self, timeline: Timeline, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.timeline = timeline
        self.separators = SeparatorCache()  # the model stays loaded between runs
        self.cancel_event = threading.Event()
        self._run_active = False
        self.folder: Path | None = None
        self.steps = 0
        """Steps of the run, step 0 included."""
        self.chunks = 1
        """Chunks per step."""
        self.started = 0.0
        self.done_steps = 0
        self.last_error: str | None = None
        self.params_refused = False
        """The label says the panel's parameters are invalid (until it says anything else)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="progress-label", markup=False)
        yield ProgressBar(total=1, id="progress", show_eta=False, show_percentage=True)

    @property
    def bar(self) -> ProgressBar:
        return self.query_one("#progress", ProgressBar)

    def say(self, text: str) -> None:
        """Show ``text`` in the label (it may quote file names: controls made visible)."""
        self.params_refused = False
        self.query_one("#progress-label", Static).update(visible(text))

    def refuse(self, reason: str, title: str = "", params: bool = False) -> None:
        """A run that cannot start: ``cannot run: reason`` in the label and a notification
        (``params``: because of the panel's invalid fields)."""
        self.say(f"cannot run: {reason}")
        self.params_refused = params
        self.notify(f"cannot run: {reason}", title=title, severity="error")

    @property
    def running(self) -> bool:
        """Whether a run is in progress (the footer shows the cancel key only then)."""
        return self._run_active

    @running.setter
    def running(self, value: bool) -> None:
        self._run_active = value
        if self.is_attached:
            self.app.refresh_bindings()

    def launch(self, source: Path, plan: RunPlan, threads: int | None,
               highlighted: bool = False) -> bool:
        """Start a run of ``source`` into a new session folder of ``plan.out``; False (and
        :meth:`refuse`) when the input or the sessions folder cannot be used."""
        text, ok = describe(source)
        if not ok:
            self.refuse(text)
            return False
        try:
            folder = new_session_folder(plan.out, source, plan.config.target, plan.config.mode)
        except PATH_ERRORS as exc:
            self.refuse(f"cannot use the sessions folder {plan.out}: {os_reason(exc)}")
            return False
        self.start(RunRequest(source, plan, folder, threads))
        if highlighted:
            note = f"no input chosen: running the highlighted {source.name}"
            self.notify(note, timeout=4)
            self.say(f"{note} — starting")
        else:
            self.say(f"starting: {source.name}")
        return True

    def start(self, request: RunRequest) -> None:
        """Run ``request`` in a thread; the timeline shows its folder as preparing."""
        self.cancel_event = threading.Event()
        self.running = True
        self.folder = request.folder
        self.done_steps = 0
        self.steps = request.plan.config.steps + 1
        self.chunks = 1
        self.started = time.monotonic()
        self.bar.update(total=None, progress=0)
        self.timeline.reset(request.folder, request.plan.config.target, (), False,
                            f"{request.folder.name}: preparing…")
        self._worker(request)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _worker(self, request: RunRequest) -> None:
        run_job(request, self.cancel_event, self.post_message, separators=self.separators)

    def cancel(self) -> None:
        """Stop the run within a chunk; says so. Nothing happens when none runs."""
        if self.running:
            self.cancel_event.set()
            self.say("cancelling… (finishing the current chunk)")
            self.notify("cancelling: completed steps are kept", timeout=3)

    def settle(self) -> None:
        """Stop the bar's "waiting" animation (a run that ended before its first chunk)."""
        if self.bar.total is None:
            self.bar.update(total=1, progress=0)

    def on_unmount(self) -> None:
        self.cancel_event.set()  # the app is closing: a run stops within a chunk

    @on(RunStatus)
    def _status(self, event: RunStatus) -> None:
        self.say(event.text)

    @on(RunNote)
    def _note(self, event: RunNote) -> None:
        self.notify(event.text, severity="warning", markup=False)

    @on(RunStarted)
    def _started(self, event: RunStarted) -> None:
        cfg = event.config
        self.chunks = max(1, event.chunks_per_step)
        self.steps = cfg.steps + 1
        self.started = time.monotonic()
        self.bar.update(total=self.steps * self.chunks, progress=0)
        self.timeline.reset(event.folder, cfg.target, event.sources, event.has_references,
                            run_title(event.folder.name, cfg))
        self.say(event.description)

    @on(ChunkProgress)
    def _chunk(self, event: ChunkProgress) -> None:
        done = event.step * self.chunks + min(event.done, self.chunks)
        total = self.steps * self.chunks
        self.bar.update(progress=done)
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (total - done) if done else None
        self.say(f"step {event.step}/{self.steps - 1} chunk {event.done}/{event.total}"
                 f" ETA {fmt_time(eta)}")

    @on(StepCompleted)
    def _step(self, event: StepCompleted) -> None:
        if event.folder != self.timeline.folder:
            event.stop()  # a step of a session no longer shown
            return
        self.done_steps += 1
        self.timeline.add_step(event.metrics, f"running {self.done_steps}/{self.steps}")

    @on(RunEnded)
    def _ended(self, event: RunEnded) -> None:
        self.running = False
        self.settle()
        folder = event.folder
        where = f" in {folder}" if folder else ""
        if event.status == "failed":
            self.last_error = event.error
            self.notify(event.error or "the run failed", title="run failed", severity="error",
                        timeout=10)
            self.say(f"failed: {event.error}")
        elif event.status == "cancelled":
            self.notify(f"cancelled: kept {event.steps_done} completed step(s){where}",
                        severity="warning")
            self.say(f"cancelled: {event.steps_done} step(s) kept")
        else:
            self.notify(f"{event.status}: {event.steps_done} step(s){where}")
            self.say(f"{event.status}: {event.steps_done} steps · e exports")
            self.bar.update(total=self.bar.total or 1, progress=self.bar.total or 1)
        if folder is not None and self.timeline.folder == folder:
            self.timeline.finish(event.status)
        elif folder is None:
            why = f": {event.error}" if event.error else ""
            self.timeline.set_title(f"run {event.status} before its first step{why}")
