"""A sound card as an output: a ``sounddevice.OutputStream`` (PortAudio) behind the
:class:`~.base.Output` protocol. Any device name no other output claims is PortAudio's:
an index, (part of) a name, or None for the default device."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..devices import (
    Device,
    OutputDevice,
    list_output_devices,
    load_sounddevice,
    open_output_stream,
    resolve_device,
    stream_error,
)
from ..errors import no_device
from .base import OutputAbort, OutputRequest, Reservation


class PortAudioOutput:
    """An opened PortAudio stream on ``device``; its errors become ``AudioUnavailable``."""

    url = None
    listeners = 0

    def __init__(self, device: OutputDevice, request: OutputRequest) -> None:
        self._sd = load_sounddevice()
        self._render = request.render
        self.name = device.name
        self._stream = open_output_stream(device, request.samplerate, request.channels,
                                          request.blocksize, request.latency, self._callback,
                                          request.finished)
        self.samplerate = int(self._stream.samplerate)
        self.channels = int(self._stream.channels)
        self.latency = float(self._stream.latency)

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        try:
            self._render(outdata, bool(status.output_underflow))
        except OutputAbort as exc:
            raise self._sd.CallbackAbort from exc

    @property
    def active(self) -> bool:
        return bool(self._stream.active)

    def start(self) -> None:
        if self._stream.active:
            return
        try:
            if not self._stream.stopped:
                self._stream.stop()
            self._stream.start()
        except self._sd.PortAudioError as exc:
            raise stream_error(exc, self.name) from exc

    def stop(self) -> None:
        self._stream.stop()

    def abort(self) -> None:
        self._stream.abort()

    def close(self) -> None:
        self._stream.close()


class PortAudioKind:
    """Sound cards: any name (the last kind asked)."""

    name = "portaudio"

    def claims(self, spec: Device) -> bool:
        return True

    def check(self, spec: Device) -> None:
        """Nothing before the app: a missing device is said in the app (no sound, marks work)."""

    def reserve(self, spec: Device, *, check: bool = True) -> Reservation:
        if check:
            if spec is not None:
                resolve_device(spec)  # raises AudioUnavailable("invalid_device", ...)
            elif not list_output_devices():  # raises AudioUnavailable
                raise no_device("no audio output device found")
        return Reservation(spec)

    def open(self, spec: Device, request: OutputRequest) -> PortAudioOutput:
        return PortAudioOutput(resolve_device(spec), request)


KIND = PortAudioKind()
