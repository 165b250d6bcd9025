"""e: the export dialog, and what it writes (off the UI thread): a step's stems or the A/B
clips."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.engine.export import ExportSpec, export_sessions
from progdemix_tui.engine.session import open_session

from .audition import Cue, export_ab
from .screens.export import ExportRequest, ExportScreen
from .session_reader import unexpected

if TYPE_CHECKING:
    from .host import Host


def start_export(host: Host) -> None:
    """e: ask what to export of the selected step (or the A/B clips), then write it in a
    thread worker; a notification says what was written."""
    host.sync_selection()
    au = host.player
    cue = au.selection
    if cue is None:
        host.notify("select a step in the timeline first (t, ↑/↓)", severity="warning")
        return
    title = f"export step {cue.step} of {cue.folder.name}"

    def chosen(request: ExportRequest | None) -> None:
        if request is not None:
            marks, loop = (au.a, au.b), au.loop
            host.run_worker(lambda: _export(host, cue, request, marks, loop), thread=True,
                            group="export", exit_on_error=False)

    ab = au.a is not None and au.b is not None
    host.push_screen(ExportScreen(title, cue.folder / "export", host.timeline.target, ab),
                     chosen)


def _export(host: Host, cue: Cue, request: ExportRequest,
            marks: tuple[Cue | None, Cue | None], loop: tuple[float, float] | None) -> None:
    try:
        written = write_export(cue, request, marks, loop)
    except Exception as exc:  # a tampered session the engine let through: say so too
        why = exc if isinstance(exc, (ProgdemixError, OSError)) else unexpected(cue.folder, exc)
        host.call_from_thread(host.notify, f"export failed: {why}", severity="error")
        return
    host.call_from_thread(host.notify, f"exported {len(written)} file(s) to {request.dest}")


def write_export(cue: Cue, request: ExportRequest, marks: tuple[Cue | None, Cue | None],
                 loop: tuple[float, float] | None) -> list[Path]:
    """Write ``request`` for the selected ``cue`` (or the A/B ``marks``); the files written:
    the song's stems at the cue's step (the engine's export).

    Raises :class:`ProgdemixError` or :class:`OSError` saying what went wrong.
    """
    if request.what == "ab":
        a, b = marks
        if a is None or b is None:
            raise ProgdemixError("mark A and B first (a, b)")
        return export_ab(a, b, request.dest, loop, request.fmt)
    session = open_session(cue.folder)
    target = session.config.target
    stems = (target,) if request.what == "target" else None
    two = target if request.what == "two" else None
    spec = ExportSpec(step=cue.step, stems=stems, two_stems=two, fmt=request.fmt,
                      template=TEMPLATE)
    return export_sessions([session], spec, request.dest)


TEMPLATE = "step{step}_{stem}.{ext}"
"""The dialog's file names in its folder (the engine's template variables)."""
