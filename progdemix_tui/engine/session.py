"""Sessions on disk: one folder per run, written step by step, atomically.

Layout::

    SESSION/
      manifest.json            parameters, model, versions, device, threads, per-step metrics,
                               files
      references/<stem>.flac   true stems, when the run had references
      steps/000/mixture.flac   y_n (y itself at step 0)
      steps/000/<stem>.flac    the step's estimates
      steps/NNN/state.npy      the loop's state after the last step (float32 estimates and
                               y_n), for ``run --resume``; removed when the run completes
      .lock                    locked (``flock``) by the live writer for the run's lifetime

Every audio file is written to a temporary name and renamed; the manifest is rewritten the
same way after each step's files exist, so it only ever lists complete steps. FLAC holds
24-bit integers: a signal peaking above 1 is scaled down before writing and its ``scale``
recorded, which :meth:`Session.load` undoes. ``status`` is ``running`` until the run ends as
``complete``, ``converged``, ``cancelled`` or ``failed``. The kernel drops the writer's lock
when its process dies however it dies, so a ``running`` session whose lock is free reads as
``interrupted``, with its completed steps intact. ``--overwrite`` removes what the format
owns (the files above, the report's plots, temporaries) and keeps anything else.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import torch

from . import audio
from .config import RunConfig
from .config import StemFormat as StemFormat  # re-exported: job.py imports it from here
from .errors import OutputError, SessionError
from .files import atomic_path, write_text_atomic
from .manifest import Invalid, member, read_manifest
from .plots import SESSION_PLOTS
from .procedure import result_count
from .progressive import IterationResult, StepMetrics, best_step
from .provenance import header, provenance, utc_now
from .stem_names import stem_names_problem

FORMAT = "progdemix-session"
VERSION = 1
Status = Literal["running", "complete", "converged", "cancelled", "failed"]
ReadStatus = Literal[Status, "interrupted"]  # running, but no live writer holds the lock
LOCK = ".lock"
PLOTS = SESSION_PLOTS  # what ``report`` draws into a session
STEP_FOLDER = re.compile(r"^\d{3,}$")

try:
    import fcntl
except ImportError:  # not POSIX: no lock, and "running" is read as stored
    fcntl = None  # type: ignore[assignment]


def newest_first(summary: SessionSummary) -> tuple[_dt.datetime, str]:
    """Sort key of the listings (reversed: newest first): ``created`` to the microsecond,
    then the folder's name, so sessions made in the same second keep one order."""
    try:
        when = _dt.datetime.fromisoformat(summary.created)
    except ValueError:
        when = _dt.datetime.min
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when, summary.folder.name


def default_session_name(input_path: str | Path, target: str, mode: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(input_path).stem or Path(input_path).name)[:40]
    return f"{stamp}-{stem}-{target}-{mode}"


def new_session_folder(parent: str | Path, input_path: str | Path, target: str,
                       mode: str) -> Path:
    """A new, empty session folder in ``parent`` named by :func:`default_session_name`
    (``-2``, ``-3``… appended when a run of the same second took the name), created here with
    one ``mkdir`` each try, so runs started together never share one. OSError if ``parent``
    cannot hold it."""
    base = Path(parent) / default_session_name(input_path, target, mode)
    Path(parent).mkdir(parents=True, exist_ok=True)
    folder, n = base, 1
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            n += 1
            folder = base.with_name(f"{base.name}-{n}")


def check_output_folder(folder: str | Path, overwrite: bool = False) -> None:
    """Raise :class:`OutputError` unless a session can be written to ``folder``.

    Cheap, and writes nothing, so callers can check before loading a model: ``folder`` must
    be new or empty (or ``overwrite``), and its nearest existing parent writable.
    """
    folder = Path(folder)
    try:
        _check_output_folder(folder, overwrite)
    except OSError as exc:  # e.g. a name too long for the file system (ENAMETOOLONG)
        name = str(folder) if len(str(folder)) <= 60 else f"{str(folder)[:57]}…"
        raise OutputError(f"cannot create {name} ({exc.strerror}); choose another --out "
                          "folder.") from None


def _check_output_folder(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} exists and is not a folder; choose another --out.")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise OutputError(f"{folder} is not empty; choose a new --out folder or pass --overwrite.")
    parent = folder.absolute()
    while not parent.exists():
        parent = parent.parent
    reason = None
    if not parent.is_dir():
        reason = f"{parent} is not a folder"
    elif not os.access(parent, os.W_OK | os.X_OK):
        read_only = os.statvfs(parent).f_flag & os.ST_RDONLY
        reason = "Read-only file system" if read_only else "Permission denied"
    if reason:
        raise OutputError(f"cannot create {folder} ({reason}); choose a writable --out folder.")


def _take_lock(folder: Path) -> int | None:
    """Open and lock ``folder/.lock`` for this writer; OutputError if another writer has it."""
    if fcntl is None:
        return None
    try:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot create {folder / LOCK} ({exc.strerror}); "
                          "choose a writable --out folder.") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutputError(f"{folder} is being written by another run; choose another --out "
                          "folder.") from None
    except OSError:
        pass  # a file system without locks: the run goes on; readers may say interrupted
    return fd


def writer_alive(folder: Path) -> bool | None:
    """Whether a live writer holds ``folder``'s lock; None when that cannot be told."""
    if fcntl is None:
        return None
    try:
        fd = os.open(folder / LOCK, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # also drops the shared lock just taken
    return False


def remove_owned(folder: Path) -> None:
    """Remove what the session format owns from ``folder``; leave everything else.

    Links are removed, never followed: a ``steps`` link to elsewhere loses nothing there.
    """
    for name in ("manifest.json", *PLOTS):
        _remove(folder / name)
    _remove(folder / "references")
    steps = folder / "steps"
    if steps.is_dir() and not steps.is_symlink():
        for child in steps.iterdir():
            if STEP_FOLDER.match(child.name) or child.name.endswith(".part"):
                _remove(child)
        with contextlib.suppress(OSError):
            steps.rmdir()  # only when nothing of the user's is left in it
    else:
        _remove(steps)
    for temporary in folder.glob(".*.part"):
        _remove(temporary)


STATE = "state.npy"


def state_path(folder: Path, step: int) -> Path:
    """Where the loop's state after ``step`` is kept (:func:`write_state`)."""
    return folder / "steps" / f"{step:03d}" / STATE


def write_state(folder: Path, step: int, estimates: torch.Tensor, mixture: torch.Tensor) -> None:
    """Keep the loop's state after ``step`` at full precision, atomically: ``[sources + 1,
    channels, time]`` float32, the estimates then y_n (the stems' FLAC is 24-bit)."""
    import numpy as np

    state = torch.cat([estimates, mixture[None]]).to("cpu", torch.float32).numpy()
    try:
        with atomic_path(state_path(folder, step)) as tmp, open(tmp, "wb") as file:
            np.save(file, state, allow_pickle=False)
    except OSError as exc:
        raise OutputError(f"cannot write {state_path(folder, step)} ({exc.strerror or exc}); "
                          "choose a writable --out folder with room.") from None


def drop_state(folder: Path, step: int) -> None:
    with contextlib.suppress(OSError):
        state_path(folder, step).unlink(missing_ok=True)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


class SessionWriter:
    """Writes a run into ``folder`` as it goes. Use as a context manager around the loop.

    Leaving the ``with`` block normally marks the session ``complete`` (or ``converged``);
    a :class:`.errors.Cancelled`, ``KeyboardInterrupt`` or a closed generator marks it
    ``cancelled``; any other
    exception ``failed``. Completed steps stay valid in every case. The writer holds the
    folder's lock from construction until it leaves the ``with`` block (or :meth:`close`).
    """

    def __init__(self, folder: str | Path, config: RunConfig, *, input_info: dict,
                 model_info: dict, device: str, samplerate: int, sources: tuple[str, ...],
                 stem_format: StemFormat = "flac", overwrite: bool = False):
        problem = stem_names_problem(sources)
        if problem:  # stem names become file names: refused before the folder is touched
            raise SessionError(f"cannot write a session for these stems: {problem}.")
        self.folder = Path(folder)
        self.samplerate = samplerate
        self.sources = sources
        self.stem_format = stem_format
        self._lock: int | None = None
        self._prepare(overwrite)
        self.manifest: dict = {
            **header(FORMAT, VERSION, created="microseconds"), "input": input_info,
            **provenance(model_info, device, torch.get_num_threads()),
            "samplerate": samplerate, "sources": list(sources), "config": config.to_dict(),
            "references": None, "steps": [], "error": None, "notes": [],
        }
        try:
            self._save_manifest()
        except BaseException:
            self.close()
            raise

    def _prepare(self, overwrite: bool) -> None:
        check_output_folder(self.folder, overwrite)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create {self.folder} ({exc.strerror}); choose a writable --out folder."
            ) from None
        self._lock = _take_lock(self.folder)
        if overwrite:
            try:
                remove_owned(self.folder)
            except OSError as exc:
                self.close()
                raise OutputError(f"cannot clear the earlier session in {self.folder} "
                                  f"({exc.strerror or exc}); choose another --out.") from None

    def close(self) -> None:
        """Release the folder's lock (after the final status is written)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _suffix(self) -> str:
        return ".flac" if self.stem_format == "flac" else ".wav"

    def _write_audio(self, rel: str, samples: torch.Tensor) -> dict:
        peak = float(samples.abs().max()) if samples.numel() else 0.0
        scale = 1.0
        if self.stem_format == "flac" and peak > 1.0:
            scale = peak
            samples = samples / scale
        audio.save(self.folder / rel, samples, self.samplerate)
        return {"path": rel, "scale": scale}

    def write_references(self, references: torch.Tensor) -> None:
        """Store the true stems ``[sources, channels, time]`` once, for audition."""
        files = {name: self._write_audio(f"references/{name}{self._suffix()}", references[i])
                 for i, name in enumerate(self.sources)}
        self.manifest["references"] = files
        self._save_manifest()

    def write_step(self, result: IterationResult) -> None:
        """Write a step's y_n and stems, then list the step in the manifest."""
        base = f"steps/{result.step:03d}/"
        files = {"mixture": self._write_audio(base + "mixture" + self._suffix(), result.mixture)}
        for i, name in enumerate(result.sources):
            files[name] = self._write_audio(base + name + self._suffix(), result.estimates[i])
        write_state(self.folder, result.step, result.estimates, result.mixture)
        self.manifest["steps"].append({"metrics": result.metrics.to_dict(), "files": files})
        self._save_manifest()
        if len(self.manifest["steps"]) > 1:  # only the last step's state is ever needed
            drop_state(self.folder, self.manifest["steps"][-2]["metrics"]["step"])

    @classmethod
    def reopen(cls, session: Session) -> SessionWriter:
        """A writer appending to ``session`` (``run --resume``): its lock taken again (an
        OutputError if a live writer has it), its status ``running`` until it ends."""
        self = cls.__new__(cls)
        self.folder = session.folder
        self.samplerate = int(session.manifest["samplerate"])
        self.sources = session.sources
        first = session.steps[0].files["mixture"]["path"] if session.steps else ""
        self.stem_format = "wav" if first.endswith(".wav") else "flac"
        self._lock = _take_lock(self.folder)
        self.manifest = session.manifest
        self.manifest.update(status="running", error=None)
        try:
            self._save_manifest()
        except BaseException:
            self.close()
            raise
        return self

    def note(self, text: str) -> None:
        self.manifest["notes"].append(text)

    def finish(self, status: Status, error: str | None = None) -> None:
        if status in ("complete", "converged") and self.manifest["steps"]:
            drop_state(self.folder, self.manifest["steps"][-1]["metrics"]["step"])
        self.manifest["status"] = status
        self.manifest["error"] = error
        self._save_manifest()

    def _save_manifest(self) -> None:
        self.manifest["updated"] = utc_now()
        write_text_atomic(self.folder / "manifest.json",
                                json.dumps(self.manifest, indent=2, allow_nan=False) + "\n")

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._end(exc_type, exc)
        finally:
            self.close()

    def _end(self, exc_type, exc) -> None:
        from .errors import Cancelled

        if exc_type is None:
            steps = self.manifest["steps"]
            converged = bool(steps) and steps[-1]["metrics"].get("converged")
            self.finish("converged" if converged else "complete")
        elif issubclass(exc_type, (Cancelled, KeyboardInterrupt, GeneratorExit)):
            self.finish("cancelled")
        elif issubclass(exc_type, OutputError):
            # The disk itself may be the problem; then the last manifest stays valid.
            with contextlib.suppress(OutputError):
                self.finish("failed", str(exc))
        else:
            self.finish("failed", f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- reading


@dataclass
class StepRecord:
    """A completed step as stored: its metrics and its files (relative paths and scales)."""

    metrics: StepMetrics
    files: dict[str, dict]

    @property
    def step(self) -> int:
        return self.metrics.step


@dataclass
class Session:
    """A session folder opened for reading. Audio is loaded on demand, one file at a time."""

    folder: Path
    manifest: dict
    steps: list[StepRecord] = field(default_factory=list)

    @property
    def status(self) -> ReadStatus:
        """As stored, except ``interrupted``: ``running`` with no live writer holding the
        lock (its process was killed, crashed, or lost its machine)."""
        stored = self.manifest["status"]
        if stored == "running" and writer_alive(self.folder) is False:
            return "interrupted"
        return stored

    @property
    def config(self) -> RunConfig:
        return RunConfig.from_dict(self.manifest["config"])

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self.manifest["sources"])

    @property
    def samplerate(self) -> int:
        return int(self.manifest["samplerate"])

    @property
    def has_references(self) -> bool:
        return bool(self.manifest.get("references"))

    def path(self, step: int, name: str) -> Path:
        """File of ``name`` (a stem or ``mixture``) at ``step``; ``step=-1`` for references.

        Every reader goes through here: a path that leads out of the session (checked again
        now, as a symlink may have appeared since it was opened) is a :class:`SessionError`.
        """
        entry = self._entry(step, name)
        try:
            return member(self.folder, entry["path"], f"{name} of step {step}")
        except Invalid as exc:
            raise SessionError(f"{self.folder}: {exc}; refusing to read it.") from None

    def scale(self, step: int, name: str) -> float:
        return float(self._entry(step, name).get("scale", 1.0))

    def _entry(self, step: int, name: str) -> dict:
        if step < 0:
            refs = self.manifest.get("references") or {}
            if name not in refs:
                raise KeyError(f"no reference for {name!r}")
            return refs[name]
        for record in self.steps:
            if record.step == step:
                return record.files[name]
        raise KeyError(f"session has no step {step}")

    def load(self, step: int, name: str) -> torch.Tensor:
        """``[channels, time]`` float32 of ``name`` at ``step`` (scale undone)."""
        loaded = audio.load(self.path(step, name), channels=2)
        return loaded.samples * self.scale(step, name)

    def best_step(self) -> int | None:
        """Step with the highest target SI-SDR (with references) — else None."""
        return best_step([r.metrics for r in self.steps], self.config.target)


def open_session(folder: str | Path) -> Session:
    """Read a session folder. Raises :class:`SessionError` (one line) if it is not one, or
    if its manifest is malformed or names a file outside the folder."""
    folder = Path(folder)
    manifest = read_manifest(folder, FORMAT, VERSION)
    steps = [StepRecord(StepMetrics.from_dict(s["metrics"]), s["files"])
             for s in manifest["steps"]]
    return Session(folder, manifest, steps)


@dataclass(frozen=True)
class SessionScan:
    """The sessions under a folder, and one line for each folder that was skipped."""

    sessions: list[SessionSummary]
    skipped: list[str]


@dataclass(frozen=True)
class SessionSummary:
    """One line about a session, for listings."""

    folder: Path
    created: str
    status: str
    input: str
    target: str
    mode: str
    steps_done: int
    steps_planned: int
    model: str
    schedule: str = "?"
    beta_max: float | None = None
    best_step: int | None = None  # highest target SI-SDR (with references)
    best_delta_db: float | None = None  # its target SI-SDR change since step 0

    @property
    def song(self) -> str:
        """The input's name: the file's stem, or its track folder's name for a
        ``mixture.*`` file."""
        path = Path(self.input)
        return path.parent.name if path.stem == "mixture" and path.parent.name else path.stem

    @property
    def schedule_text(self) -> str:
        """``linear`` or ``linear ≤0.8`` (the schedule and its β cap when below 1)."""
        cap = self.beta_max
        return self.schedule if cap is None or cap >= 1 else f"{self.schedule} ≤{cap:g}"


def list_sessions(root: str | Path) -> list[SessionSummary]:
    """Sessions directly under ``root`` (newest first); malformed folders are skipped."""
    return scan_sessions(root).sessions


def scan_sessions(root: str | Path) -> SessionScan:
    """Sessions directly under ``root`` (newest first), and a one-line note per folder with
    a ``manifest.json`` that is not a valid session (skipped; the rest are kept)."""
    root = Path(root)
    out: list[SessionSummary] = []
    skipped: list[str] = []
    if not root.is_dir():
        return SessionScan(out, skipped)
    for folder in sorted(root.iterdir()):
        try:
            if not (folder.is_dir() and (folder / "manifest.json").exists()):
                continue
            out.append(summarize(open_session(folder)))
        except SessionError as exc:
            skipped.append(f"skipped {folder.name}: {exc}")
        except OSError as exc:  # a folder that cannot be searched: say so, do not hide it
            skipped.append(f"skipped {folder.name}: cannot be read ({exc.strerror or exc}).")
    return SessionScan(sorted(out, key=newest_first, reverse=True), skipped)


def summarize(s: Session) -> SessionSummary:
    """The listing line of an opened (hence validated) session."""
    cfg = s.config
    best = s.best_step()
    delta = next((r.metrics.si_sdr_delta for r in s.steps if r.step == best), None)
    return SessionSummary(s.folder, s.manifest.get("created", ""), s.status,
                          str(s.manifest.get("input", {}).get("path", "")), cfg.target,
                          cfg.mode, len(s.steps), result_count(cfg),
                          str(s.manifest.get("model", {}).get("name", "?")), cfg.schedule,
                          cfg.beta_max, best, delta)
