"""A sung-like monophonic voice: glottal source through vowel formants, with vibrato,
glides, consonant noise, breaths and phrase gaps.

The voice is rendered additively: harmonic k of the pitch contour gets the amplitude of a
glottal source (spectral tilt) times a cascade of second-order formant resonances evaluated
at k·f0(t). Formants move smoothly from vowel to vowel, so it is the same spectrum a source
through time-varying resonators would give, without a per-sample filter loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synth import add_at, midi_hz, pan, perc_env, reverb, smooth, spectral_filter
from .theory import Plan

# Formant frequencies (Hz) of an adult male voice, after Peterson & Barney (1952).
VOWELS = {
    "a": (730, 1090, 2440, 3400),
    "e": (530, 1840, 2480, 3500),
    "i": (270, 2290, 3010, 3600),
    "o": (570, 840, 2410, 3300),
    "u": (300, 870, 2240, 3300),
    "ae": (660, 1720, 2410, 3400),
    "uh": (640, 1190, 2390, 3400),
}
BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])
HOP = 64  # control-rate hop in samples
MAX_HARMONIC_HZ = 6000.0


@dataclass
class Note:
    start: float  # seconds
    duration: float
    pitch: int  # MIDI
    vowel: str
    consonant: bool


def compose_melody(plan: Plan, rng: np.random.Generator, low: int, high: int,
                   duration: float) -> list[list[Note]]:
    """Phrases of notes on the scale, chord tones on strong beats, rests between phrases."""
    phrases: list[list[Note]] = []
    base = plan.tonic_in(low - 12)
    scale_notes = [plan.degree_midi(d, base) for d in range(0, 35)]
    scale_notes = [m for m in scale_notes if low <= m <= high]
    index = len(scale_notes) // 2
    vowels = list(VOWELS)
    bar = 0
    while bar * plan.bar < duration:
        length = 2 if rng.random() < 0.6 else 1
        step = int(rng.integers(0, 3)) if bar == 0 else int(rng.choice([0, 0, 2, 4]))
        end = length * 16 - int(rng.choice([2, 4, 4, 6]))
        notes: list[Note] = []
        vowel = str(rng.choice(vowels))
        while step < end:
            dur = int(rng.choice([2, 2, 2, 3, 4, 4, 6, 8]))
            dur = min(dur, end - step)
            g = bar * 16 + step
            index += int(rng.choice([-2, -1, -1, -1, 1, 1, 1, 2, 2, 3, -3, 0]))
            index = int(np.clip(index, 0, len(scale_notes) - 1))
            pitch = scale_notes[index]
            if step % 4 == 0:  # strong beat: move to the nearest chord tone
                pcs = plan.chord_pitch_classes(bar + step // 16)
                candidates = [m for m in scale_notes if m % 12 in pcs]
                pitch = min(candidates, key=lambda m: (abs(m - pitch), m))
                index = scale_notes.index(pitch)
            if rng.random() < 0.6:
                vowel = str(rng.choice(vowels))
            start = plan.step_time(g)
            notes.append(Note(start, plan.step_time(g + dur) - start, pitch, vowel,
                              consonant=bool(rng.random() < 0.35)))
            step += dur
        if notes:
            phrases.append(notes)
        bar += length
    return phrases


def _formant_gain(freq: np.ndarray, formants: np.ndarray) -> np.ndarray:
    """Magnitude of a cascade of 2nd-order resonators (DC gain 1) at ``freq``.

    ``freq`` is [K, Tc]; ``formants`` is [4, Tc].
    """
    gain = np.ones_like(freq)
    for i in range(formants.shape[0]):
        fi = formants[i][None, :]
        bw = BANDWIDTHS[i]
        gain *= fi**2 / np.sqrt((fi**2 - freq**2) ** 2 + (freq * bw) ** 2)
    return gain


def _render_phrase(notes: list[Note], rng: np.random.Generator, sr: int, voice: dict) -> tuple[int, np.ndarray]:
    """Render one phrase; returns (start sample, mono signal)."""
    lead, tail = 0.08, 0.25
    t0 = notes[0].start - lead
    t1 = notes[-1].start + notes[-1].duration + tail
    n = int((t1 - t0) * sr) // HOP * HOP + HOP
    nc = n // HOP
    tc = t0 + np.arange(nc) * HOP / sr
    pitch = np.full(nc, float(notes[0].pitch))
    amp = np.zeros(nc)
    formants = np.zeros((4, nc))
    onset_age = np.zeros(nc)
    for note in notes:
        on = tc >= note.start
        pitch[on] = note.pitch
        formants[:, on] = np.array(VOWELS[note.vowel])[:, None] * voice["formant_scale"]
        onset_age[on] = tc[on] - note.start
        inside = on & (tc < note.start + note.duration)
        amp[inside] = 0.8 + 0.2 * rng.random()
        if note.consonant:
            amp[on & (tc < note.start + 0.03)] = 0.15
    formants[:, tc < notes[0].start] = formants[:, [np.argmax(tc >= notes[0].start)]]
    hop_s = HOP / sr
    pitch = smooth(pitch, max(1, int(voice["glide"] / hop_s)))
    vib_depth = voice["vibrato_cents"] / 100.0 * np.clip((onset_age - 0.06) / 0.15, 0.0, 1.0)
    vibrato = vib_depth * np.sin(2 * np.pi * voice["vibrato_hz"] * tc + rng.random() * 6.28)
    vibrato -= voice["scoop_cents"] / 100.0 * np.exp(-onset_age / 0.05)  # scoop up into notes
    drift = smooth(rng.standard_normal(nc), int(0.1 / hop_s)) * 0.15
    f0c = midi_hz(pitch + vibrato + drift)
    formants = np.stack([smooth(f, int(0.06 / hop_s)) for f in formants])
    amp = smooth(amp, int(0.04 / hop_s)) * (1.0 + 0.05 * smooth(rng.standard_normal(nc), 8))
    # audio-rate phase and per-harmonic amplitudes (interpolated from control rate)
    ta = np.arange(n) / HOP
    ic = np.arange(nc)
    f0 = np.interp(ta, ic, f0c)
    theta = 2 * np.pi * np.cumsum(f0) / sr
    k_max = int(MAX_HARMONIC_HZ / f0c.max())
    k = np.arange(1, k_max + 1, dtype=np.float64)[:, None]
    hfreq = k * f0c[None, :]
    amps = k ** (1.0 - voice["tilt"]) * _formant_gain(hfreq, formants)
    amps *= 1.0 / (1.0 + (hfreq / 4500.0) ** 4)  # fade the top harmonics out smoothly
    amps = amps / np.maximum(np.sqrt(np.sum(amps**2, axis=0, keepdims=True)), 1e-9) * amp
    out = np.zeros(n)
    s_prev, s_cur = np.zeros(n), np.sin(theta)
    c2 = 2 * np.cos(theta)
    for i in range(k_max):  # sin(k θ) by the Chebyshev recursion
        out += np.interp(ta, ic, amps[i]) * s_cur
        s_prev, s_cur = s_cur, c2 * s_cur - s_prev
    aspiration = spectral_filter(rng.standard_normal(n), sr, low=1500.0, high=7000.0)
    out += voice["breathiness"] * aspiration * np.interp(ta, ic, amp)
    for note in notes:  # sibilant / fricative before some notes
        if note.consonant:
            m = int(rng.uniform(0.04, 0.08) * sr)
            hiss = spectral_filter(rng.standard_normal(m), sr, low=rng.uniform(3500, 5500))
            hiss *= np.hanning(m) * rng.uniform(0.08, 0.2)
            add_at(out, hiss, int((note.start - t0) * sr) - m + int(0.01 * sr))
    return int(t0 * sr), out


def render_vocals(plan: Plan, rng: np.random.Generator, sr: int, n: int) -> np.ndarray:
    """The lead voice: melody phrases, breaths, a little room reverb."""
    female = rng.random() < 0.5
    low = int(rng.integers(55, 60)) if female else int(rng.integers(47, 52))
    voice = {
        "formant_scale": rng.uniform(1.1, 1.2) if female else rng.uniform(0.95, 1.05),
        "tilt": rng.uniform(1.6, 2.2),
        "vibrato_hz": rng.uniform(4.5, 6.5),
        "vibrato_cents": rng.uniform(40, 90),
        "scoop_cents": rng.uniform(30, 80),
        "glide": rng.uniform(0.03, 0.08),
        "breathiness": rng.uniform(0.01, 0.04),
    }
    out = np.zeros(n)
    phrases = compose_melody(plan, rng, low, low + 17, n / sr)
    for i, notes in enumerate(phrases):
        start, sig = _render_phrase(notes, rng, sr, voice)
        add_at(out, sig * 0.3, start)
        if i > 0:  # an audible breath before the phrase
            m = int(rng.uniform(0.15, 0.3) * sr)
            breath = spectral_filter(rng.standard_normal(m), sr, low=600.0, high=3500.0)
            breath *= perc_env(m, sr, 0.5, attack=0.08) * np.hanning(m) * 0.02
            add_at(out, breath, start - m)
    stereo = pan(out, rng.uniform(-0.15, 0.15))
    return reverb(stereo, sr, rng, rt60=rng.uniform(0.8, 1.8), wet=rng.uniform(0.1, 0.25))
