"""A bank of single SoundFont notes (``scripts/render_note_bank.py`` writes it), and
playing them at any pitch.

The bank is one ``.npz``: ``audio`` holds every note as 8-bit mu-law, mono; per note,
``offset``/``length`` locate it, ``role`` (index into :data:`BANK_ROLES`), ``program`` (GM
program, or drum kit), ``pitch`` (MIDI note), ``velocity``, ``font`` (index into ``fonts``),
``peak`` (the peak amplitude it was scaled from) and ``rate`` (its sample rate) describe it.
Notes are stored pre-emphasized (``emphasis``: y[n] = x[n] - a·x[n-1]) so that de-emphasis
pushes the mu-law quantization noise down where a note has little energy (its high
frequencies). numpy only.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

BANK_ROLES = ("drums", "bass", "other", "vocals")
PITCHED_RATE = 22050
DRUM_RATE = 44100
MU = 255.0
EMPHASIS = 0.95  # pre-emphasis coefficient of the stored notes
FIELDS = ("offset", "length", "role", "program", "pitch", "velocity", "font", "peak", "rate")


class NoteBankError(ValueError):
    """A note bank file is missing, unreadable or lacks what a song needs."""


def mulaw_encode(x: np.ndarray) -> np.ndarray:
    """Samples in [-1, 1] → uint8 mu-law codes."""
    y = np.sign(x) * np.log1p(MU * np.minimum(np.abs(x), 1.0)) / np.log1p(MU)
    return np.round((y + 1.0) * 127.5).astype(np.uint8)


def mulaw_decode(code: np.ndarray) -> np.ndarray:
    """uint8 mu-law codes → float64 samples in [-1, 1]."""
    y = code.astype(np.float64) / 127.5 - 1.0
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU


def preemphasize(x: np.ndarray, a: float = EMPHASIS) -> np.ndarray:
    """y[n] = x[n] - a·x[n-1] (what the bank stores)."""
    y = np.array(x, dtype=np.float64)
    y[1:] -= a * x[:-1]
    return y


def resample(x: np.ndarray, ratio: float, deemphasis: float = 0.0) -> np.ndarray:
    """Band-limited resampling by FFT to ``round(len(x) * ratio)`` samples, undoing a
    pre-emphasis of coefficient ``deemphasis`` (the inverse IIR filter) on the way."""
    n = max(2, int(round(len(x) * ratio)))
    pad = 256 if deemphasis else 0  # the inverse filter's tail (a^256 is negligible)
    size = len(x) + pad
    spectrum = np.fft.rfft(x, size)
    if deemphasis:
        spectrum /= 1.0 - deemphasis * np.exp(-2j * np.pi * np.arange(len(spectrum)) / size)
    m = max(2, int(round(size * ratio)))
    keep = min(len(spectrum), m // 2 + 1)
    return (np.fft.irfft(spectrum[:keep], m) * (m / size))[:n]


@dataclass(frozen=True)
class Instrument:
    """One program (or drum kit) of one font in a bank."""

    role: str
    program: int
    font: str
    rows: tuple[int, ...]  # indices of its notes in the bank

    @property
    def name(self) -> str:
        kind = "kit" if self.role == "drums" else "program"
        return f"{self.font}:{kind} {self.program}"


def _check(audio: np.ndarray, table: dict[str, np.ndarray], fonts: tuple[str, ...]) -> str:
    """What is wrong with a bank's arrays (another's file: indices and spans must stay in
    range before any note is played), or ``""``."""
    if audio.ndim != 1 or audio.dtype != np.uint8:
        return "audio is not 1-D uint8 mu-law"
    sizes = {name: column.shape for name, column in table.items()}
    if any(len(shape) != 1 for shape in sizes.values()) or len(set(sizes.values())) != 1:
        return "the note table's columns are not 1-D of one length"
    if any(table[name].dtype.kind not in "iu" for name in FIELDS if name != "peak"):
        return "the note table holds non-integer indices"
    if not len(table["role"]):
        return "it holds no notes"
    offset, length = table["offset"].astype(np.int64), table["length"].astype(np.int64)
    if np.any(offset < 0) or np.any(length < 1) or np.any(offset + length > len(audio)):
        return "a note lies outside the audio"
    if np.any(table["role"] < 0) or np.any(table["role"] >= len(BANK_ROLES)):
        return "a note has an unknown role"
    if np.any(table["font"] < 0) or np.any(table["font"] >= len(fonts)):
        return "a note names a font the bank does not list"
    if np.any(table["rate"] < 1) or not np.all(np.isfinite(table["peak"].astype(np.float64))):
        return "a note has a bad rate or peak"
    return ""


MAX_UNPACKED = 512 * 1024 * 1024
"""The most bytes a bank file may unpack to (the rendered banks: 21 and 5 MB)."""


def _check_unpacked_size(path: str | os.PathLike) -> None:
    """Refuse a bank whose members would unpack to more than :data:`MAX_UNPACKED` bytes
    (a zip bomb), from the zip directory alone, before anything is decompressed."""
    with zipfile.ZipFile(path) as archive:
        total = sum(info.file_size for info in archive.infolist())
    if total > MAX_UNPACKED:
        raise ValueError(f"it unpacks to {total / 2**20:.0f} MiB, over the "
                         f"{MAX_UNPACKED // 2**20} MiB a bank may hold")


@dataclass
class NoteBank:
    """The notes of a bank file, grouped by instrument; ``play`` renders one note."""

    audio: np.ndarray
    table: dict[str, np.ndarray]
    fonts: tuple[str, ...]
    path: str = ""
    emphasis: float = 0.0
    instruments: dict[str, list[Instrument]] = field(default_factory=dict)
    _cache: dict[tuple[int, int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NoteBank:
        """Read a bank; raises :class:`NoteBankError` when it is missing or malformed."""
        try:
            _check_unpacked_size(path)
            with np.load(path, allow_pickle=False) as data:
                audio = data["audio"]
                table = {name: data[name] for name in FIELDS}
                fonts = tuple(str(f) for f in data["fonts"])
                emphasis = float(data["emphasis"]) if "emphasis" in data else 0.0
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise NoteBankError(f"cannot read note bank {os.fspath(path)}: {exc}") from exc
        problem = _check(audio, table, fonts)
        if problem:
            raise NoteBankError(f"note bank {os.fspath(path)} is malformed: {problem}; "
                                "render it again with scripts/render_note_bank.py")
        bank = cls(audio=audio, table=table, fonts=fonts, path=os.fspath(path), emphasis=emphasis)
        keys = sorted({(int(r), int(f), int(p)) for r, f, p in
                       zip(table["role"], table["font"], table["program"], strict=True)})
        for role, font, program in keys:
            rows = np.nonzero((table["role"] == role) & (table["font"] == font)
                              & (table["program"] == program))[0]
            bank.instruments.setdefault(BANK_ROLES[role], []).append(
                Instrument(BANK_ROLES[role], program, fonts[font], tuple(int(i) for i in rows)))
        return bank

    def choose(self, role: str, rng: np.random.Generator,
               programs: tuple[int, ...] | None = None) -> Instrument:
        """A random instrument of ``role`` (optionally among ``programs``)."""
        pool = [i for i in self.instruments.get(role, ())
                if programs is None or i.program in programs] or self.instruments.get(role, [])
        if not pool:
            raise NoteBankError(f"note bank {self.path} has no {role} instrument")
        return pool[int(rng.integers(len(pool)))]

    def play(self, instrument: Instrument, pitch: int, velocity: int = 100,
             samplerate: int = 44100) -> np.ndarray:
        """Mono float64 note of ``instrument`` at MIDI ``pitch`` (drums: the kit note
        nearest in velocity), pitch-shifted from the bank's nearest note by resampling."""
        table = self.table
        rows = np.array(instrument.rows)
        if instrument.role == "drums":
            rows = rows[table["pitch"][rows] == pitch] if np.any(table["pitch"][rows] == pitch) else rows
            row = int(rows[np.argmin(np.abs(table["velocity"][rows].astype(int) - velocity))])
            shift = 0
        else:
            row = int(rows[np.argmin(np.abs(table["pitch"][rows].astype(int) - pitch))])
            shift = pitch - int(table["pitch"][row])
        key = (row, shift, samplerate)
        if key not in self._cache:
            if len(self._cache) >= 256:  # a song uses far fewer: keep memory bounded
                self._cache.clear()
            start, length = int(table["offset"][row]), int(table["length"][row])
            x = mulaw_decode(self.audio[start:start + length]) * float(table["peak"][row])
            ratio = samplerate / float(table["rate"][row]) * 2.0 ** (-shift / 12)
            self._cache[key] = resample(x, ratio, self.emphasis)
        return self._cache[key]
