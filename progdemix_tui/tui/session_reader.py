"""Reading sessions for the app without letting a bad folder take it down.

The engine validates manifests and raises :class:`SessionError` (a :class:`ProgdemixError`)
with one line for a malformed or foreign one; anything else a tampered folder provokes is
turned into the same kind of line here, as a last resort, so the app can show it and go on.
No Textual here: the app and the sessions screen call these and notify.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from progdemix_tui.engine.config import RunConfig
from progdemix_tui.engine.errors import ProgdemixError, SessionError
from progdemix_tui.engine.progressive import StepMetrics
from progdemix_tui.engine.session import SessionSummary, open_session, scan_sessions
from progdemix_tui.text import visible

from .paths import PATH_ERRORS, reason


def run_title(name: str, cfg: RunConfig) -> str:
    """A run's own parameters, from its config (a session's manifest), never the panel's,
    first (a narrow title cuts the folder name, not them):
    ``model · target · mode · schedule β≤1 · 10 steps · adaptive — folder``; the model and
    folder names from files, with their control characters visible."""
    model = Path(cfg.separator.model).name
    adaptive = " · adaptive" if cfg.adaptive is not None else ""
    return visible(f"{model} · {cfg.target} · {cfg.mode} · {cfg.schedule} β≤{cfg.beta_max:g} · "
                   f"{cfg.steps} steps{adaptive} — {name}")


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
    config: RunConfig

    @property
    def title(self) -> str:
        return run_title(self.folder.name, self.config)


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
                           str(session.status), cfg)
    except ProgdemixError:
        raise
    except PATH_ERRORS as exc:
        raise SessionError(f"{folder} cannot be read ({reason(exc)}).") from None
    except Exception as exc:  # a manifest the engine did not validate: report, never crash
        raise unexpected(folder, exc) from None


def read_listing(root: Path) -> tuple[list[SessionSummary], list[str]]:
    """The sessions under ``root`` and one line for each folder that was left out.

    Never raises: if the listing itself fails, it is empty and the one line says why.
    """
    try:
        scan = scan_sessions(root)
    except ProgdemixError as exc:
        return [], [str(exc)]
    except PATH_ERRORS as exc:
        return [], [f"cannot list the sessions in {root} ({reason(exc)})."]
    except Exception as exc:  # last resort, see the module docstring
        return [], [str(unexpected(root, exc, "cannot list the sessions in {}"))]
    return scan.sessions, scan.skipped
