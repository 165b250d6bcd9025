"""What the player bar plays: cues (step, stem, source of a session), loading them from the
session folder, level matching, and an optional audio backend.

No Textual here. Playback uses :mod:`progdemix_tui.playback` when it is importable and an
output device opens; otherwise :class:`NullBackend` keeps the bar working without sound
(A/B marks, loop, blind tests and export of A/B clips all still work).

Level matching (:func:`match_levels`) measures integrated loudness like the audio player
(ITU-R BS.1770, pyloudnorm, via :func:`progdemix_tui.engine.mixing.integrated_loudness`)
and falls back to RMS only where loudness is undefined; the same gains are played, shown in
the player bar and applied to exported A/B clips.
"""

from __future__ import annotations

import math
import re
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


_DEFAULT_NAME = re.compile(r"\d{8}-(\d{2})(\d{2})\d{2}-(.+?)(?:-(?:drums|bass|other|vocals)-.*)?$")


def session_tag(folder: Path, width: int = 16) -> str:
    """A short name for a session folder, to tell A from B when they come from two runs:
    ``demo-001 16:29`` for the default ``20261124-162943-demo-001-vocals-add-to-mixture``,
    else the folder's name, cut to ``width`` characters."""
    match = _DEFAULT_NAME.match(folder.name)
    if match is None:
        name = folder.name
        return name if len(name) <= width else name[:width - 1] + "…"
    hour, minute, track = match.groups()
    clock = f" {hour}:{minute}"
    room = width - len(clock)
    return (track if len(track) <= room else track[:room - 1] + "…") + clock


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


@dataclass(frozen=True)
class LevelMatch:
    """Gains (dB, attenuation only: the louder one is turned down) that give A and B the
    same level, and how the level was measured: ``"LUFS"`` (integrated loudness, ITU-R
    BS.1770, as the audio player does), ``"RMS"`` (only when loudness is undefined: clips
    under 0.4 s, or below the −70 LUFS gate) or None (silence: no gain)."""

    gain_a_db: float = 0.0
    gain_b_db: float = 0.0
    method: str | None = None

    @property
    def relative_db(self) -> float:
        """B's gain relative to A (the figure the player bar shows)."""
        return self.gain_b_db - self.gain_a_db

    def describe(self) -> str:
        if self.method is None:
            return "B ±0dB (silent)"
        return f"B{self.relative_db:+.1f}dB {self.method}"


def match_levels(a: torch.Tensor, b: torch.Tensor, rate: int) -> LevelMatch:
    """Level-match A and B by integrated loudness, falling back to RMS when it is undefined."""
    from progdemix_tui.engine.mixing import integrated_loudness

    la, lb = integrated_loudness(a, rate), integrated_loudness(b, rate)
    method = "LUFS"
    if la is None or lb is None:
        la, lb, method = rms_db(a), rms_db(b), "RMS"
    if la is None or lb is None:
        return LevelMatch()
    ref = min(la, lb)
    return LevelMatch(ref - la, ref - lb, method)


def apply_gain(x: torch.Tensor, db: float) -> torch.Tensor:
    return x if db == 0.0 else x * (10 ** (db / 20))


def export_clips(a: torch.Tensor, b: torch.Tensor, rate: int, levels: LevelMatch, dest: Path,
                 loop: tuple[float, float] | None = None, fmt: str = "wav") -> list[Path]:
    """Write level-matched A and B (the loop region, if set) as ``A.<fmt>``, ``B.<fmt>``,
    with the gains the player uses (measured over the whole cues)."""
    if loop is not None:
        s, e = int(loop[0] * rate), int(loop[1] * rate)
        a, b = a[..., s:e], b[..., s:e]
    a, b = apply_gain(a, levels.gain_a_db), apply_gain(b, levels.gain_b_db)
    if fmt == "flac":  # integer FLAC clips above full scale: scale both alike (keeps the match)
        peak = max(float(a.abs().max()) if a.numel() else 0.0,
                   float(b.abs().max()) if b.numel() else 0.0)
        if peak > 1.0:
            a, b = a / peak, b / peak
    return [audio.save(dest / f"{name}.{fmt}", x, rate) for name, x in (("A", a), ("B", b))]


class NullBackend:
    """No audio device: nothing sounds, but the bar's state still works, blind tests
    included (a :class:`progdemix_tui.playback.BlindTest` over A and B, without a player)."""

    available = False

    def __init__(self, reason: str = "no audio device", blind_seed: int | None = None) -> None:
        self.reason = reason
        self.blind_seed = blind_seed
        self._blind = None
        self._slot: str | None = None

    def load(self, a: torch.Tensor | None, b: torch.Tensor | None, rate: int,
             levels: LevelMatch | None = None) -> None:
        pass

    def play(self) -> None:
        pass

    def pause(self) -> None:
        pass

    def select(self, which: str) -> None:
        pass

    def seek(self, seconds: float) -> None:
        pass

    def stop(self) -> None:
        pass

    def set_volume(self, volume: float) -> None:
        pass

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        pass

    def position(self) -> float | None:
        return None

    # blind tests: the same calls as the player's (start_blind, select_slot, ...)
    def start_blind(self, mode: str) -> None:
        from progdemix_tui.playback.blind import BlindTest

        self._blind = BlindTest("A", "B", mode, self.blind_seed)
        self._slot = self._blind.slots[0]

    def _test(self):
        if self._blind is None:
            raise ValueError("no blind test running")
        return self._blind

    def select_slot(self, slot: str) -> None:
        self._test().source_for(slot)  # validates the slot
        self._slot = slot

    def blind_answer(self, choice: str) -> bool | None:
        return self._test().answer(choice)

    def reveal(self) -> dict[str, str]:
        return self._test().reveal()

    def stop_blind(self) -> None:
        self._blind, self._slot = None, None

    def blind_state(self):
        return None if self._blind is None else self._blind.state()

    def close(self) -> None:
        pass


def parse_device(text: str | int | None) -> int | str | None:
    """``--audio-device`` text: an index (digits), a name, or None (empty: the default)."""
    if text is None or isinstance(text, int):
        return text
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() else text


def open_backend(device: int | str | None = None):
    """The best available backend: :mod:`progdemix_tui.playback`'s player on ``device`` (index,
    name or None for the default output), else NullBackend saying why."""
    try:
        from .player_backend import PlayerBackend
    except Exception as exc:  # the audio package is missing or broken
        return NullBackend(f"no audio ({type(exc).__name__})")
    try:
        return PlayerBackend(device=device)
    except Exception as exc:  # no PortAudio, no output device, an unknown --audio-device…
        if getattr(exc, "kind", None) == "invalid_device":
            return NullBackend(f"no audio device {device!r} (progdemix-tui devices lists them)")
        reason = getattr(exc, "reason", None) or str(exc).strip() or type(exc).__name__
        return NullBackend(str(reason).splitlines()[0][:80])
