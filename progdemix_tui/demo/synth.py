"""Small numpy DSP building blocks for the demo songs: oscillators, envelopes, filters.

Everything is vectorised (no per-sample Python loops) so a song renders in a fraction of a
second. Signals are float64 mono arrays unless a function says otherwise.
"""

from __future__ import annotations

from typing import overload

import numpy as np

TABLE_SIZE = 4096


@overload
def midi_hz(note: float) -> float: ...
@overload
def midi_hz(note: np.ndarray) -> np.ndarray: ...
def midi_hz(note: float | np.ndarray) -> float | np.ndarray:
    """MIDI note number to frequency in Hz (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69.0) / 12.0)


def wavetable(amps: np.ndarray, phases: np.ndarray | None = None) -> np.ndarray:
    """One period of a waveform with harmonic amplitudes ``amps[k-1]`` for harmonic k."""
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    k = np.arange(1, len(amps) + 1)
    phase = np.zeros(len(amps)) if phases is None else phases
    spectrum[k] = np.asarray(amps) * np.exp(1j * (phase - np.pi / 2)) * TABLE_SIZE / 2
    table = np.fft.irfft(spectrum, TABLE_SIZE)
    return table / max(np.max(np.abs(table)), 1e-9)


def harmonics(kind: str, count: int, brightness: float = 1.0) -> np.ndarray:
    """Harmonic amplitudes of classic shapes, rolled off by ``brightness`` (0..1]."""
    k = np.arange(1, count + 1, dtype=np.float64)
    if kind == "saw":
        amps = 1.0 / k
    elif kind == "square":
        amps = np.where(k % 2 == 1, 1.0 / k, 0.0)
    elif kind == "triangle":
        amps = np.where(k % 2 == 1, 1.0 / k**2, 0.0)
    elif kind == "organ":
        amps = np.zeros_like(k)
        for h, a in ((1, 1.0), (2, 0.7), (3, 0.5), (4, 0.35), (6, 0.2), (8, 0.15)):
            if h <= count:
                amps[h - 1] = a
    else:  # "sine"
        amps = np.zeros_like(k)
        amps[0] = 1.0
    rolloff = np.exp(-(k - 1) * (1.0 - brightness) * 0.6)
    return amps * rolloff


def table_osc(table: np.ndarray, freq: np.ndarray | float, n: int, sr: int,
              phase0: float = 0.0) -> np.ndarray:
    """Read ``table`` at frequency ``freq`` (scalar or per-sample array) for ``n`` samples."""
    if isinstance(freq, np.ndarray):
        phase: np.ndarray = phase0 + np.cumsum(np.asarray(freq, dtype=np.float64)[:n]) / sr
    else:
        phase = phase0 + np.arange(n) * (float(freq) / sr)
    idx = (phase * TABLE_SIZE).astype(np.int64) & (TABLE_SIZE - 1)
    return table[idx]


def adsr(n: int, sr: int, attack: float, decay: float, sustain: float, release: float,
         gate: float) -> np.ndarray:
    """Attack-decay-sustain-release envelope; ``gate`` seconds held, then released."""
    t = np.arange(n) / sr
    att = np.clip(t / max(attack, 1e-4), 0.0, 1.0)
    dec = sustain + (1.0 - sustain) * np.exp(-np.maximum(t - attack, 0.0) / max(decay, 1e-4))
    env = np.where(t < attack, att, dec)
    rel = np.exp(-np.maximum(t - gate, 0.0) / max(release, 1e-4))
    return env * np.where(t < gate, 1.0, rel)


def perc_env(n: int, sr: int, decay: float, attack: float = 0.001) -> np.ndarray:
    """Fast attack, exponential decay."""
    t = np.arange(n) / sr
    return np.clip(t / attack, 0.0, 1.0) * np.exp(-t / decay)


def spectral_filter(x: np.ndarray, sr: int, low: float = 0.0, high: float | None = None,
                    slope: float = 2.0) -> np.ndarray:
    """Zero-phase band-pass by FFT with smooth Butterworth-like edges (order ``slope``)."""
    n = x.shape[-1]
    f = np.fft.rfftfreq(n, 1.0 / sr)
    gain = np.ones_like(f)
    if low > 0:
        gain *= 1.0 / np.sqrt(1.0 + (low / np.maximum(f, 1e-3)) ** (2 * slope))
    if high is not None:
        gain *= 1.0 / np.sqrt(1.0 + (f / high) ** (2 * slope))
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * gain, n, axis=-1)


def pan(x: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan of mono ``x`` to stereo ``[2, n]``; position in [-1, 1]."""
    angle = (position + 1.0) * np.pi / 4
    return np.stack([x * np.cos(angle), x * np.sin(angle)])


def add_at(buffer: np.ndarray, signal: np.ndarray, start: int) -> None:
    """Add ``signal`` ([..., n]) into ``buffer`` ([..., T]) at sample ``start``, clipped."""
    total = buffer.shape[-1]
    if start >= total or start + signal.shape[-1] <= 0:
        return
    s0 = max(start, 0)
    s1 = min(start + signal.shape[-1], total)
    buffer[..., s0:s1] += signal[..., s0 - start:s1 - start]


def reverb(x: np.ndarray, sr: int, rng: np.random.Generator, rt60: float, wet: float,
           damping: float = 5000.0) -> np.ndarray:
    """Stereo ``[2, n]`` through a decorrelated exponential-noise room; same length out."""
    n_ir = int(rt60 * sr)
    t = np.arange(n_ir) / sr
    ir = rng.standard_normal((2, n_ir)) * np.exp(-6.9 * t / rt60)
    ir = spectral_filter(ir, sr, low=200.0, high=damping, slope=1.0)
    ir[:, : int(0.012 * sr)] = 0.0  # pre-delay
    ir /= np.sqrt(np.sum(ir**2, axis=-1, keepdims=True)) + 1e-12
    n = x.shape[-1]
    size = 1 << int(np.ceil(np.log2(n + n_ir)))
    wet_sig = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[:, :n]
    return (1.0 - wet) * x + wet * wet_sig


def smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving Hann-window average (same length), for control signals."""
    if width <= 1:
        return x
    win = np.hanning(width + 2)[1:-1]
    win /= win.sum()
    pad = width // 2
    padded = np.concatenate([np.full(pad, x[0]), x, np.full(width - pad, x[-1])])
    return np.convolve(padded, win, mode="same")[pad:pad + len(x)]
