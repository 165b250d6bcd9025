"""Demo songs played with SoundFont notes from a :class:`NoteBank` (numpy only).

The same plan, drum patterns, bass patterns and melodies as :func:`generate_song`, but
the parts are sequenced from sampled GM instruments: a sampled drum kit, a sampled bass,
one or two sampled "other" layers (block chords, strummed chords, an arpeggio, a lead
counter-melody) and vocals that are either the formant voice (sometimes with a sampled choir
behind it) or a melody sung by a sampled voice program (choir, voice oohs, synth voice),
sometimes with a harmony a third above. Half the sampled parts get a random spectral tilt.
Some stems fall back to the synthesized parts, so
arrangements mix both worlds. Which bank the notes come from decides whether a song is
training material or held-out (``scripts/render_note_bank.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .instruments import (
    BASS_PATTERNS,
    LAYERS,
    _drum_hits,
    bass_line,
    render_bass,
    render_drums,
    song_bars,
)
from .notebank import Instrument, NoteBank
from .songs import LEVELS_DB, STEMS, DemoSong, song_streams
from .synth import add_at, pan, reverb
from .theory import Plan
from .voice import compose_melody, render_vocals

SAMPLED_SHARE = {"drums": 0.85, "bass": 0.85}  # else the synthesized part
SAMPLED_VOICE = 0.5  # share of songs whose vocals are a sampled voice program
DRUM_MAP = {"kick": (35, 36), "snare": (38, 40, 38, 39, 37), "hat": (42, 42, 44, 51, 70, 54),
            "open": (46,), "crash": (49, 57)}
CHORD_RHYTHMS = ("x---------------", "x-------x-------", "x.....x...x.....", "..x...x...x...x.",
                 "x...x...x...x...", "x..x..x...x..x..", "x-------x---x---")
OTHER_PARTS = ("chords", "strum", "arp", "lead")


@dataclass
class SampledSong(DemoSong):
    """A :class:`DemoSong` whose ``instruments`` names what plays each stem."""

    instruments: dict[str, str] = field(default_factory=dict)


def _note(bank: NoteBank, inst: Instrument, pitch: int, dur: float, sr: int,
          velocity: int = 100, release: float = 0.08) -> np.ndarray:
    """One note held ``dur`` seconds, then faded out over ``release``."""
    x = bank.play(inst, pitch, velocity, sr)
    hold, m = int(dur * sr), min(len(x), int((dur + release) * sr))
    x = x[:m].copy()
    if m > hold:
        x[hold:] *= np.linspace(1.0, 0.0, m - hold)
    return x


def colour(x: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Half the time, a random spectral tilt (±3.6 dB per octave around 1 kHz), so that one
    program gives many timbres."""
    if rng.random() < 0.5:
        return x
    f = np.maximum(np.fft.rfftfreq(x.shape[-1], 1.0 / sr), 50.0)
    gain = (f / 1000.0) ** rng.uniform(-0.6, 0.6)
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * gain, x.shape[-1], axis=-1)


def sampled_drums(plan: Plan, rng: np.random.Generator, sr: int, n: int, bank: NoteBank,
                  names: dict[str, str]) -> np.ndarray:
    """The synthesized drums' patterns played on a sampled GM kit."""
    kit = bank.choose("drums", rng)
    names["drums"] = kit.name
    notes = {name: int(rng.choice(choices)) for name, choices in DRUM_MAP.items()}
    if notes["hat"] == 51:
        notes["open"] = 53  # ride: its bell instead of an open hat
    pans = {name: rng.uniform(-0.4, 0.4) for name in DRUM_MAP} | {"kick": 0.0}
    levels = {"kick": 1.0, "snare": 0.8, "hat": rng.uniform(0.3, 0.6), "crash": 0.4}
    levels["open"] = levels["hat"]
    out = np.zeros((2, n))
    for name, time, vel in _drum_hits(plan, rng, song_bars(plan, sr, n)):
        start = int((time + rng.normal(0.0, 0.003)) * sr)
        sig = bank.play(kit, notes[name], int(127 * min(vel, 1.0)), sr)
        add_at(out, pan(sig * vel * levels[name], pans[name]), start)
    if rng.random() < 0.3:  # a percussion layer on eighths or quarters
        extra, every = int(rng.choice([54, 56, 70, 39])), int(rng.choice([2, 4]))
        p, level = rng.uniform(-0.6, 0.6), rng.uniform(0.15, 0.35)
        for step in range(0, song_bars(plan, sr, n) * 16, every):
            sig = bank.play(kit, extra, 90, sr) * level * (1.0 if step % 8 == 0 else 0.7)
            add_at(out, pan(sig, p), int(plan.step_time(step) * sr))
    return out


def sampled_bass(plan: Plan, rng: np.random.Generator, sr: int, n: int, bank: NoteBank,
                 names: dict[str, str]) -> np.ndarray:
    """A bass line on the chord roots (:data:`BASS_PATTERNS`) on a sampled GM bass."""
    inst = bank.choose("bass", rng)
    names["bass"] = inst.name
    out = np.zeros(n)
    base = plan.tonic_in(28)
    pattern = BASS_PATTERNS[rng.integers(len(BASS_PATTERNS))]
    gate = rng.uniform(0.6, 0.95)
    for bar, step, pitch, length in bass_line(plan, pattern, base, song_bars(plan, sr, n)):
        dur = length * plan.sixteenth * (gate if length == 1 else 0.95)
        vel = int(rng.integers(85, 120))
        add_at(out, _note(bank, inst, pitch, dur, sr, vel) * vel / 127,
               int(plan.step_time(bar * 16 + step) * sr))
    return pan(colour(out, rng, sr), rng.uniform(-0.08, 0.08))


def _chords(plan, rng, sr, n, bank, inst, strum: bool) -> np.ndarray:
    out = np.zeros((2, n))
    center = int(rng.integers(50, 62))
    rhythm = CHORD_RHYTHMS[rng.integers(len(CHORD_RHYTHMS))]
    if strum:
        rhythm = str(rng.choice(["x.x.x.x.x.x.x.x.", "x..x..x.x..x..x.", "x...x.x...x.x.x."]))
    spread = rng.uniform(0.2, 0.7)
    for bar in range(song_bars(plan, sr, n)):
        voicing = plan.voicing(bar, center)
        hits = [s for s, ch in enumerate(rhythm) if ch == "x"]
        for i, step in enumerate(hits):
            nxt = hits[i + 1] if i + 1 < len(hits) else 16
            held = nxt - step if "-" in rhythm else min(nxt - step, 2)
            dur = held * plan.sixteenth * 0.95
            order = voicing if not strum or i % 2 == 0 else voicing[::-1]
            for k, pitch in enumerate(order):
                delay = k * rng.uniform(0.008, 0.02) if strum else 0.0
                vel = int(rng.integers(70, 110))
                sig = _note(bank, inst, pitch, dur, sr, vel) * vel / 127 * 0.4
                side = spread * (2 * k / max(1, len(order) - 1) - 1)
                add_at(out, pan(sig, side), int((plan.step_time(bar * 16 + step) + delay) * sr))
    return out


def _arp(plan, rng, sr, n, bank, inst) -> np.ndarray:
    out = np.zeros(n)
    center, rate = int(rng.integers(62, 76)), int(rng.choice([1, 2, 2, 4]))
    gate = rng.uniform(0.5, 1.0)
    for bar in range(song_bars(plan, sr, n)):
        tones = plan.voicing(bar, center)
        tones = tones + [tones[0] + 12]
        if rng.random() < 0.5:
            tones = tones + tones[-2:0:-1]
        for i, step in enumerate(range(0, 16, rate)):
            sig = _note(bank, inst, tones[i % len(tones)], rate * plan.sixteenth * gate, sr)
            add_at(out, sig * (0.35 if step % 4 else 0.45), int(plan.step_time(bar * 16 + step) * sr))
    return pan(out, rng.uniform(-0.5, 0.5))


def _melody(plan, rng, sr, n, bank, inst, low: int, harmony: bool = False) -> np.ndarray:
    """A monophonic line (:func:`compose_melody`), optionally doubled a third above."""
    out = np.zeros(n)
    scale = {(plan.tonic + d) % 12 for d in plan.scale}
    for phrase in compose_melody(plan, rng, low, low + 17, n / sr):
        for note in phrase:
            vel = int(rng.integers(80, 115))
            sig = _note(bank, inst, note.pitch, note.duration + 0.03, sr, vel) * vel / 127 * 0.5
            add_at(out, sig, int(note.start * sr))
            if harmony:
                third = note.pitch + (4 if (note.pitch + 4) % 12 in scale else 3)
                add_at(out, _note(bank, inst, third, note.duration + 0.03, sr, vel) * vel / 127 * 0.3,
                       int(note.start * sr))
    return out


def sampled_other(plan: Plan, rng: np.random.Generator, sr: int, n: int, bank: NoteBank,
                  names: dict[str, str], layers: list[str]) -> np.ndarray:
    """One or two sampled parts of :data:`OTHER_PARTS`, sometimes with a synthesized layer."""
    count = 1 if rng.random() < 0.4 else 2
    parts = [OTHER_PARTS[i] for i in rng.choice(len(OTHER_PARTS), size=count, replace=False)]
    out = np.zeros((2, n))
    used = []
    for part in parts:
        inst = bank.choose("other", rng)
        used.append(f"{part}={inst.name}")
        if part in ("chords", "strum"):
            sig = _chords(plan, rng, sr, n, bank, inst, strum=part == "strum")
        elif part == "arp":
            sig = _arp(plan, rng, sr, n, bank, inst)
        else:
            sig = pan(_melody(plan, rng, sr, n, bank, inst, int(rng.integers(55, 67))),
                      rng.uniform(-0.5, 0.5))
        sig = colour(sig, rng, sr)
        out += sig * rng.uniform(0.6, 1.0) / (np.sqrt(np.mean(sig**2)) + 1e-9)
        layers.append(part)
    if rng.random() < 0.25:
        name = str(rng.choice(list(LAYERS)))
        sig = LAYERS[name](plan, rng, sr, n)
        out += sig * rng.uniform(0.4, 0.8) / (np.sqrt(np.mean(sig**2)) + 1e-9)
        layers.append(name)
        used.append(f"{name}=synth")
    names["other"] = ", ".join(used)
    return reverb(out, sr, rng, rt60=rng.uniform(0.4, 1.6), wet=rng.uniform(0.05, 0.3))


def sampled_vocals(plan: Plan, rng: np.random.Generator, sr: int, n: int, bank: NoteBank,
                   names: dict[str, str]) -> np.ndarray:
    """A sampled voice program singing a melody, or the formant voice (sometimes over a
    sampled choir holding the chords)."""
    if rng.random() < SAMPLED_VOICE:
        inst = bank.choose("vocals", rng)
        harmony = bool(rng.random() < 0.3)
        names["vocals"] = inst.name + (" + harmony" if harmony else "")
        low = int(rng.integers(55, 60)) if rng.random() < 0.5 else int(rng.integers(47, 52))
        out = pan(colour(_melody(plan, rng, sr, n, bank, inst, low, harmony), rng, sr),
                  rng.uniform(-0.15, 0.15))
        return reverb(out, sr, rng, rt60=rng.uniform(0.8, 1.8), wet=rng.uniform(0.1, 0.25))
    out = render_vocals(plan, rng, sr, n)
    names["vocals"] = "formant voice"
    if rng.random() < 0.25:
        inst = bank.choose("vocals", rng)
        names["vocals"] += f" + {inst.name} chords"
        choir = _chords(plan, rng, sr, n, bank, inst, strum=False)
        out += choir * rng.uniform(0.2, 0.4) * np.sqrt(np.mean(out**2)) / (
            np.sqrt(np.mean(choir**2)) + 1e-9)
    return out


def generate_sampled_song(seed: int, bank: NoteBank, duration: float = 8.0,
                          samplerate: int = 44100) -> SampledSong:
    """Render a song deterministically from ``seed`` and ``bank`` (levels and scaling as
    :func:`generate_song`)."""
    n, plan, levels, stem_seqs = song_streams(seed, 0x5A3B1E, duration, samplerate)
    rngs = dict(zip(STEMS, (np.random.default_rng(s) for s in stem_seqs), strict=True))
    names: dict[str, str] = {}
    layers: list[str] = []
    parts = {}
    for name, synth in (("drums", render_drums), ("bass", render_bass)):
        rng = rngs[name]
        if rng.random() < SAMPLED_SHARE[name]:
            render = sampled_drums if name == "drums" else sampled_bass
            parts[name] = render(plan, rng, samplerate, n, bank, names)
        else:
            parts[name] = synth(plan, rng, samplerate, n)
            names[name] = "synth"
    parts["other"] = sampled_other(plan, rngs["other"], samplerate, n, bank, names, layers)
    parts["vocals"] = sampled_vocals(plan, rngs["vocals"], samplerate, n, bank, names)
    stems = np.zeros((len(STEMS), 2, n))
    for i, name in enumerate(STEMS):
        stem = parts[name]
        rms = np.sqrt(np.mean(stem**2)) + 1e-9
        stems[i] = stem / rms * 10 ** (levels.uniform(*LEVELS_DB[name]) / 20)
    stems *= levels.uniform(0.5, 0.85) / (np.max(np.abs(stems.sum(axis=0))) + 1e-9)
    return SampledSong(stems=stems.astype(np.float32), samplerate=samplerate, seed=int(seed),
                       tempo=round(plan.tempo, 1), key=plan.key, other_layers=tuple(layers),
                       instruments=names)
