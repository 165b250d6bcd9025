"""What the player bar plays: cues (step, stem, source of a session), loading them from the
session folder, and the audition backend it drives (:class:`AuditionBackend`).

No Textual here. Playback uses :class:`.player_backend.PlayerBackend` (the playback
package's :class:`~progdemix_tui.playback.Player`) when an output device opens; otherwise
:class:`NullBackend` keeps the bar working without sound (A/B marks, loop, blind tests and
export of A/B clips all still work).

Level matching is :func:`progdemix_tui.playback.levels.match_levels` (integrated loudness,
RMS where it is undefined), the one measure for what plays, what the bar shows and the
exported A/B clips. Blind-test state is one :class:`~progdemix_tui.playback.BlindTest`,
held by the backend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from progdemix_tui.engine.errors import ProgdemixError
from progdemix_tui.engine.export import (
    EXTENSION,
    ExportFormat,
    ExportSpec,
    stem_label,
    write_file,
)
from progdemix_tui.engine.session import Session, open_session
from progdemix_tui.playback.blind import BlindState, BlindTest
from progdemix_tui.playback.levels import LevelMatch, match_levels

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


def export_clips(a: torch.Tensor, b: torch.Tensor, rate: int, levels: LevelMatch, dest: Path,
                 loop: tuple[float, float] | None = None, fmt: ExportFormat = "wav16",
                 labels: tuple[str, str] | None = None) -> list[Path]:
    """Write level-matched A and B (the loop region, if set) as ``A.<ext>``, ``B.<ext>`` in
    ``fmt`` (an export format: wav16 by default), with the gains the player uses (measured
    over the whole cues); ``labels`` say what each holds (the files' comments). Formats that
    clip above full scale get both scaled alike, which keeps the match."""
    if loop is not None:
        s, e = int(loop[0] * rate), int(loop[1] * rate)
        a, b = a[..., s:e], b[..., s:e]
    gain_a, gain_b = levels.linear
    a, b = a if gain_a == 1.0 else a * gain_a, b if gain_b == 1.0 else b * gain_b
    if fmt != "float32":
        peak = max(float(a.abs().max()) if a.numel() else 0.0,
                   float(b.abs().max()) if b.numel() else 0.0)
        if peak > 1.0:
            a, b = a / peak, b / peak
    spec = ExportSpec(fmt=fmt, clip="none")
    notes = labels or ("", "")
    return [write_file(x, dest / f"{name}.{EXTENSION[fmt]}", rate, spec,
                       {"title": name, "comment": note} if note else None)
            for name, x, note in (("A", a, notes[0]), ("B", b, notes[1]))]


def export_ab(a: Cue, b: Cue, dest: Path, loop: tuple[float, float] | None = None,
              fmt: ExportFormat = "wav16") -> list[Path]:
    """Read cues ``a`` and ``b`` and write them as level-matched clips (:func:`export_clips`)."""
    xa, rate = load_cue(a)
    xb, _ = load_cue(b)
    labels = (cue_label(a), cue_label(b))
    return export_clips(xa, xb, rate, match_levels(xa, xb, rate), dest, loop, fmt, labels)


def cue_label(cue: Cue) -> str:
    """What a clip of ``cue`` holds (its file's comment): a non-target estimate at a step
    n > 0 is the step's own, a separation of y_n, not of the song, and says so."""
    if cue.source != "estimate":
        return f"{cue.describe()} [{cue.folder.name}]"
    target = open_session(cue.folder).config.target
    return f"{stem_label(cue.stem, cue.step, target)} [{cue.folder.name}]"


class AuditionBackend(Protocol):
    """What the player bar drives: :class:`.player_backend.PlayerBackend` (sound) or
    :class:`NullBackend` (no device). ``load`` returns the A/B level match in effect (None
    unless both are given); the blind-test calls keep the test's state in the backend."""

    @property
    def available(self) -> bool: ...

    @property
    def reason(self) -> str: ...

    def load(self, a: torch.Tensor | None, b: torch.Tensor | None,
             rate: int) -> LevelMatch | None: ...

    def play(self) -> None: ...

    def pause(self) -> None: ...

    def select(self, which: str) -> None: ...

    def seek(self, seconds: float) -> None: ...

    def stop(self) -> None: ...

    def set_volume(self, volume: float) -> None: ...

    def set_loop(self, loop: tuple[float, float] | None) -> None: ...

    def position(self) -> float | None: ...

    def start_blind(self, mode: str) -> None: ...

    def select_slot(self, slot: str) -> None: ...

    def blind_answer(self, choice: str) -> bool | None: ...

    def reveal(self) -> dict[str, str]: ...

    def stop_blind(self) -> None: ...

    def blind_state(self) -> BlindState | None: ...

    def close(self) -> None: ...


class NullBackend:
    """No audio device: nothing sounds, but the bar's state still works: level matching
    (the same :func:`~progdemix_tui.playback.levels.match_levels`) and blind tests (a
    :class:`~progdemix_tui.playback.BlindTest` over A and B, without a player)."""

    available = False

    def __init__(self, reason: str = "no audio device", blind_seed: int | None = None) -> None:
        self.reason = reason
        self.blind_seed = blind_seed
        self._blind: BlindTest | None = None

    def load(self, a: torch.Tensor | None, b: torch.Tensor | None,
             rate: int) -> LevelMatch | None:
        return match_levels(a, b, rate) if a is not None and b is not None else None

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
        self._blind = BlindTest("A", "B", mode, self.blind_seed)

    def _test(self) -> BlindTest:
        if self._blind is None:
            raise ValueError("no blind test running")
        return self._blind

    def select_slot(self, slot: str) -> None:
        self._test().select(slot)

    def blind_answer(self, choice: str) -> bool | None:
        return self._test().answer(choice)

    def reveal(self) -> dict[str, str]:
        return self._test().reveal()

    def stop_blind(self) -> None:
        self._blind = None

    def blind_state(self) -> BlindState | None:
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


def open_backend(device: int | str | None = None) -> AuditionBackend:
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
