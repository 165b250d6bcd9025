"""Drums, bass and "other" (pads, arpeggios, keys) for the demo songs.

Each ``render_*`` function takes the song's :class:`Plan`, a random generator, the sample
rate and the length in samples, and returns a stereo ``[2, n]`` float64 stem.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .synth import (
    add_at,
    adsr,
    harmonics,
    midi_hz,
    pan,
    perc_env,
    reverb,
    spectral_filter,
    table_osc,
    wavetable,
)
from .theory import Plan

# 16-step patterns per bar: kick, snare, closed hat, open hat.
DRUM_STYLES = {
    "pop": ("x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", "................"),
    "four": ("x...x...x...x...", "....x.......x...", "x.x.x.x.x.x.x.x.", "..x...x...x...x."),
    "half": ("x.........x.....", "........x.......", "x.x.x.x.x.x.x.x.", "..............x."),
    "break": ("x.........x..x..", "....x..x.x..x...", "x.xxx.x.x.xxx.x.", "......x........."),
    "rock16": ("x..x..x...x.....", "....x.......x..x", "xxxxxxxxxxxxxxxx", "................"),
}
# Bass patterns: r root, f fifth, o octave, '-' hold, '.' rest.
BASS_PATTERNS = (
    "r.r.r.r.r.r.r.r.",
    "r..r..r.r..r..r.",
    "r---f---o---f---",
    "r.....r.r...f.o.",
    "r-------f-------",
    "r.ro.r.ro.r.ro.r",
    "r--r--r-r--.f-o-",
)


def _drum_hits(plan: Plan, rng: np.random.Generator, n_bars: int):
    """Yield (instrument, time, velocity) for every drum hit."""
    style = DRUM_STYLES[str(rng.choice(list(DRUM_STYLES)))]
    ghost = rng.random() < 0.5
    for bar in range(n_bars):
        fill = bar % 4 == 3 and rng.random() < 0.7
        for step in range(16):
            g = bar * 16 + step
            t = plan.step_time(g)
            accent = 1.0 if step % 4 == 0 else (0.8 if step % 2 == 0 else 0.65)
            if fill and step >= 12:
                yield "snare", t, 0.5 + 0.12 * (step - 12)
                continue
            if style[0][step] == "x" or (step % 4 == 2 and rng.random() < 0.08):
                yield "kick", t, 0.9 + 0.1 * rng.random()
            if style[1][step] == "x":
                yield "snare", t, 0.85 + 0.15 * rng.random()
            elif ghost and step % 2 == 1 and rng.random() < 0.12:
                yield "snare", t, 0.2
            if style[3][step] == "x":
                yield "open", t, 0.6 * accent
            elif style[2][step] == "x":
                yield "hat", t, accent * (0.8 + 0.2 * rng.random())
        if bar % 4 == 0 and (bar > 0 or rng.random() < 0.5):
            yield "crash", plan.step_time(bar * 16), 0.8


def render_drums(plan: Plan, rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """Kick, snare, hats and crashes following one of :data:`DRUM_STYLES`."""
    out = np.zeros((2, n))
    kick_len = int(0.45 * sr)
    t = np.arange(kick_len) / sr
    f_end, f_start = rng.uniform(42, 60), rng.uniform(110, 190)
    freq = f_end + (f_start - f_end) * np.exp(-t / rng.uniform(0.02, 0.05))
    kick = np.sin(2 * np.pi * np.cumsum(freq) / sr) * perc_env(kick_len, sr, rng.uniform(0.12, 0.3))
    kick[: int(0.003 * sr)] += rng.standard_normal(int(0.003 * sr)) * 0.3
    noise_len = 2 * sr
    snare_noise = spectral_filter(rng.standard_normal(noise_len), sr, low=rng.uniform(800, 2000),
                                  high=rng.uniform(6000, 11000))
    snare_noise /= np.std(snare_noise)
    hat_noise = spectral_filter(rng.standard_normal(noise_len), sr, low=rng.uniform(6000, 9000),
                                slope=3.0)
    hat_noise /= np.std(hat_noise)
    crash_noise = spectral_filter(rng.standard_normal(noise_len), sr, low=3500.0)
    crash_noise /= np.std(crash_noise)
    snare_tone_hz = rng.uniform(170, 240)
    snare_decay, hat_decay = rng.uniform(0.05, 0.12), rng.uniform(0.02, 0.05)
    snare_len = int(0.35 * sr)
    snare_tone = np.sin(2 * np.pi * snare_tone_hz * np.arange(snare_len) / sr)
    snare_tone *= perc_env(snare_len, sr, 0.05)
    snare_mix = rng.uniform(0.3, 0.6)
    pans = {"kick": 0.0, "snare": rng.uniform(-0.15, 0.15), "hat": rng.uniform(-0.4, 0.4),
            "crash": rng.uniform(-0.4, 0.4)}
    pans["open"] = pans["hat"]
    levels = {"kick": 1.0, "snare": 0.7, "hat": rng.uniform(0.06, 0.14), "crash": 0.08}
    levels["open"] = levels["hat"]
    n_bars = int(np.ceil(n / sr / plan.bar)) + 1
    for name, time, vel in _drum_hits(plan, rng, n_bars):
        start = int((time + rng.normal(0.0, 0.003)) * sr)
        if name == "kick":
            sig = kick
        elif name == "snare":
            off = int(rng.integers(noise_len - snare_len))
            sig = snare_mix * snare_tone + (1 - snare_mix) * snare_noise[off:off + snare_len] \
                * perc_env(snare_len, sr, snare_decay) * 0.5
        elif name in ("hat", "open"):
            length = int((0.4 if name == "open" else 0.12) * sr)
            off = int(rng.integers(noise_len - length))
            decay = 0.12 if name == "open" else hat_decay
            sig = hat_noise[off:off + length] * perc_env(length, sr, decay)
        else:
            length = int(1.5 * sr)
            sig = crash_noise[:length] * perc_env(length, sr, 0.45)
        add_at(out, pan(sig * vel * levels[name], pans[name]), start)
    return out



def song_bars(plan: Plan, sr: int, n: int) -> int:
    """Bars to write so that ``n`` samples are covered (one spare for ringing notes)."""
    return int(np.ceil(n / sr / plan.bar)) + 1


def bass_line(plan: Plan, pattern: str, base: int,
              n_bars: int) -> Iterator[tuple[int, int, int, int]]:
    """``(bar, step, MIDI pitch, length in sixteenths)`` of each note a bass ``pattern``
    plays on the chord roots (``r`` root, ``f`` fifth, ``o`` octave, ``-`` held)."""
    for bar in range(n_bars):
        root = plan.degree_midi(plan.chord_degrees_at(bar)[0], base)
        if root > 45:
            root -= 12
        notes = {"r": root, "f": root + 7, "o": root + 12}
        for step, ch in enumerate(pattern):
            if ch not in notes:
                continue
            length = 1
            while step + length < 16 and pattern[step + length] == "-":
                length += 1
            yield bar, step, notes[ch], length


def render_bass(plan: Plan, rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """A bass line on the chord roots with one of :data:`BASS_PATTERNS`."""
    out = np.zeros(n)
    base = plan.tonic_in(28)
    kind = str(rng.choice(["saw", "square", "sine", "triangle", "saw"]))
    count = 3 if kind == "sine" else 30
    amps = harmonics(kind, count, brightness=rng.uniform(0.4, 0.8))
    if kind == "sine":
        amps[1] = 0.25
    bright = wavetable(amps)
    dark = wavetable(harmonics("sine", 2) + np.array([0.0, 0.15]))
    pluck = rng.uniform(0.05, 0.2)
    pattern = BASS_PATTERNS[rng.integers(len(BASS_PATTERNS))]
    gate = rng.uniform(0.6, 0.95)
    for bar, step, pitch, length in bass_line(plan, pattern, base, song_bars(plan, sr, n)):
        start = plan.step_time(bar * 16 + step)
        dur = length * plan.sixteenth * (gate if length == 1 else 0.95)
        m = int((dur + 0.05) * sr)
        f = float(midi_hz(pitch))
        mix = np.exp(-np.arange(m) / (pluck * sr))
        sig = mix * table_osc(bright, f, m, sr) + (1 - mix) * table_osc(dark, f, m, sr)
        sig *= adsr(m, sr, 0.004, 0.3, 0.7, 0.03, dur)
        add_at(out, sig * (0.9 + 0.1 * rng.random()), int(start * sr))
    return pan(out, rng.uniform(-0.08, 0.08))


def _pad(plan, rng, sr, n):
    out = np.zeros((2, n))
    center = int(rng.integers(50, 58))
    attack, bright = rng.uniform(0.05, 0.35), rng.uniform(0.1, 0.5)
    kind = str(rng.choice(["saw", "square", "organ"]))
    table = wavetable(harmonics(kind, 12, bright))
    detune, width = rng.uniform(0.003, 0.008), rng.uniform(0.3, 0.8)
    n_bars = int(np.ceil(n / sr / plan.bar)) + 1
    bar = 0
    while bar < n_bars:
        span = 1
        while bar + span < n_bars and plan.chord_degrees[bar + span] == plan.chord_degrees[bar]:
            span += 1
        dur = span * plan.bar
        m = int((dur + 0.4) * sr)
        env = adsr(m, sr, attack, 0.5, 0.8, 0.25, dur)
        for note in plan.voicing(bar, center):
            f = float(midi_hz(note))
            for side, d in ((-1, -detune), (1, detune)):
                sig = table_osc(table, f * (1 + d), m, sr, phase0=rng.random()) * env
                add_at(out, pan(sig * 0.25, side * width), int(plan.step_time(bar * 16) * sr))
        bar += span
    return out


def _arp(plan, rng, sr, n):
    out = np.zeros(n)
    center = int(rng.integers(72, 80))
    kind = str(rng.choice(["triangle", "square", "saw", "organ"]))
    table = wavetable(harmonics(kind, 14, rng.uniform(0.3, 0.8)))
    rate = int(rng.choice([2, 2, 1]))  # in sixteenths
    decay = rng.uniform(0.12, 0.4)
    shape = str(rng.choice(["up", "down", "updown"]))
    n_bars = int(np.ceil(n / sr / plan.bar)) + 1
    for bar in range(n_bars):
        tones = plan.voicing(bar, center)
        tones = tones + [tones[0] + 12]
        if shape == "down":
            tones = tones[::-1]
        elif shape == "updown":
            tones = tones + tones[-2:0:-1]
        for i, step in enumerate(range(0, 16, rate)):
            m = int((decay * 4) * sr)
            f = float(midi_hz(tones[i % len(tones)]))
            sig = table_osc(table, f, m, sr) * perc_env(m, sr, decay, attack=0.003)
            add_at(out, sig * (0.35 if step % 4 else 0.45), int(plan.step_time(bar * 16 + step) * sr))
    return pan(out, rng.uniform(-0.5, 0.5))


def _keys(plan, rng, sr, n):
    out = np.zeros((2, n))
    center = int(rng.integers(50, 58))
    rhythm = str(rng.choice(["x.....x...x.....", "..x...x...x...x.", "x...x...x...x...",
                             "x..x..x...x..x.."]))
    ratio, index, decay = float(rng.choice([1.0, 2.0])), rng.uniform(1.0, 3.0), rng.uniform(0.4, 1.2)
    n_bars = int(np.ceil(n / sr / plan.bar)) + 1
    p = rng.uniform(-0.4, 0.4)
    m = int(min(decay * 3, 2.5) * sr)
    t = np.arange(m) / sr
    env = perc_env(m, sr, decay, attack=0.002) * 0.18
    cache: dict[tuple[int, ...], np.ndarray] = {}
    for bar in range(n_bars):
        notes = tuple(plan.voicing(bar, center))
        if notes not in cache:  # the same chord sounds the same every time: render it once
            chord = np.zeros(m)
            for note in notes:
                f = float(midi_hz(note))
                mod = index * np.exp(-t / 0.25) * np.sin(2 * np.pi * f * ratio * t)
                chord += np.sin(2 * np.pi * f * t + mod)
            cache[notes] = pan(chord * env, p)
        for step, ch in enumerate(rhythm):
            if ch == "x":
                add_at(out, cache[notes] * (0.85 + 0.15 * rng.random()),
                       int(plan.step_time(bar * 16 + step) * sr))
    return out


LAYERS = {"pad": _pad, "arp": _arp, "keys": _keys}


def render_other(plan: Plan, rng: np.random.Generator, sr: int, n: int,
                 layers: list[str] | None = None) -> np.ndarray:
    """One or two harmonic layers (pad, arpeggio, keys) with a touch of reverb; the names
    of the chosen layers are appended to ``layers`` when given."""
    names = list(LAYERS)
    count = 1 if rng.random() < 0.35 else 2
    chosen = [names[i] for i in rng.choice(len(names), size=count, replace=False)]
    if layers is not None:
        layers.extend(chosen)
    out = np.zeros((2, n))
    for name in chosen:
        out += LAYERS[name](plan, rng, sr, n) * rng.uniform(0.6, 1.0)
    return reverb(out, sr, rng, rt60=rng.uniform(0.6, 1.6), wet=rng.uniform(0.1, 0.3))
