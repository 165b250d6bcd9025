"""What the player bar plays: cues (step, stem, source of a session), loading them from the
session folder, level matching, and an optional audio backend.

No Textual here. Playback uses :mod:`progdemix_tui.audio` when it is importable and an
output device opens; otherwise :class:`NullBackend` keeps the bar working without sound
(A/B marks, loop and export of A/B clips all still work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from progdemix_tui.engine import audio
from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.engine.session import Session, open_session

SOURCES = ("estimate", "y_n", "mixture", "reference", "residual")
"""Audition sources: the step's stem estimate, the step's mixture y_n, the original mixture
y, the true stem (with references) and the mixture-consistency residual y_n − Σ stems."""


@dataclass(frozen=True)
class Cue:
    """One thing to listen to: ``source`` of ``stem`` at ``step`` of the session ``folder``."""

    folder: Path
    step: int
    stem: str
    source: str = "estimate"

    def describe(self, with_session: bool = False) -> str:
        what = {"estimate": self.stem, "y_n": "y_n", "mixture": "mixture y",
                "reference": f"{self.stem} ref", "residual": "residual"}[self.source]
        text = f"step {self.step} {what}" if self.source not in ("mixture", "reference") \
            else what
        return f"{text} [{self.folder.name}]" if with_session else text


def load_cue(cue: Cue, session: Session | None = None) -> tuple[torch.Tensor, int]:
    """``([channels, time], samplerate)`` of ``cue``, read from its session folder."""
    session = session or open_session(cue.folder)
    try:
        if cue.source == "estimate":
            samples = session.load(cue.step, cue.stem)
        elif cue.source == "y_n":
            samples = session.load(cue.step, "mixture")
        elif cue.source == "mixture":
            samples = session.load(0, "mixture")
        elif cue.source == "reference":
            samples = session.load(-1, cue.stem)
        elif cue.source == "residual":
            samples = session.load(cue.step, "mixture")
            for name in session.sources:
                samples = samples - session.load(cue.step, name)
        else:
            raise ProgdemixError(f"unknown source {cue.source!r}")
    except KeyError as exc:
        raise ProgdemixError(f"{cue.describe()}: not in this session ({exc.args[0]}).") from None
    return samples, session.samplerate


def rms_db(samples: torch.Tensor) -> float | None:
    value = float(samples.to(torch.float64).pow(2).mean().sqrt()) if samples.numel() else 0.0
    return 20 * math.log10(value) if value > 1e-9 else None


def match_gain_db(a: torch.Tensor, b: torch.Tensor) -> float:
    """Gain (dB) that brings B to A's RMS level; 0 when either is silent."""
    la, lb = rms_db(a), rms_db(b)
    return 0.0 if la is None or lb is None else la - lb


def export_clips(a: torch.Tensor, b: torch.Tensor, rate: int, gain_b_db: float, dest: Path,
                 loop: tuple[float, float] | None = None, fmt: str = "wav") -> list[Path]:
    """Write A and level-matched B (the loop region, if set) as ``A.<fmt>``, ``B.<fmt>``."""
    if loop is not None:
        s, e = int(loop[0] * rate), int(loop[1] * rate)
        a, b = a[..., s:e], b[..., s:e]
    b = b * (10 ** (gain_b_db / 20))
    out = []
    for name, x in (("A", a), ("B", b)):
        if fmt == "flac" and float(x.abs().max()) > 1.0:
            x = x / float(x.abs().max())
        out.append(audio.save(dest / f"{name}.{fmt}", x, rate))
    return out


class NullBackend:
    """No audio device: nothing sounds, but the bar's state still works."""

    available = False

    def __init__(self, reason: str = "no audio device") -> None:
        self.reason = reason

    def load(self, a: torch.Tensor | None, b: torch.Tensor | None, rate: int,
             gain_b_db: float) -> None:
        pass

    def play(self) -> None:
        pass

    def pause(self) -> None:
        pass

    def select(self, which: str) -> None:
        pass

    def seek(self, seconds: float) -> None:
        pass

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        pass

    def position(self) -> float | None:
        return None

    def close(self) -> None:
        pass


def open_backend():
    """The best available backend: :mod:`progdemix_tui.audio`'s player, else NullBackend."""
    try:
        from .player_backend import PlayerBackend
    except Exception as exc:  # the audio package is missing or broken
        return NullBackend(f"no audio ({type(exc).__name__})")
    try:
        return PlayerBackend()
    except Exception as exc:  # no PortAudio, no output device, …
        reason = getattr(exc, "reason", None) or str(exc).strip() or type(exc).__name__
        return NullBackend(str(reason).splitlines()[0][:80])
