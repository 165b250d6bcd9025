"""Output devices of the :class:`~progdemix_tui.playback.player.Player`, chosen by name.

An output is whatever takes the player's blocks: a sound card through PortAudio
(:mod:`.portaudio`) or the browser page (:mod:`.web`, ``web`` / ``web:PORT``). Each module
declares one :class:`~.base.OutputKind`; :data:`KINDS` lists them in the order they are asked
whether a device name is theirs (the sound card, which takes any name, last). A new output is
one new module and one entry in :data:`KINDS`; the player knows none of them.
"""

from __future__ import annotations

from ..devices import Device
from . import portaudio, web
from .base import Output, OutputAbort, OutputKind, OutputRequest, Render, Reservation

KINDS: tuple[OutputKind, ...] = (web.KIND, portaudio.KIND)


def kind_of(spec: Device) -> OutputKind:
    """The kind whose name ``spec`` is (the sound card takes any name no other claims)."""
    return next(kind for kind in KINDS if kind.claims(spec))


def open_output(spec: Device, request: OutputRequest) -> Output:
    """Open (not start) the output named ``spec``; raises ``AudioUnavailable``."""
    return kind_of(spec).open(spec, request)


def check_output(spec: Device) -> None:
    """For a command line: refuse a bad output name before the app starts (``AudioUnavailable``)."""
    kind_of(spec).check(spec)


def reserve_output(spec: Device, *, check: bool = True) -> Reservation:
    """Hold the output named ``spec`` from now on (see :class:`~.base.Reservation`)."""
    return kind_of(spec).reserve(spec, check=check)


__all__ = ["KINDS", "Device", "Output", "OutputAbort", "OutputKind", "OutputRequest", "Render",
           "Reservation", "check_output", "kind_of", "open_output", "reserve_output"]
