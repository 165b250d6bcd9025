"""The evaluation loop: which (track, target) pairs are left (:func:`plan`) and running
them one by one into an :class:`.folder.EvalFolder` (:func:`evaluate`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from .. import audio
from ..dataset import Dataset, DatasetTrack, TrackAudio, TrackSkipped, load_track
from ..errors import AudioInputError, Cancelled, DeviceError, OutputError
from ..models.base import ModelShape, shape_of
from ..procedure import procedure_for, result_count
from ..progressive import SeparatorLike
from ..resources import preflight
from .folder import EvalFolder
from .one_track import TrackResult, evaluate_track
from .settings import EvalSettings


class EvalEvents(Protocol):
    """Callbacks of :func:`evaluate`. Any class with these methods will do; a subclass
    overrides what it needs (the others are no-ops)."""

    def track_started(self, name: str, target: str, steps: int) -> None:
        return None

    def chunk(self, step: int, done: int, total: int) -> None:
        return None

    def step_done(self, step: int) -> None:
        return None

    def track_done(self, result: TrackResult) -> None:
        return None

    def track_skipped(self, name: str, reason: str, runs: int) -> None:
        return None

    def track_loaded(self, track: TrackAudio) -> None:
        return None


class _NoEvents(EvalEvents):
    """The default of :func:`evaluate`: nobody listens."""


@dataclass
class Plan:
    """Which tracks and targets are left to do in a (shard of a) dataset."""

    tracks: list[DatasetTrack]
    targets: tuple[str, ...]
    todo: list[tuple[DatasetTrack, tuple[str, ...]]]
    done: int

    @property
    def runs_left(self) -> int:
        return sum(len(t) for _, t in self.todo)


def plan(dataset: Dataset, settings: EvalSettings, folder: EvalFolder,
         shard: tuple[int, int] = (0, 1)) -> Plan:
    """Tracks of ``shard`` (``index, count``) with the targets not yet done in ``folder``."""
    tracks = dataset.shard(*shard)
    todo, done = [], 0
    for track in tracks:
        left = tuple(t for t in settings.targets if not folder.done(track.name, t))
        done += len(settings.targets) - len(left)
        if left:
            todo.append((track, left))
    return Plan(tracks, settings.targets, todo, done)


def evaluate(
    separator: SeparatorLike,
    work: Plan,
    settings: EvalSettings,
    folder: EvalFolder,
    events: EvalEvents | None = None,
    cancel: threading.Event | None = None,
) -> list[TrackResult]:
    """Run every (track, target) of ``work``, writing each result as soon as it exists.

    Skipped tracks are recorded in ``eval.json`` (``skipped``) with their reason. On cancel
    (:class:`Cancelled` or Ctrl-C) the folder is marked ``cancelled`` and the error
    re-raised; finished tracks stay. Returns the results computed in this call.
    """
    events = events or _NoEvents()
    skipped = {s["track"]: s["reason"] for s in folder.meta.get("skipped", [])}
    notes = dict(folder.meta.get("track_notes", {}))
    results: list[TrackResult] = []
    status = "failed"
    try:
        for track, targets in work.todo:
            try:
                check_track_fits(track, settings, tuple(separator.sources), separator.samplerate,
                                 _shape(separator))
                loaded = load_track(track, separator.samplerate, tuple(separator.sources),
                                    settings.excerpt, settings.new_mixture, settings.silence_db,
                                    procedure_for(settings.config).track_start(track.folder))
            except (TrackSkipped, AudioInputError) as exc:  # a broken track: skip, go on
                skipped[track.name] = str(exc)
                events.track_skipped(track.name, str(exc), len(targets))
                _record(folder, skipped, notes)
                continue
            skipped.pop(track.name, None)
            if loaded.notes:
                notes[track.name] = loaded.notes
            events.track_loaded(loaded)
            for target in targets:
                events.track_started(track.name, target,
                                     result_count(settings.config) + len(settings.oracle_betas))
                result = evaluate_track(separator, loaded, settings.config_for(target),
                                        settings.sdr, settings.oracle_betas, cancel,
                                        events.chunk, events.step_done, settings.sdr_whole)
                folder.write_track(result)
                results.append(result)
                events.track_done(result)
            del loaded
        status = "complete"
    except (Cancelled, KeyboardInterrupt):
        status = "cancelled"
        raise
    finally:
        folder.meta["status"] = status
        _record(folder, skipped, notes)
    return results


def _shape(separator: SeparatorLike) -> ModelShape | None:
    """The loaded model's shape (its size and segment), where the separator has a model."""
    model = getattr(separator, "model", None) or getattr(getattr(separator, "inner", None),
                                                         "model", None)
    return None if model is None else shape_of(model)


def check_track_fits(track: DatasetTrack, settings: EvalSettings,
                     sources: tuple[str, ...], samplerate: int,
                     shape: ModelShape | None = None) -> None:
    """Raise :class:`TrackSkipped` when ``track``'s excerpt cannot fit in the memory
    available (:func:`progdemix_tui.engine.resources.preflight`, with the loaded model's
    ``shape``: its size and segment, else its ``samplerate`` and ``sources``); reads only a
    header, before any audio."""
    try:
        head = audio.info(track.files["mixture"] if "mixture" in track.files
                          else track.files[sources[0]])
    except (KeyError, AudioInputError):
        return  # load_track says what is wrong with the files
    frames = head.frames
    if settings.excerpt:
        frames = min(frames, int(round(settings.excerpt * head.samplerate)))
    try:
        preflight(frames, head.samplerate, settings.config, references=True,
                  what=f"track {track.name}", command="eval",
                  shape=shape or ModelShape(samplerate, len(sources)),
                  procedure=procedure_for(settings.config))
    except DeviceError as exc:
        raise TrackSkipped(str(exc)) from None


def _record(folder: EvalFolder, skipped: dict[str, str], notes: dict[str, list[str]]) -> None:
    folder.meta["skipped"] = [{"track": k, "reason": v} for k, v in sorted(skipped.items())]
    folder.meta["track_notes"] = notes
    try:
        folder.save()
    except OutputError:
        if folder.meta["status"] == "running":
            raise
