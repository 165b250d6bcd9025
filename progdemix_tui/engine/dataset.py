"""MUSDB18-HQ-style datasets: finding tracks, choosing excerpts, loading stems.

A dataset is a folder of track folders, each holding ``mixture`` plus one file per stem
(``drums``, ``bass``, ``other``, ``vocals``; WAV or FLAC). A root with ``test/`` (and
``train/``) subfolders is read from ``test/``. Tracks with missing files are skipped with a
reason, never a crash. The study's preparation is available as options: a fixed-length
excerpt starting where no stem is silent, and a "new mixture" rebuilt as the exact sum of
the stems.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import audio
from .config import STEMS
from .errors import AudioInputError, ProgdemixError
from .tracks import find_stem, reference_parts

SILENCE_DB = -60.0
SCAN_HOP = 1.0  # seconds between candidate excerpt starts
SCAN_BLOCKS = 10  # energy blocks per hop
LENGTH_TOLERANCE = 2  # frames by which stems (and the mixture) may differ
MIN_TRACK_SECONDS = 0.1  # shorter tracks cannot be separated meaningfully


class TrackSkipped(ProgdemixError):
    """A track cannot be evaluated (missing file, silent stem); the message says why."""


@dataclass(frozen=True)
class DatasetTrack:
    """One track folder: ``files`` maps ``mixture`` and each stem found to its path."""

    name: str
    folder: Path
    files: dict[str, Path]

    def missing(self, sources: tuple[str, ...] = STEMS, mixture: bool = True) -> list[str]:
        wanted = (("mixture",) if mixture else ()) + tuple(sources)
        return [n for n in wanted if n not in self.files]


@dataclass
class Dataset:
    """Tracks of a dataset sorted by name, plus notes about how it was read."""

    root: Path
    tracks: list[DatasetTrack]
    notes: list[str] = field(default_factory=list)

    def shard(self, index: int, count: int) -> list[DatasetTrack]:
        """The deterministic slice ``tracks[index::count]`` (``0 <= index < count``)."""
        return self.tracks[index::count]


@dataclass
class TrackAudio:
    """An evaluation-ready track: ``mixture`` ``[channels, time]`` and ``references``
    ``[sources, channels, time]`` at the model rate, from ``start`` seconds."""

    name: str
    mixture: torch.Tensor
    references: torch.Tensor
    samplerate: int
    start: float
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.mixture.shape[-1] / self.samplerate


def _track_files(folder: Path) -> dict[str, Path]:
    files = {}
    for name in ("mixture", *STEMS):
        path = find_stem(folder, name)
        if path is not None:
            files[name] = path
    return files


def open_dataset(root: str | Path) -> Dataset:
    """Find the track folders of ``root``. Raises :class:`AudioInputError` if there are none.

    ``root`` may be a single track folder, a folder of track folders, or a MUSDB18-HQ root
    with ``test/`` (used) and ``train/`` subfolders.
    """
    root = Path(root)
    if not root.exists():
        raise AudioInputError(f"dataset {root} does not exist; give a MUSDB18-HQ-style folder.")
    if not root.is_dir():
        raise AudioInputError(f"dataset {root} is not a folder; give a folder of track folders.")
    notes: list[str] = []
    if _track_files(root):
        return Dataset(root, [DatasetTrack(root.name, root, _track_files(root))],
                       ["the dataset is a single track folder"])
    base = root
    if not _candidates(root) and (root / "test").is_dir():
        base = root / "test"
        notes.append(f"using the test subset {base}")
    tracks = [DatasetTrack(f.name, f, _track_files(f)) for f in _candidates(base)]
    if not tracks:
        raise AudioInputError(
            f"dataset {root} holds no track folders (each needs mixture and "
            f"{'/'.join(STEMS)} .wav or .flac files)."
        )
    return Dataset(root, sorted(tracks, key=lambda t: t.name), notes)


def _candidates(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and _track_files(p))


# --------------------------------------------------------------------------- excerpts


def block_energy(path: Path, block: int) -> np.ndarray:
    """Mean-square energy per ``block`` frames of a file (channels averaged): ``[blocks]``.

    Read block by block, so a long file never sits in memory at once. Raises
    :class:`AudioInputError` for undecodable data and for NaN or infinite samples.
    """
    out = []
    try:
        for data in sf.blocks(str(path), blocksize=block, dtype="float32", always_2d=True):
            out.append(float(np.square(data, dtype=np.float64).sum()) / max(1, data.shape[1]))
    except Exception as exc:  # noqa: BLE001 - libsndfile errors come in several types
        raise AudioInputError(f"{path} could not be decoded ({exc}).") from None
    energies = np.asarray(out, dtype=np.float64)
    if not np.isfinite(energies).all():
        raise AudioInputError(f"{path} contains NaN or infinite samples; repair or re-export "
                              "the file.")
    return energies


@dataclass(frozen=True)
class Excerpt:
    """Where an excerpt lies, in frames; ``silent`` is the index of a stem that is silent in
    every candidate window (then there is no usable excerpt)."""

    start: int
    length: int
    silent: int | None = None


def find_excerpt(energies: np.ndarray, block: int, frames: int, length: int | None,
                 hop_blocks: int = 1, threshold_db: float = SILENCE_DB) -> Excerpt:
    """First excerpt where every stem's RMS is above ``threshold_db`` dBFS.

    ``energies`` is ``[stems, blocks]`` of per-block summed energy (see :func:`block_energy`),
    blocks of ``block`` frames out of ``frames`` in all; ``length`` the excerpt length in
    frames (None: whole track). Starts are tried every ``hop_blocks`` blocks, in order; the
    window checked covers the excerpt rounded up to whole blocks.
    """
    count = energies.shape[1]
    if length is None or length >= frames:
        length, span, starts = frames, count, [0]
    else:
        span = max(1, math.ceil(length / block))
        starts = [s for s in range(0, count, hop_blocks) if s * block + length <= frames] or [0]
    cumulative = np.concatenate([np.zeros((energies.shape[0], 1)), energies.cumsum(1)], axis=1)
    floor = length * 10 ** (threshold_db / 10)  # summed energy of RMS = threshold over length
    best_level, weakest = -np.inf, 0
    for s in starts:
        window = cumulative[:, min(s + span, count)] - cumulative[:, s]
        if (window > floor).all():
            return Excerpt(s * block, length)
        low = int(np.argmin(window))
        if window[low] > best_level:
            best_level, weakest = window[low], low
    return Excerpt(0, length, weakest)


def load_track(track: DatasetTrack, samplerate: int, sources: tuple[str, ...] = STEMS,
               excerpt: float | None = 30.0, new_mixture: bool = False,
               threshold_db: float = SILENCE_DB, start: float | None = None) -> TrackAudio:
    """Load ``track`` for evaluation: choose the excerpt, read stems (and mixture).

    ``excerpt`` seconds (None or 0: the whole track) start at the first whole second where no
    stem is below ``threshold_db`` dBFS RMS. With ``new_mixture`` the mixture is the exact sum
    of the stems. A given ``start`` (seconds; the study's choice with ``--preset study``)
    replaces that search. Raises :class:`TrackSkipped` with the reason when the track cannot be used:
    a missing, unreadable or corrupt file, NaN or infinite samples, stems whose rates or
    lengths differ or that are shorter than :data:`MIN_TRACK_SECONDS`, a mixture that does
    not match the stems, a silent stem.
    """
    parts = reference_parts(track.folder, sources)  # a 2-stem model's rest: a sum of stems
    missing = [*track.missing((), mixture=not new_mixture),
               *(name for name in sources if name not in parts)]
    if missing:
        raise TrackSkipped(f"missing {', '.join(missing)} (.wav or .flac)")
    files = tuple(dict.fromkeys(part for name in sources for part in parts[name]))
    try:
        loaded = _load_track(track, samplerate, files, excerpt, new_mixture, threshold_db,
                             start)
    except AudioInputError as exc:  # a file of the track is broken: say which, and why
        raise TrackSkipped(str(exc).replace(f"{track.folder}{os.sep}", "")) from None
    if files == tuple(sources):
        return loaded
    refs = loaded.references
    loaded.references = torch.stack([sum((refs[files.index(part)] for part in parts[name]),
                                         torch.zeros_like(refs[0])) for name in sources])
    return loaded


def _check_files(track: DatasetTrack, sources: tuple[str, ...],
                 new_mixture: bool) -> tuple[int, int]:
    """Read every header of the track; ``(rate, frames)`` of the stems, or
    :class:`TrackSkipped` when the files disagree."""
    infos = {name: audio.info(track.files[name]) for name in sources}
    rate = infos[sources[0]].samplerate
    frames = min(i.frames for i in infos.values())
    if frames == 0:
        raise TrackSkipped("the stems hold no audio")
    if frames < MIN_TRACK_SECONDS * rate:
        raise TrackSkipped(f"the stems hold only {frames} frames ({frames / rate:.3f} s); a "
                           f"track needs at least {MIN_TRACK_SECONDS:g} s")
    if len({i.samplerate for i in infos.values()}) > 1:
        raise TrackSkipped("the stems have different sample rates")
    if max(i.frames for i in infos.values()) - frames > LENGTH_TOLERANCE:
        lengths = ", ".join(f"{name} {i.frames}" for name, i in infos.items())
        raise TrackSkipped(f"the stems differ in length ({lengths} frames); stems must "
                           "have one length")
    if not new_mixture:
        mix = audio.info(track.files["mixture"])
        if mix.samplerate != rate:
            raise TrackSkipped(f"mixture is at {mix.samplerate} Hz but the stems at {rate} "
                               "Hz; stems must match the mixture")
    return rate, frames


def _load_track(track: DatasetTrack, samplerate: int, sources: tuple[str, ...],
                excerpt: float | None, new_mixture: bool, threshold_db: float,
                start: float | None = None) -> TrackAudio:
    rate, frames = _check_files(track, sources, new_mixture)
    notes = []
    if start is not None:
        first = min(int(round(start * rate)), frames - 1)
        span = frames - first if not excerpt else min(int(round(excerpt * rate)), frames - first)
        if excerpt and span < int(round(excerpt * rate)):
            notes.append(f"shorter than the {excerpt:g} s excerpt after {first / rate:.2f} s: "
                         f"using {span / rate:.1f} s")
        return _read_excerpt(track, samplerate, sources, new_mixture, first / rate,
                             span / rate, notes)
    length = None if not excerpt else int(round(excerpt * rate))
    if length is not None and length >= frames:
        notes.append(f"shorter than the {excerpt:g} s excerpt: using its full "
                     f"{frames / rate:.1f} s")
        length = None
    block = max(1, int(rate * SCAN_HOP / SCAN_BLOCKS))
    energies = np.stack([block_energy(track.files[n], block)[: math.ceil(frames / block)]
                         for n in sources])
    found = find_excerpt(energies, block, frames, length, SCAN_BLOCKS, threshold_db)
    if found.silent is not None:
        where = "in every excerpt window" if length is not None else "over the whole track"
        raise TrackSkipped(f"{sources[found.silent]} is silent (below {threshold_db:g} dBFS) "
                           f"{where}")
    return _read_excerpt(track, samplerate, sources, new_mixture, found.start / rate,
                         found.length / rate, notes)


def _read_excerpt(track: DatasetTrack, samplerate: int, sources: tuple[str, ...],
                  new_mixture: bool, start_s: float, seconds: float,
                  notes: list[str]) -> TrackAudio:
    """Read ``seconds`` from ``start_s`` of every stem (and the mixture)."""
    stems = [audio.load(track.files[name], samplerate, start_s, seconds).samples
             for name in sources]
    size = min(x.shape[-1] for x in stems)
    references = torch.stack([x[..., :size] for x in stems])
    if new_mixture:
        mixture = references.sum(0)
    else:
        mix = audio.load(track.files["mixture"], samplerate, start_s, seconds).samples
        if abs(mix.shape[-1] - size) > LENGTH_TOLERANCE:
            raise TrackSkipped(f"mixture is {mix.shape[-1]} samples long but the stems "
                               f"{size}; stems must match the mixture")
        mixture = torch.nn.functional.pad(mix[..., :size], (0, max(0, size - mix.shape[-1])))
    return TrackAudio(track.name, mixture.contiguous(), references.contiguous(), samplerate,
                      start_s, notes)


# --------------------------------------------------------------------------- leakage

DEMO_HELD_OUT = range(1, 21)  # the demo model's evaluation seeds
DEMO_TRAINING_FROM = 50_000  # seeds ≥ this trained (100000+) or monitored (50000..) it
MUSDB_TRAINED = {"hdemucs_mmi", "htdemucs", "htdemucs_ft", "htdemucs_6s", "mdx", "mdx_extra",
                 "mdx_q", "mdx_extra_q", "HDEMUCS_HIGH_MUSDB"}


def track_seed(track: DatasetTrack) -> int | None:
    """The generator seed of a demo song, from a ``seed`` key of a JSON file in its folder
    (the ``demo-NNN`` folder name is a running number, not the seed)."""
    for meta in sorted(track.folder.glob("*.json")):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("seed"), int):
            return int(data["seed"])
    return None


def leakage_warning(model: str, dataset: Dataset) -> str | None:
    """A one-line warning when ``model`` was trained on (some of) the tracks evaluated."""
    root = str(dataset.root).lower()
    names = [t.folder.parent.name.lower() for t in dataset.tracks]
    musdb_test = "test" in names or any(n in root for n in ("musdb",))
    if model == "HDEMUCS_HIGH_MUSDB_PLUS" and musdb_test:
        return ("HDEMUCS_HIGH_MUSDB_PLUS was trained on the MUSDB18-HQ test set too: scores "
                "on it are inflated (leakage); use HDEMUCS_HIGH_MUSDB or hdemucs_mmi.")
    if model in MUSDB_TRAINED and "train" in names:
        return (f"{model} was trained on the MUSDB18-HQ train set: scores on train tracks "
                "are inflated (leakage); evaluate the test subset.")
    if model == "demo":
        seeds = [track_seed(t) for t in dataset.tracks]
        seen = sorted({s for s in seeds if s is not None and s >= DEMO_TRAINING_FROM})
        held = f"{DEMO_HELD_OUT.start}..{DEMO_HELD_OUT.stop - 1}"
        if seen:
            listed = ", ".join(map(str, seen[:8])) + ("…" if len(seen) > 8 else "")
            return (f"demo songs with seeds ≥ {DEMO_TRAINING_FROM} trained the demo model; seeds "
                    f"{listed} are its training data (leakage): evaluate songs made with "
                    "`progdemix-tui demo DIR --seed 1 --count 20`.")
        unknown = seeds.count(None)
        if unknown:
            return (f"the seeds of {unknown} track(s) are unknown, so they may be the demo "
                    f"model's training data; its held-out seeds are {held} "
                    "(`progdemix-tui demo DIR --seed 1 --count 20`).")
    return None
