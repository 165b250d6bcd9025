"""The output-device protocol (see the package's docstring): the request, an opened
:class:`Output`, a UI's :class:`Reservation` and an :class:`OutputKind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..devices import Device

Render = Callable[[np.ndarray, bool], None]
"""``render(out, underflow)``: fill ``out`` (float32 ``[frames, channels]``); ``underflow``
says the device ran dry before this block. It raises :class:`OutputAbort` to stop."""


class OutputAbort(Exception):
    """Raised by the player's render callback: stop the output (it calls ``finished``)."""


@dataclass(frozen=True)
class OutputRequest:
    """What the player asks of an output: its format, its callbacks, and (tests) a record."""

    samplerate: int
    channels: int
    blocksize: int
    latency: float | str
    render: Render
    finished: Callable[[], None]  # the output stopped by itself (device lost, abort)
    describe: Callable[[], dict[str, Any]] | None = None  # what plays (a page shows it)
    record: bool = False  # keep a copy of the blocks sent, where the output can


class Output(Protocol):
    """An opened output device. ``start`` and ``stop`` may be called in any state; ``start``
    raises :class:`~progdemix_tui.playback.errors.AudioUnavailable` when the device refuses.
    ``url`` is where to listen when the output is a page (else None); ``listeners`` how many
    pages listen."""

    name: str
    samplerate: int
    channels: int
    latency: float

    @property
    def active(self) -> bool: ...

    @property
    def url(self) -> str | None: ...

    @property
    def listeners(self) -> int: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def abort(self) -> None: ...

    def close(self) -> None: ...


class Reservation:
    """An output held by a UI from its start, before any player opens it (the web speaker:
    its port, so its URL can be shown). ``spec`` is the name players then open (``web:0``
    becomes the port it got); ``eager``: open each player's output as soon as it is loaded."""

    eager = False

    def __init__(self, spec: Device) -> None:
        self.spec = spec

    def describe(self) -> str | None:
        """One line about where it plays (None: nothing to say)."""
        return None

    def set_labels(self, labels: dict[str, str]) -> None:
        """What A and B are, where the output shows it (never during a blind test)."""

    def close(self) -> None:
        """Give the output back."""


class OutputKind(Protocol):
    """One kind of output: which device names are its, and how to check, hold and open one."""

    name: str

    def claims(self, spec: Device) -> bool: ...

    def check(self, spec: Device) -> None:
        """Refuse a bad name before a UI starts (``AudioUnavailable``); cheap."""
        ...

    def reserve(self, spec: Device, *, check: bool = True) -> Reservation:
        """Hold the output (``check``: make sure it exists); raises ``AudioUnavailable``."""
        ...

    def open(self, spec: Device, request: OutputRequest) -> Output: ...
