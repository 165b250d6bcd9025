"""Seeded four-stem demo songs with exact stems, and writing them MUSDB-style."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .instruments import render_bass, render_drums, render_other
from .theory import Plan, make_plan
from .voice import render_vocals

STEMS = ("drums", "bass", "other", "vocals")
# Stem loudness (RMS, dB) ranges relative to each other, before the final peak scaling.
LEVELS_DB = {"drums": (-3.0, 2.0), "bass": (-5.0, 0.0), "other": (-4.0, 1.0),
             "vocals": (-3.0, 1.0)}
RENDERERS = {"drums": render_drums, "bass": render_bass, "other": render_other,
             "vocals": render_vocals}


@dataclass
class DemoSong:
    """A generated song: ``stems`` is ``[4, 2, T]`` float32 in :data:`STEMS` order."""

    stems: np.ndarray
    samplerate: int
    seed: int
    tempo: float
    key: str
    other_layers: tuple[str, ...] = ()  # what the "other" stem plays: pad, arp, keys

    @property
    def mixture(self) -> np.ndarray:
        """``[2, T]``: the exact float32 sum of the stems."""
        return self.stems.sum(axis=0, dtype=np.float32)

    @property
    def duration(self) -> float:
        return self.stems.shape[-1] / self.samplerate


def song_streams(seed: int, salt: int, duration: float, samplerate: int
                 ) -> tuple[int, Plan, np.random.Generator, list[np.random.SeedSequence]]:
    """A song's length in samples, its plan, its level stream and one seed per stem, all
    from ``seed`` (``salt`` keeps different song kinds apart)."""
    if duration <= 0:
        raise ValueError("duration must be positive")
    n = int(round(duration * samplerate))
    root = np.random.SeedSequence([int(seed), salt])
    plan_seq, level_seq, *stem_seqs = root.spawn(2 + len(STEMS))
    plan = make_plan(np.random.default_rng(plan_seq), duration)
    return n, plan, np.random.default_rng(level_seq), stem_seqs


def generate_song(seed: int, duration: float = 8.0, samplerate: int = 44100) -> DemoSong:
    """Render a song deterministically from ``seed``.

    Tempo, key, mode, chords, drum and bass patterns, timbres, panning and levels all come
    from the seed. Each stem gets its own random stream, so stems stay reproducible.
    """
    n, plan, levels, stem_seqs = song_streams(seed, 0x5EED, duration, samplerate)
    stems = np.zeros((len(STEMS), 2, n))
    other_layers: list[str] = []
    for i, (name, seq) in enumerate(zip(STEMS, stem_seqs, strict=True)):
        extra = {"layers": other_layers} if name == "other" else {}
        stem = RENDERERS[name](plan, np.random.default_rng(seq), samplerate, n, **extra)
        rms = np.sqrt(np.mean(stem**2)) + 1e-9
        stems[i] = stem / rms * 10 ** (levels.uniform(*LEVELS_DB[name]) / 20)
    mix_peak = np.max(np.abs(stems.sum(axis=0))) + 1e-9
    stems *= levels.uniform(0.5, 0.85) / mix_peak
    return DemoSong(stems=stems.astype(np.float32), samplerate=samplerate, seed=int(seed),
                    tempo=round(plan.tempo, 1), key=plan.key, other_layers=tuple(other_layers))


def write_song(song: DemoSong, folder: str | os.PathLike) -> list[Path]:
    """Write ``mixture.wav``, one WAV per stem (float32) and ``song.json`` (seed, tempo,
    key) into ``folder``, the audio atomically.

    Each file is written under a temporary name in the same folder, then renamed. Raises
    :class:`OSError` when the folder cannot be created or written.
    """
    import soundfile as sf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    items = [("mixture", song.mixture), *zip(STEMS, song.stems, strict=True)]
    for name, samples in items:
        path = folder / f"{name}.wav"
        tmp = folder / f".{name}.wav.tmp-{os.getpid()}"
        try:
            sf.write(str(tmp), np.ascontiguousarray(samples.T), song.samplerate,
                     subtype="FLOAT", format="WAV")
            os.replace(tmp, path)
        except Exception:
            tmp.unlink(missing_ok=True)
            raise
        written.append(path)
    info = folder / "song.json"
    info.write_text(json.dumps({"seed": song.seed, "tempo": song.tempo, "key": song.key,
                                "other_layers": list(song.other_layers),
                                "samplerate": song.samplerate, "generator": "progdemix_tui.demo"},
                               indent=2) + "\n")
    written.append(info)
    return written
