"""Merging evaluation folders (the shards of one evaluation) into one."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, OutputError
from ..files import write_text_atomic
from ..provenance import utc_now
from .folder import EvalFolder, Tables, finalize, json_text
from .one_track import TrackResult
from .settings import differences


@dataclass
class MergeReport:
    """What :func:`merge` did: the merged folder, track files copied and duplicates left."""

    folder: EvalFolder
    copied: int
    duplicates: list[str]
    tables: Tables


def merge(sources: list[str | Path], out: str | Path, plots: bool = True) -> MergeReport:
    """Merge shard folders into ``out``: copy their track files, union their skipped tracks,
    rebuild tables and plots. All folders (and ``out``, if it exists) must agree on
    parameters, else :class:`ConfigError`.

    Every source document is read and checked before anything is written. ``out``'s
    ``eval.json`` says ``running`` until the tables are rebuilt and ``failed`` if that fails,
    so a failed merge never leaves a folder that claims to be complete.
    """
    if not sources:
        raise ConfigError("eval-merge needs at least one evaluation folder.")
    folders = [EvalFolder.open(s) for s in sources]
    first = folders[0]
    for other in folders[1:]:
        diff = differences(first.parameters, other.parameters)
        if diff:
            raise ConfigError(f"{other.folder} was made with different parameters than "
                              f"{first.folder} ({', '.join(diff)}); merge only shards of one "
                              "evaluation.")
    files = [folder.track_files() for folder in folders]
    target = _merge_target(Path(out), first)
    status = "complete" if all(f.meta["status"] == "complete" for f in folders) else "partial"
    target.meta["status"] = "running"
    try:
        copied, duplicates = _merge_into(target, folders, files, sources)
        tables = finalize(target, plots)
    except BaseException:
        target.meta["status"] = "failed"
        with contextlib.suppress(OutputError):
            target.save()
        raise
    target.meta["status"] = status
    target.save()
    return MergeReport(target, copied, duplicates, tables)


def _merge_target(out: Path, first: EvalFolder) -> EvalFolder:
    """The merge's output folder: an evaluation folder of the same parameters, or new."""
    if (out / "eval.json").is_file():
        target = EvalFolder.open(out)
        diff = differences(first.parameters, target.parameters)
        if diff:
            raise ConfigError(f"{out} holds results made with different parameters "
                              f"({', '.join(diff)}); choose another --out folder.")
        return target
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"{out} is not empty and is no evaluation folder; choose a new "
                          "--out folder.")
    meta = {key: value for key, value in first.meta.items()
            if key not in ("skipped", "track_notes", "shard", "runs")}
    return EvalFolder(out, dict(meta, created=utc_now()))


def _merge_into(target: EvalFolder, folders: list[EvalFolder],
                files: list[list[tuple[Path, TrackResult]]],
                sources: list[str | Path]) -> tuple[int, list[str]]:
    """Write the checked track results of ``folders`` into ``target`` and unite their
    skipped tracks and notes; ``(copied, duplicates)``."""
    skipped = {s["track"]: s["reason"] for s in target.meta.get("skipped", [])}
    notes = dict(target.meta.get("track_notes", {}))
    copied, duplicates, finished = 0, [], set()
    target.save()
    for folder, tracks in zip(folders, files, strict=True):
        for path, result in tracks:
            dest = target.tracks_dir / path.name
            if dest.resolve() == path.resolve():
                finished.add(path.name)
                continue
            if path.name in finished:
                duplicates.append(path.stem)
                continue
            write_text_atomic(dest, json_text(result.to_dict()))
            finished.add(path.name)
            copied += 1
        for entry in folder.meta.get("skipped", []):
            skipped[entry["track"]] = entry["reason"]
        notes.update(folder.meta.get("track_notes", {}))
    target.meta["merged_from"] = sorted({str(Path(s)) for s in sources}
                                        | set(target.meta.get("merged_from", [])))
    target.meta["skipped"] = [{"track": k, "reason": v} for k, v in sorted(skipped.items())]
    target.meta["track_notes"] = notes
    target.save()
    return copied, duplicates
