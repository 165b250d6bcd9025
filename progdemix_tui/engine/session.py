"""Sessions on disk: one folder per run, written step by step, atomically.

Layout::

    SESSION/
      manifest.json            parameters, model, versions, device, per-step metrics, files
      references/<stem>.flac   true stems, when the run had references
      steps/000/mixture.flac   y_n (y itself at step 0)
      steps/000/<stem>.flac    the step's estimates

Every audio file is written to a temporary name and renamed; the manifest is rewritten the
same way after each step's files exist, so it only ever lists complete steps. FLAC holds
24-bit integers: a signal peaking above 1 is scaled down before writing and its ``scale``
recorded, which :meth:`Session.load` undoes. ``status`` is ``running`` until the run ends as
``complete``, ``converged``, ``cancelled`` or ``failed``; a ``running`` session whose process
died reads as interrupted, with its completed steps intact.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from . import audio
from .config import RunConfig
from .errors import AudioInputError, OutputError
from .progressive import IterationResult, StepMetrics, best_step

FORMAT = "progdemix-session"
VERSION = 1
Status = Literal["running", "complete", "converged", "cancelled", "failed"]
StemFormat = Literal["flac", "wav"]


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second, for manifests."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    """Versions of what produced a result, for reproducibility."""
    import demucs

    from progdemix_tui import __version__

    return {"progdemix_tui": __version__, "torch": torch.__version__,
            "demucs": getattr(demucs, "__version__", "?"), "python": platform.python_version()}


def default_session_name(input_path: str | Path, target: str, mode: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(input_path).stem or Path(input_path).name)[:40]
    return f"{stamp}-{stem}-{target}-{mode}"


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


class SessionWriter:
    """Writes a run into ``folder`` as it goes. Use as a context manager around the loop.

    Leaving the ``with`` block normally marks the session ``complete`` (or ``converged``);
    a :class:`.errors.Cancelled`, ``KeyboardInterrupt`` or a closed generator marks it
    ``cancelled``; any other
    exception ``failed``. Completed steps stay valid in every case.
    """

    def __init__(self, folder: str | Path, config: RunConfig, *, input_info: dict,
                 model_info: dict, device: str, samplerate: int, sources: tuple[str, ...],
                 stem_format: StemFormat = "flac", overwrite: bool = False):
        self.folder = Path(folder)
        self.samplerate = samplerate
        self.sources = sources
        self.stem_format = stem_format
        self._prepare(overwrite)
        self.manifest: dict = {
            "format": FORMAT, "version": VERSION, "status": "running",
            "created": utc_now(), "updated": utc_now(),
            "input": input_info, "model": model_info, "device": device,
            "samplerate": samplerate, "sources": list(sources),
            "config": config.to_dict(), "versions": versions(),
            "references": None, "steps": [], "error": None, "notes": [],
        }
        self._save_manifest()

    def _prepare(self, overwrite: bool) -> None:
        check_output_folder(self.folder, overwrite)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create {self.folder} ({exc.strerror}); choose a writable --out folder."
            ) from None
        if overwrite:
            old = self.folder / "manifest.json"
            old.unlink(missing_ok=True)

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
        self.manifest["steps"].append({"metrics": result.metrics.to_dict(), "files": files})
        self._save_manifest()

    def note(self, text: str) -> None:
        self.manifest["notes"].append(text)

    def finish(self, status: Status, error: str | None = None) -> None:
        self.manifest["status"] = status
        self.manifest["error"] = error
        self._save_manifest()

    def _save_manifest(self) -> None:
        self.manifest["updated"] = utc_now()
        audio.write_text_atomic(self.folder / "manifest.json",
                                json.dumps(self.manifest, indent=2, allow_nan=False) + "\n")

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
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
        return False


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
    def status(self) -> str:
        return self.manifest.get("status", "unknown")

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
        """File of ``name`` (a stem or ``mixture``) at ``step``; ``step=-1`` for references."""
        entry = self._entry(step, name)
        return self.folder / entry["path"]

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
    """Read a session folder. Raises :class:`AudioInputError` if it is not one."""
    folder = Path(folder)
    manifest = audio.read_json_document(folder / "manifest.json", FORMAT, "session")
    steps = [StepRecord(StepMetrics.from_dict(s["metrics"]), s["files"])
             for s in manifest.get("steps", [])]
    return Session(folder, manifest, steps)


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


def list_sessions(root: str | Path) -> list[SessionSummary]:
    """Sessions directly under ``root`` (newest first); unreadable folders are skipped."""
    root = Path(root)
    out: list[SessionSummary] = []
    if not root.is_dir():
        return out
    for manifest in root.glob("*/manifest.json"):
        try:
            s = open_session(manifest.parent)
        except AudioInputError:
            continue
        cfg = s.manifest.get("config", {})
        best = s.best_step()
        delta = next((r.metrics.si_sdr_delta for r in s.steps if r.step == best), None)
        out.append(SessionSummary(s.folder, s.manifest.get("created", ""), s.status,
                                  str(s.manifest.get("input", {}).get("path", "")),
                                  cfg.get("target", "?"), cfg.get("mode", "?"), len(s.steps),
                                  int(cfg.get("steps", 0)) + 1,
                                  s.manifest.get("model", {}).get("name", "?"),
                                  cfg.get("schedule", "?"), cfg.get("beta_max"), best, delta))
    return sorted(out, key=lambda x: x.created, reverse=True)


def export_step(session: Session, step: int, dest: str | Path, stems: list[str] | None = None,
                fmt: StemFormat = "wav", subtype: audio.Subtype | None = None) -> list[Path]:
    """Copy a step's stems (all, or ``stems``) to ``dest`` as WAV/FLAC, plus the manifest.

    Returns the written paths; each file is written atomically.
    """
    dest = Path(dest)
    names = stems or list(session.sources)
    written = []
    for name in names:
        samples = session.load(step, name)
        out = dest / f"step{step:03d}_{name}.{fmt}"
        if fmt == "flac" and samples.abs().max() > 1.0:
            samples = samples / samples.abs().max()
        written.append(audio.save(out, samples, session.samplerate, subtype))
    manifest = dict(session.manifest, exported={"step": step, "stems": names})
    written.append(audio.write_text_atomic(dest / "manifest.json",
                                           json.dumps(manifest, indent=2) + "\n"))
    return written
