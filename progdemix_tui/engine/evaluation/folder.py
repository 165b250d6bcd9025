"""The evaluation folder format: ``eval.json``, one file per finished track, and the tables
and plots rebuilt from them.

Output folder layout::

    OUT/
      eval.json                     parameters, model, versions, dataset, skipped tracks
      tracks/<track>__<target>.json one finished (track, target): per-step metrics (+ SDR)
      results.csv / results.json    long table: one row per track × target × step × stem
      summary.csv / summary.json    mean, median, std, min, max per target × step × stem
      oracle_gain.csv               target SI-SDR per track × gain (with --oracle-gain)
      *.png                         plots (see :mod:`progdemix_tui.engine.plots`)

A track file is written atomically when the track is done, so an interrupted evaluation
keeps finished tracks and a re-run with the same parameters skips them. Tables and plots are
always rebuilt from the track files (:func:`finalize`), which also makes merging shard
folders a matter of copying track files (:func:`.merge.merge`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import upgrade_config_dict
from ..errors import ConfigError, OutputError, SessionError
from ..files import inside, write_text_atomic
from ..procedure import procedure_for
from ..provenance import header, utc_now
from . import documents
from .one_track import TrackResult
from .settings import EvalSettings, differences
from .statistics import (
    ORACLE_COLUMNS,
    ROW_COLUMNS,
    SUMMARY_COLUMNS,
    oracle_rows,
    result_rows,
    summarize,
    summarize_oracle,
)

FORMAT = "progdemix-eval"
VERSION = 1


def to_csv(rows: list[dict], columns: Iterable[str]) -> str:
    """CSV text with a header; None becomes an empty cell, floats keep full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = list(columns)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else repr(row[c])
                         if isinstance(row.get(c), float) else row[c] for c in columns])
    return buffer.getvalue()


def json_text(data: Any) -> str:
    """The folder's JSON style: indented, NaN refused, one final newline."""
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


def track_file_name(track: str, target: str) -> str:
    """``tracks/`` file name of one (track, target), safe on every file system."""
    safe = re.sub(r"[^A-Za-z0-9._ -]+", "_", track).strip() or "track"
    return f"{safe}__{target}.json"


class EvalFolder:
    """An evaluation output folder: ``eval.json`` plus one JSON file per finished track."""

    def __init__(self, folder: str | Path, meta: dict):
        self.folder = Path(folder)
        self.meta = meta

    @property
    def parameters(self) -> dict:
        return self.meta["parameters"]

    @property
    def tracks_dir(self) -> Path:
        return self.folder / "tracks"

    @classmethod
    def open(cls, folder: str | Path) -> EvalFolder:
        """Read an existing folder, checking ``eval.json`` (see :mod:`.documents`).

        Raises :class:`SessionError` if it is no evaluation folder, is malformed, or a file
        or ``tracks/`` leads outside it.
        """
        folder = Path(folder)
        path = folder / "eval.json"
        if not path.is_file():
            raise SessionError(f"{folder} is not an evaluation folder (no eval.json).")
        meta = documents.check_meta(
            documents.read_json(folder, path, documents.META_ADVICE), path, FORMAT, VERSION)
        run = meta["parameters"].get("run") if isinstance(meta.get("parameters"), dict) else None
        if isinstance(run, dict):  # old names (a schedule, half) read as their new ones
            meta["parameters"]["run"] = upgrade_config_dict(run)
        made = cls(folder, meta)
        if made.tracks_dir.exists() or made.tracks_dir.is_symlink():
            inside(folder, made.tracks_dir, documents.leads_out(folder, made.tracks_dir))
        return made

    @classmethod
    def create_or_resume(cls, folder: str | Path, settings: EvalSettings,
                         info: dict) -> EvalFolder:
        """Open ``folder`` for ``settings``: new, or resumed when its parameters agree.

        Raises :class:`ConfigError` if the folder holds results of other parameters and
        :class:`OutputError` if it is a file or holds something else.
        """
        folder = Path(folder)
        existing = cls.check(folder, settings)
        if existing is not None:
            existing.meta.update(info, status="running")
            existing.meta["runs"] = int(existing.meta.get("runs", 1)) + 1
            existing.save()
            return existing
        params = settings.parameters()
        meta = {**header(FORMAT, VERSION), "runs": 1, "parameters": params,
                "config": settings.config.to_dict(), **info}
        made = cls(folder, meta)
        made.save()
        return made

    @classmethod
    def check(cls, folder: str | Path, settings: EvalSettings) -> EvalFolder | None:
        """Check that ``folder`` can take ``settings``' results, creating nothing.

        Returns the existing folder to resume (its documents checked), or None when it is
        new or empty.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{folder} exists and is not a folder; choose another --out.")
        if (folder / "eval.json").is_file():
            existing = cls.open(folder)
            diff = differences(existing.parameters, settings.parameters())
            if diff:
                raise ConfigError(
                    f"{folder} holds results made with different parameters ({', '.join(diff)}"
                    "); use another --out folder or the same parameters to resume."
                )
            existing.track_files()  # a bad track file is refused now, not after the run
            return existing
        if folder.is_dir() and any(folder.iterdir()):
            raise OutputError(f"{folder} is not empty and is no evaluation folder; choose a new "
                              "--out folder.")
        return None

    def save(self) -> None:
        self.meta["updated"] = utc_now()
        write_text_atomic(self.folder / "eval.json", json_text(self.meta))

    def done(self, track: str, target: str) -> bool:
        return (self.tracks_dir / track_file_name(track, target)).is_file()

    def write_track(self, result: TrackResult) -> Path:
        path = self.tracks_dir / track_file_name(result.track, result.target)
        return write_text_atomic(path, json_text(result.to_dict()))

    def track_files(self) -> list[tuple[Path, TrackResult]]:
        """Every track file with its checked result, in file name order.

        Raises :class:`SessionError` for a file that is malformed, of another target, or
        leads outside the folder.
        """
        targets = self.parameters["targets"]
        out = []
        for path in sorted(self.tracks_dir.glob("*.json")):
            data = documents.read_json(self.folder, path, documents.TRACK_ADVICE)
            out.append((path, TrackResult(**documents.check_track(data, path, targets))))
        return out

    def results(self) -> list[TrackResult]:
        """Every finished track result, sorted by track then target."""
        targets = self.parameters["targets"]
        return sorted((result for _, result in self.track_files()),
                      key=lambda r: (r.track, targets.index(r.target)))


@dataclass
class Tables:
    """The tables of an evaluation folder and, once written, their files."""

    rows: list[dict]
    summary: list[dict]
    oracle: list[dict]
    oracle_summary: list[dict]
    files: list[Path]
    runs: int = 0


def build_tables(folder: EvalFolder) -> Tables:
    """Results, summaries and the oracle-gain sweep from the track files; writes nothing."""
    results = folder.results()
    rows = [row for r in results for row in result_rows(r)]
    oracle = [row for r in results for row in oracle_rows(r)]
    sample = procedure_for(folder.parameters.get("run", {}).get("preset")).sample_std
    return Tables(rows, summarize(rows, sample), oracle, summarize_oracle(oracle, sample), [],
                  len(results))


def write_tables(folder: EvalFolder, tables: Tables, plots: bool = True) -> list[Path]:
    """Write ``tables`` (and plots) into ``folder``; :class:`OutputError` if it is read-only."""
    out = folder.folder
    tracks = len({row["track"] for row in tables.rows})
    files = [
        write_text_atomic(out / "results.csv", to_csv(tables.rows, ROW_COLUMNS)),
        write_text_atomic(out / "results.json", json_text(tables.rows)),
        write_text_atomic(out / "summary.csv", to_csv(tables.summary, SUMMARY_COLUMNS)),
        write_text_atomic(out / "summary.json", json_text(
            {"steps": tables.summary, "oracle_gain": tables.oracle_summary,
             "tracks": tracks})),
    ]
    if tables.oracle:
        files.append(write_text_atomic(out / "oracle_gain.csv",
                                             to_csv(tables.oracle, ORACLE_COLUMNS)))
    if plots and tables.rows:
        from .. import plots as plotting

        files += plotting.eval_plots(out, tables.rows, tables.summary, tables.oracle)
    tables.files = files
    return files


def finalize(folder: EvalFolder, plots: bool = True) -> Tables:
    """Rebuild results, summaries and plots from the track files of ``folder``."""
    tables = build_tables(folder)
    write_tables(folder, tables, plots)
    return tables
