"""What the export dialog writes (off the UI thread): a step's stems or the A/B clips."""

from __future__ import annotations

from pathlib import Path

from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.engine.export import ExportSpec, export_sessions
from progdemix_tui.engine.session import open_session

from .audition import Cue, export_ab
from .screens.export import ExportRequest


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
