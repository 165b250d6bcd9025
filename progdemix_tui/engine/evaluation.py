"""Evaluating progressive inference over a dataset: per-track runs, resumable on disk.

Output folder layout::

    OUT/
      eval.json                     parameters, model, versions, dataset, skipped tracks
      tracks/<track>__<target>.json one finished (track, target): per-step metrics (+ SDR)
      results.csv / results.json    long table: one row per track × target × step × stem
      summary.csv / summary.json    mean, median, std, min, max per target × step × stem
      oracle_gain.csv               target SI-SDR per track × gain (with --oracle-gain)
      *.png                         plots (see :mod:`.plots`)

A track file is written atomically when the track is done, so an interrupted evaluation
keeps finished tracks and a re-run with the same parameters skips them. Tables and plots are
always rebuilt from the track files (:func:`finalize`), which also makes merging shard
folders a matter of copying track files (:func:`merge`).
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import audio, evaldocs
from .config import RunConfig
from .dataset import Dataset, DatasetTrack, TrackAudio, TrackSkipped, load_track
from .errors import (
    AudioInputError,
    Cancelled,
    ConfigError,
    DeviceError,
    OutputError,
    SessionError,
)
from .metrics import si_sdr_db
from .mixing import build_mixture
from .progressive import SeparatorLike, iterate
from .resources import preflight
from .session import utc_now

FORMAT = "progdemix-eval"
VERSION = 1
ROW_COLUMNS = ("track", "target", "step", "beta", "stem", "si_sdr", "si_sdr_delta", "sdr",
               "estimate_change", "residual_db", "clip_factor", "seconds")
SUMMARY_COLUMNS = ("target", "step", "beta", "stem", "metric", "n", "mean", "median", "std",
                   "min", "max")
ORACLE_COLUMNS = ("track", "target", "beta", "gain_db", "si_sdr", "input_si_sdr")
SUMMARY_METRICS = ("si_sdr", "si_sdr_delta", "sdr")


# --------------------------------------------------------------------------- settings


def gain_to_beta(gain_db: float) -> float:
    """Relative target gain in dB → β with ``y = x_target + (1-β)·acc`` (inf dB → β = 1)."""
    return 1.0 if math.isinf(gain_db) and gain_db > 0 else 1.0 - 10 ** (-gain_db / 20)


def beta_to_gain(beta: float) -> float | None:
    """β → relative target gain in dB (None for β = 1: the target alone)."""
    return None if beta >= 1.0 else max(0.0, -20 * math.log10(1.0 - beta))


def parse_oracle_gains(text: str) -> tuple[float, ...]:
    """Parse ``--oracle-gain``: dB values (``0,3,6,12``, ``inf`` for the target alone) or
    β values (``beta:0,0.5,0.9``). Returns β values, sorted, in [0, 1].
    """
    text = text.strip()
    as_beta = text.lower().startswith("beta:")
    items = [t.strip() for t in text[5:].split(",") if t.strip()] if as_beta else \
        [t.strip().removesuffix("dB").removesuffix("db").strip()
         for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError("--oracle-gain needs values, e.g. 0,3,6,12 (dB) or beta:0,0.5,0.9.")
    betas = []
    for item in items:
        try:
            value = float(item)
        except ValueError:
            raise ConfigError(f"--oracle-gain: {item!r} is not a number.") from None
        if as_beta:
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"--oracle-gain β values must be in [0, 1], not {value}.")
            betas.append(value)
        else:
            if value < 0 or math.isnan(value):
                raise ConfigError(f"--oracle-gain dB values must be ≥ 0, not {value}.")
            betas.append(gain_to_beta(value))
    return tuple(sorted(set(betas)))


@dataclass(frozen=True)
class EvalSettings:
    """Everything that determines an evaluation's numbers (device and shard excluded).

    ``config.target`` is ignored: each of ``targets`` is run in turn. ``excerpt`` is in
    seconds (None: whole tracks); ``oracle_betas`` are the β values of the oracle-gain sweep.
    """

    config: RunConfig
    targets: tuple[str, ...]
    excerpt: float | None = 30.0
    new_mixture: bool = False
    sdr: bool = False
    silence_db: float = -60.0
    oracle_betas: tuple[float, ...] = ()

    def config_for(self, target: str) -> RunConfig:
        from dataclasses import replace

        return replace(self.config, target=target)

    def parameters(self) -> dict:
        """JSON-ready fingerprint: two evaluations agree iff their parameters are equal."""
        run_cfg = self.config.to_dict()
        run_cfg.pop("target", None)
        run_cfg["separator"].pop("device", None)
        return {"run": run_cfg, "targets": list(self.targets), "excerpt": self.excerpt,
                "new_mixture": self.new_mixture, "sdr": self.sdr,
                "silence_db": self.silence_db, "oracle_betas": list(self.oracle_betas)}


def differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two parameter dicts."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}")
    return out


# --------------------------------------------------------------------------- one track


@dataclass
class TrackResult:
    """One finished (track, target): per-step metrics (StepMetrics dicts plus ``sdr``) and
    the oracle-gain sweep (dicts with ``beta``, ``gain_db``, ``si_sdr``, ``input_si_sdr``)."""

    track: str
    target: str
    start: float
    duration: float
    samplerate: int
    steps: list[dict]
    oracle_gain: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_track(
    separator: SeparatorLike,
    track: TrackAudio,
    config: RunConfig,
    sdr: bool = False,
    oracle_betas: Iterable[float] = (),
    cancel: threading.Event | None = None,
    on_chunk: Callable[[int, int, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> TrackResult:
    """Progressive inference on one track for ``config.target``, plus the oracle-gain sweep.

    SI-SDR per stem comes from the loop itself; SDR (BSSEval v4, see :mod:`.sdr`) is added
    per step when ``sdr``. ``on_step(step)`` is called after each step (oracle-gain points
    count as steps ``N+1…``).
    """
    start = time.perf_counter()
    sources = tuple(separator.sources)
    rate = separator.samplerate
    if sdr:
        from .sdr import sdr_db
    steps = []
    for result in iterate(separator, track.mixture, config, track.references, cancel, on_chunk):
        entry = result.metrics.to_dict()
        entry["sdr"] = (dict(zip(sources, sdr_db(result.estimates, track.references, rate),
                                 strict=True)) if sdr else None)
        steps.append(entry)
        if on_step is not None:
            on_step(result.step)
    oracle = oracle_gain_sweep(separator, track, config.target, oracle_betas, cancel,
                               on_chunk, on_step, first_step=len(steps))
    return TrackResult(track.name, config.target, track.start, track.duration, rate, steps,
                       oracle, list(track.notes), time.perf_counter() - start)


def oracle_gain_sweep(
    separator: SeparatorLike,
    track: TrackAudio,
    target: str,
    betas: Iterable[float],
    cancel: threading.Event | None = None,
    on_chunk: Callable[[int, int, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    first_step: int = 0,
) -> list[dict]:
    """The study's lemma: separate ``x_target + (1-β)·acc`` (true stems, rescaled to the
    mixture's peak) once per β and record the target's SI-SDR; it rises with the gain."""
    sources = tuple(separator.sources)
    index = sources.index(target)
    points = []
    for k, b in enumerate(betas):
        y = build_mixture("oracle", b, track.mixture, track.references, index, track.references)
        chunk = None if on_chunk is None else (
            lambda done, total, s=first_step + k: on_chunk(s, done, total))
        estimate = separator.separate(y[None], chunk, cancel)[0, index].cpu()
        points.append({"beta": b, "gain_db": beta_to_gain(b),
                       "si_sdr": si_sdr_db(estimate, track.references[index]),
                       "input_si_sdr": si_sdr_db(y, track.references[index])})
        if on_step is not None:
            on_step(first_step + k)
    return points


# --------------------------------------------------------------------------- tables


def result_rows(result: TrackResult) -> list[dict]:
    """Long-format rows (:data:`ROW_COLUMNS`): one per step × stem."""
    rows = []
    first = (result.steps[0]["si_sdr"] or {}) if result.steps else {}
    for step in result.steps:
        si = step.get("si_sdr") or {}
        sdr = step.get("sdr") or {}
        change = step.get("estimate_change") or {}
        for stem in si or first:
            value, base = si.get(stem), first.get(stem)
            rows.append({
                "track": result.track, "target": result.target, "step": step["step"],
                "beta": step["beta"], "stem": stem, "si_sdr": value,
                "si_sdr_delta": None if value is None or base is None else value - base,
                "sdr": sdr.get(stem), "estimate_change": change.get(stem),
                "residual_db": step.get("residual_db"), "clip_factor": step.get("clip_factor"),
                "seconds": step.get("seconds"),
            })
    return rows


def oracle_rows(result: TrackResult) -> list[dict]:
    return [{"track": result.track, "target": result.target, **point}
            for point in result.oracle_gain]


def _stats(values: list[float]) -> dict:
    t = torch.tensor(values, dtype=torch.float64)
    return {"n": len(values), "mean": float(t.mean()), "median": float(t.quantile(0.5)),
            "std": float(t.std(correction=0)), "min": float(t.min()), "max": float(t.max())}


def summarize(rows: list[dict]) -> list[dict]:
    """Statistics (:data:`SUMMARY_COLUMNS`) per target × step × stem × metric, over tracks.

    Undefined values (None) are left out; ``std`` is the population standard deviation and
    ``median`` the midpoint of the two middle values for even counts.
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["target"], row["step"], row["stem"]), []).append(row)
    out = []
    targets = list(dict.fromkeys(key[0] for key in groups))
    # Stable sort: stems keep the order of the sources within a step.
    for (target, step, stem), members in sorted(groups.items(),
                                                key=lambda kv: (targets.index(kv[0][0]),
                                                                kv[0][1])):
        betas = [r["beta"] for r in members if r["beta"] is not None]
        beta = sum(betas) / len(betas) if betas else None
        for metric in SUMMARY_METRICS:
            values = [r[metric] for r in members if r.get(metric) is not None]
            if values:
                out.append({"target": target, "step": step, "beta": beta, "stem": stem,
                            "metric": metric, **_stats(values)})
    return out


def summarize_oracle(rows: list[dict]) -> list[dict]:
    """Target SI-SDR statistics per target × β of the oracle-gain sweep."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        if row["si_sdr"] is not None:
            groups.setdefault((row["target"], row["beta"]), []).append(row["si_sdr"])
    return [{"target": t, "beta": b, "gain_db": beta_to_gain(b), **_stats(v)}
            for (t, b), v in sorted(groups.items())]


def to_csv(rows: list[dict], columns: Iterable[str]) -> str:
    """CSV text with a header; None becomes an empty cell, floats keep full precision."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = list(columns)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else repr(row[c])
                         if isinstance(row.get(c), float) else row[c] for c in columns])
    return buffer.getvalue()


def _json(data) -> str:
    return json.dumps(data, indent=2, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- the folder


def track_file_name(track: str, target: str) -> str:
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
        """Read an existing folder, checking ``eval.json`` (see :mod:`.evaldocs`).

        Raises :class:`SessionError` if it is no evaluation folder, is malformed, or a file
        or ``tracks/`` leads outside it.
        """
        folder = Path(folder)
        path = folder / "eval.json"
        if not path.is_file():
            raise SessionError(f"{folder} is not an evaluation folder (no eval.json).")
        meta = evaldocs.check_meta(evaldocs.read_json(folder, path, evaldocs.META_ADVICE), path,
                                   FORMAT, VERSION)
        made = cls(folder, meta)
        if made.tracks_dir.exists() or made.tracks_dir.is_symlink():
            evaldocs.inside(folder, made.tracks_dir)
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
        meta = {"format": FORMAT, "version": VERSION, "status": "running", "created": utc_now(),
                "updated": utc_now(), "runs": 1, "parameters": params,
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
        audio.write_text_atomic(self.folder / "eval.json", _json(self.meta))

    def done(self, track: str, target: str) -> bool:
        return (self.tracks_dir / track_file_name(track, target)).is_file()

    def write_track(self, result: TrackResult) -> Path:
        path = self.tracks_dir / track_file_name(result.track, result.target)
        return audio.write_text_atomic(path, _json(result.to_dict()))

    def track_files(self) -> list[tuple[Path, TrackResult]]:
        """Every track file with its checked result, in file name order.

        Raises :class:`SessionError` for a file that is malformed, of another target, or
        leads outside the folder.
        """
        targets = self.parameters["targets"]
        out = []
        for path in sorted(self.tracks_dir.glob("*.json")):
            data = evaldocs.read_json(self.folder, path, evaldocs.TRACK_ADVICE)
            out.append((path, TrackResult(**evaldocs.check_track(data, path, targets))))
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
    return Tables(rows, summarize(rows), oracle, summarize_oracle(oracle), [], len(results))


def write_tables(folder: EvalFolder, tables: Tables, plots: bool = True) -> list[Path]:
    """Write ``tables`` (and plots) into ``folder``; :class:`OutputError` if it is read-only."""
    out = folder.folder
    tracks = len({row["track"] for row in tables.rows})
    files = [
        audio.write_text_atomic(out / "results.csv", to_csv(tables.rows, ROW_COLUMNS)),
        audio.write_text_atomic(out / "results.json", _json(tables.rows)),
        audio.write_text_atomic(out / "summary.csv", to_csv(tables.summary, SUMMARY_COLUMNS)),
        audio.write_text_atomic(out / "summary.json", _json(
            {"steps": tables.summary, "oracle_gain": tables.oracle_summary,
             "tracks": tracks})),
    ]
    if tables.oracle:
        files.append(audio.write_text_atomic(out / "oracle_gain.csv",
                                             to_csv(tables.oracle, ORACLE_COLUMNS)))
    if plots and tables.rows:
        from . import plots as plotting

        files += plotting.eval_plots(out, tables.rows, tables.summary, tables.oracle)
    tables.files = files
    return files


def finalize(folder: EvalFolder, plots: bool = True) -> Tables:
    """Rebuild results, summaries and plots from the track files of ``folder``."""
    tables = build_tables(folder)
    write_tables(folder, tables, plots)
    return tables


# --------------------------------------------------------------------------- the loop


class EvalEvents:
    """Callbacks of :func:`evaluate`; override what you need (all default to no-ops)."""

    def track_started(self, name: str, target: str, steps: int) -> None: ...
    def chunk(self, step: int, done: int, total: int) -> None: ...
    def step_done(self, step: int) -> None: ...
    def track_done(self, result: TrackResult) -> None: ...
    def track_skipped(self, name: str, reason: str, runs: int) -> None: ...
    def track_loaded(self, track: TrackAudio) -> None: ...


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
    events = events or EvalEvents()
    skipped = {s["track"]: s["reason"] for s in folder.meta.get("skipped", [])}
    notes = dict(folder.meta.get("track_notes", {}))
    results: list[TrackResult] = []
    status = "failed"
    try:
        for track, targets in work.todo:
            try:
                check_track_fits(track, settings, tuple(separator.sources))
                loaded = load_track(track, separator.samplerate, tuple(separator.sources),
                                    settings.excerpt, settings.new_mixture, settings.silence_db)
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
                                     settings.config.steps + 1 + len(settings.oracle_betas))
                result = evaluate_track(separator, loaded, settings.config_for(target),
                                        settings.sdr, settings.oracle_betas, cancel,
                                        events.chunk, events.step_done)
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


def check_track_fits(track: DatasetTrack, settings: EvalSettings,
                     sources: tuple[str, ...]) -> None:
    """Raise :class:`TrackSkipped` when ``track``'s excerpt cannot fit in the memory
    available (:func:`.resources.preflight`); reads only a header, before any audio."""
    try:
        head = audio.info(track.files[sources[0]])
    except (KeyError, AudioInputError):
        return  # load_track says what is wrong with the files
    frames = head.frames
    if settings.excerpt:
        frames = min(frames, int(round(settings.excerpt * head.samplerate)))
    try:
        preflight(frames, head.samplerate, settings.config, references=True,
                  what=f"track {track.name}", command="eval")
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


# --------------------------------------------------------------------------- merging


@dataclass
class MergeReport:
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
            audio.write_text_atomic(dest, _json(result.to_dict()))
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
