"""Runs and sessions in the app: run (r), open a session in the timeline (o), resume a
cancelled one (R)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from progdemix_tui.engine.errors import ProgdemixError

from .paths import expand
from .run_plan import RunPlan, describe_errors
from .screens.sessions import Resume, SessionsScreen
from .worker.runner import RunRequest

if TYPE_CHECKING:
    from .host import Host


def start_run(host: Host) -> None:
    """r: run the chosen (else the highlighted) input with the Params tab's parameters."""
    if host.run_view.running:
        host.notify("a run is in progress; c cancels it", severity="warning")
        return
    plan = host.panel.plan()
    if isinstance(plan, dict):
        host.run_view.refuse(describe_errors(plan), title="invalid parameters", params=True)
        host.show_invalid(next(iter(plan)))
        return
    if not host.step0_cache:
        plan = plan.without_step0_cache()
    highlighted = host.input is None
    if host.input is None:
        host.input = host.highlighted_input()
        if host.input is None:
            host.run_view.say("cannot run: choose an input first")
            host.notify("choose an input file or track folder first (Files tab, Enter)",
                        severity="error")
            return
    if host.run_view.launch(host.input, plan, host.torch_threads, highlighted):
        host.save_params()


def sessions_root(host: Host) -> Path:
    return expand(str(host.panel.values().get("out", "") or "sessions"))


def choose_session(host: Host) -> None:
    """o: the sessions screen; the one chosen opens (or resumes)."""

    def chosen(folder: Path | Resume | None) -> None:
        if isinstance(folder, Resume):
            resume_session(host, folder.folder)
        elif folder is not None:
            open_session_folder(host, folder)

    host.push_screen(SessionsScreen(sessions_root(host)), chosen)


def resume_shown(host: Host) -> None:
    """R: resume the session shown in the timeline (cancelled or interrupted)."""
    folder = host.timeline.folder
    if folder is None:
        host.notify("open a cancelled session first (o), then R resumes it", severity="warning")
        return
    resume_session(host, folder)


def resume_session(host: Host, folder: Path) -> None:
    """Continue ``folder`` after its last complete step, shown live like a run."""
    from progdemix_tui.engine.resume import plan_resume

    if host.run_view.running:
        host.notify("a run is in progress; c cancels it", severity="warning")
        return
    try:
        plan = plan_resume(folder)
    except ProgdemixError as exc:
        host.notify(str(exc), title="cannot resume", severity="error", timeout=10)
        return
    run_plan = RunPlan(plan.config, plan.start, plan.duration, folder.parent)
    host.run_view.start(RunRequest(plan.source, run_plan, folder, host.torch_threads,
                                   resume=True))
    host.run_view.say(f"resuming {folder.name} after step {plan.last_step}")


def open_session_folder(host: Host, folder: Path) -> bool:
    """Show a stored session in the timeline (its steps, metrics and best step).

    A folder that is not a readable session is one notification; the app goes on."""
    try:
        view = host.timeline.show_session(folder)
    except ProgdemixError as exc:
        host.log.error(f"cannot open session {folder}: {exc}")
        host.notify(str(exc), title="session not opened", severity="error", timeout=10)
        return False
    host.player.stem = view.target
    if view.rows:
        host.player.choose(folder, view.rows[0].step, view.target)
    host.timeline.table.focus()
    if not host.run_view.running:
        host.run_view.settle()
        resumable = " — R resumes it" if view.status in ("cancelled", "interrupted") else ""
        host.run_view.say(f"session {folder.name} ({view.status}, {len(view.rows)} steps)"
                          f"{resumable}")
    return True
