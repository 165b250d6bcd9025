"""Tempo, key, scale and chord progression of a demo song: the *plan* every part follows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
# Progressions as 0-based scale degrees, one chord per harmonic span.
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (5, 3, 0, 4), (0, 3, 5, 4), (0, 0, 3, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (0, 5, 3, 4)),
}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Plan:
    """Musical skeleton: timing grid, key and chords per bar."""

    tempo: float
    tonic: int  # pitch class 0..11
    mode: str
    bars: int
    chord_degrees: tuple[int, ...]  # scale degree of each bar's chord
    sevenths: bool
    swing: float  # delay of odd sixteenths, as a fraction of a sixteenth

    @property
    def beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def bar(self) -> float:
        return 4.0 * self.beat

    @property
    def sixteenth(self) -> float:
        return self.beat / 4.0

    @property
    def scale(self) -> tuple[int, ...]:
        return SCALES[self.mode]

    @property
    def key(self) -> str:
        quality = "major" if self.mode in ("major", "mixolydian") else "minor"
        suffix = "" if self.mode in ("major", "minor") else f" ({self.mode})"
        return f"{NOTE_NAMES[self.tonic]} {quality}{suffix}"

    def step_time(self, step: int) -> float:
        """Start time in seconds of global sixteenth ``step`` (with swing)."""
        return step * self.sixteenth + (self.swing * self.sixteenth if step % 2 else 0.0)

    def degree_midi(self, degree: int, base: int) -> int:
        """MIDI note of scale ``degree`` (any integer) above ``base`` (a tonic MIDI note)."""
        octave, index = divmod(degree, 7)
        return base + 12 * octave + self.scale[index]

    def tonic_in(self, low: int) -> int:
        """The lowest MIDI tonic at or above ``low``."""
        return low + (self.tonic - low) % 12

    def chord_degrees_at(self, bar: int) -> tuple[int, ...]:
        """Scale degrees of the chord in ``bar`` (triad, or seventh chord)."""
        root = self.chord_degrees[bar % len(self.chord_degrees)]
        tones = (root, root + 2, root + 4) + ((root + 6,) if self.sevenths else ())
        return tones

    def chord_pitch_classes(self, bar: int) -> tuple[int, ...]:
        return tuple((self.tonic + self.scale[d % 7]) % 12 for d in self.chord_degrees_at(bar))

    def voicing(self, bar: int, center: int) -> list[int]:
        """Chord tones of ``bar`` as MIDI notes, each in the octave closest to ``center``."""
        notes = []
        for pc in self.chord_pitch_classes(bar):
            note = center - 6 + (pc - (center - 6)) % 12
            notes.append(note)
        return sorted(notes)


def make_plan(rng: np.random.Generator, duration: float) -> Plan:
    """Draw tempo, key, mode and a chord progression long enough for ``duration``."""
    tempo = float(rng.uniform(84.0, 136.0))
    mode = str(rng.choice(list(SCALES)))
    family = "major" if mode in ("major", "mixolydian") else "minor"
    progression = PROGRESSIONS[family][rng.integers(len(PROGRESSIONS[family]))]
    bars_per_chord = 2 if tempo > 120 and rng.random() < 0.5 else 1
    bars = int(np.ceil(duration / (240.0 / tempo))) + 1
    degrees = tuple(progression[(b // bars_per_chord) % len(progression)] for b in range(bars))
    swing = float(rng.choice([0.0, 0.0, 0.0, 0.15, 0.3]))
    return Plan(tempo=tempo, tonic=int(rng.integers(12)), mode=mode, bars=bars,
                chord_degrees=degrees, sevenths=bool(rng.random() < 0.3), swing=swing)
