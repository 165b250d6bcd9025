"""PortAudio access: load sounddevice, list output devices, open an output stream, and turn
every PortAudio failure into :class:`~progdemix_tui.playback.errors.AudioUnavailable`.

sounddevice is imported lazily (first call here), so the rest of the audio package (sources,
export, blind tests) works on machines without PortAudio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .errors import AudioUnavailable, no_device

PA_INVALID_SAMPLE_RATE = -9997
PA_INVALID_CHANNEL_COUNT = -9998
PA_INVALID_DEVICE = -9996
PA_DEVICE_UNAVAILABLE = -9985

Device = int | str | None


def load_sounddevice() -> ModuleType:
    """Import sounddevice (initialising PortAudio), or raise ``AudioUnavailable('no_portaudio')``."""
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be found
        raise AudioUnavailable(
            "no_portaudio", f"PortAudio library not found ({exc})",
            "Install it: `apt-get install libportaudio2` (Debian/Ubuntu), "
            "`dnf install portaudio` (Fedora) or `brew install portaudio` (macOS)") from exc
    except ImportError as exc:
        raise AudioUnavailable("no_portaudio", f"the sounddevice package is missing ({exc})",
                               "Install it: `pip install sounddevice`") from exc
    return sounddevice


@dataclass(frozen=True)
class OutputDevice:
    """One PortAudio output device."""

    index: int
    name: str
    hostapi: str
    channels: int
    default_samplerate: float
    is_default: bool


def list_output_devices() -> list[OutputDevice]:
    """All devices with at least one output channel (empty list when there are none).

    Raises ``AudioUnavailable('no_portaudio')`` when PortAudio cannot be loaded.
    """
    sd = load_sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default = _default_output_index(sd)
    except sd.PortAudioError as exc:
        raise AudioUnavailable("stream_error", f"cannot query audio devices: {exc}") from exc
    out = []
    for dev in devices:
        if dev["max_output_channels"] > 0:
            out.append(OutputDevice(
                index=dev["index"], name=dev["name"], hostapi=hostapis[dev["hostapi"]]["name"],
                channels=dev["max_output_channels"],
                default_samplerate=float(dev["default_samplerate"]),
                is_default=dev["index"] == default))
    return out


def _default_output_index(sd: ModuleType) -> int:
    index = sd.default.device[1]  # an (input, output) pair
    return -1 if index is None else int(index)


def resolve_device(device: Device) -> OutputDevice:
    """The output device named by ``device`` (index, a substring of its name, or None for the
    default one), or raise ``AudioUnavailable('no_device' | 'invalid_device')``."""
    sd = load_sounddevice()
    devices = list_output_devices()
    if not devices:
        raise no_device("no audio output device found")
    if device is None:
        for dev in devices:
            if dev.is_default:
                return dev
        raise no_device("there is no default audio output device")
    try:
        index = sd.query_devices(device, "output")["index"]
    except (ValueError, sd.PortAudioError) as exc:
        names = ", ".join(f"{d.index}: {d.name}" for d in devices)
        raise AudioUnavailable("invalid_device", f"no output device {device!r} ({exc})",
                               f"Available output devices: {names}") from exc
    for dev in devices:
        if dev.index == index:
            return dev
    raise AudioUnavailable("invalid_device", f"device {device!r} has no output channels")


def open_output_stream(device: OutputDevice, samplerate: int, channels: int, blocksize: int,
                       latency: float | str, callback: Callable[..., Any],
                       finished_callback: Callable[[], None]) -> Any:
    """Open (not start) a float32 ``sounddevice.OutputStream`` on ``device``.

    If the device refuses ``samplerate`` it is opened at its default rate instead (the caller
    reads ``stream.samplerate`` and resamples); if it refuses ``channels``, with fewer.
    Errors become ``AudioUnavailable``.
    """
    sd = load_sounddevice()
    channels = max(1, min(channels, device.channels))
    rates = [samplerate]
    if int(device.default_samplerate) != samplerate and device.default_samplerate > 0:
        rates.append(int(device.default_samplerate))
    last: Exception | None = None
    for rate in rates:
        try:
            return sd.OutputStream(
                samplerate=rate, device=device.index, channels=channels, dtype="float32",
                blocksize=blocksize, latency=latency, callback=callback,
                finished_callback=finished_callback)
        except sd.PortAudioError as exc:
            last = exc
            if _code(exc) != PA_INVALID_SAMPLE_RATE:
                break
        except ValueError as exc:
            last = exc
            break
    raise stream_error(last, device.name) from last


def _code(exc: BaseException) -> int | None:
    code = exc.args[1] if len(exc.args) > 1 else None
    return code if isinstance(code, int) else None


def stream_error(exc: BaseException | None, device_name: str) -> AudioUnavailable:
    """Map a PortAudio error raised while opening/starting a stream to ``AudioUnavailable``."""
    code = _code(exc) if exc is not None else None
    text = str(exc.args[0]) if exc is not None and exc.args else str(exc)
    if code == PA_DEVICE_UNAVAILABLE or "busy" in text.lower():
        return AudioUnavailable(
            "device_busy", f"audio device {device_name!r} is busy or unavailable ({text})",
            "Close the other program using it, or choose another output device")
    if code in (PA_INVALID_DEVICE, PA_INVALID_CHANNEL_COUNT) or "querying device" in text:
        return no_device(f"audio device {device_name!r} cannot be opened ({text})")
    return AudioUnavailable("stream_error", f"cannot open audio device {device_name!r} ({text})")
