"""Reading sessions for the app without letting a bad folder take it down.

The engine validates manifests and raises :class:`SessionError` (a :class:`ProgdemixError`)
with one line for a malformed or foreign one; anything else a tampered folder provokes is
turned into the same kind of line here, as a last resort, so the app can show it and go on.
No Textual here: the app and the sessions screen call these and notify.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from progdemix_tui.engine.errors import ProgdemixError, SessionError
from progdemix_tui.engine.progressive import StepMetrics
from progdemix_tui.engine.session import SessionSummary, list_sessions, open_session

from .paths import PATH_ERRORS, is_dir, reason


@dataclass(frozen=True)
class SessionView:
    """What the timeline shows of a stored session."""

    folder: Path
    rows: list[StepMetrics]
    target: str
    mode: str
    schedule: str
    sources: tuple[str, ...]
    has_references: bool
    status: str

    @property
    def title(self) -> str:
        return f"{self.folder.name}: {self.target}, {self.mode}, {self.schedule}"


def unexpected(folder: Path, exc: BaseException, what: str = "{} cannot be read as a session"
               ) -> SessionError:
    """One line for an error the engine did not name (a bug, or a document it let through)."""
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    why = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return SessionError(f"{what.format(folder)} ({why}).")


def read_session(folder: Path) -> SessionView:
    """The session in ``folder``; raises :class:`ProgdemixError` (one line) for anything
    that is not a readable session, whatever went wrong reading it."""
    try:
        session = open_session(folder)
        cfg = session.config
        return SessionView(folder, [r.metrics for r in session.steps], cfg.target, cfg.mode,
                           cfg.schedule, tuple(session.sources), session.has_references,
                           str(session.status))
    except ProgdemixError:
        raise
    except PATH_ERRORS as exc:
        raise SessionError(f"{folder} cannot be read ({reason(exc)}).") from None
    except Exception as exc:  # a manifest the engine did not validate: report, never crash
        raise unexpected(folder, exc) from None


def read_listing(root: Path) -> tuple[list[SessionSummary], list[str]]:
    """The sessions under ``root`` and one line for each folder that was left out.

    Never raises. If the listing itself fails, it is empty, and the lines say why and name
    the folders that cannot be read.
    """
    notes: list[str] = []
    try:
        sessions = list_sessions(root)
    except ProgdemixError as exc:
        sessions, notes = [], [str(exc)]
    except PATH_ERRORS as exc:
        return [], [f"cannot list the sessions in {root} ({reason(exc)})."]
    except Exception as exc:  # last resort, see the module docstring
        sessions, notes = [], [str(unexpected(root, exc, "cannot list the sessions in {}"))]
    listed = {s.folder.name for s in sessions}
    for folder in _candidates(root):
        if folder.name in listed:
            continue
        try:
            read_session(folder)
        except ProgdemixError as exc:
            notes.append(str(exc))
        else:
            if not notes:
                notes.append(f"{folder} was left out of the listing.")
    return sessions, notes


def _candidates(root: Path) -> list[Path]:
    """Folders under ``root`` that hold a ``manifest.json``, or that cannot be looked into."""
    try:
        folders = sorted(p for p in root.iterdir() if is_dir(p))
    except PATH_ERRORS:
        return []
    out = []
    for folder in folders:
        try:
            if (folder / "manifest.json").exists():
                out.append(folder)
        except PATH_ERRORS:  # a folder we may not search: say so rather than hide it
            out.append(folder)
    return out
