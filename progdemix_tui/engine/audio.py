"""Reading, converting and writing audio files.

Audio travels through the engine as ``torch.float32`` tensors shaped ``[channels, time]``.
Files are read with soundfile, resampled with julius, and written atomically (a temporary
file in the same folder, then a rename) so no half-written file ever looks complete.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import julius
import numpy as np
import soundfile as sf
import torch

from .config import check_excerpt
from .decoder_notes import decoder_notes_hidden
from .errors import AudioInputError, OutputError
from .files import IncompleteWrite, atomic_path, short_reason

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
Subtype = Literal["PCM_16", "PCM_24", "FLOAT"]


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding it."""

    path: Path
    frames: int
    samplerate: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


@dataclass
class Audio:
    """Decoded audio: ``samples`` is ``[channels, time]`` float32 at ``samplerate``."""

    samples: torch.Tensor
    samplerate: int
    notes: list[str] = field(default_factory=list)
    source: AudioInfo | None = None

    @property
    def duration(self) -> float:
        return self.samples.shape[-1] / self.samplerate


def _check_path(path: Path) -> None:
    try:
        _check_existing(path)
    except OSError as exc:  # a folder on the way without search permission, a too-long name
        raise AudioInputError(f"{path}: cannot be read ({exc.strerror}); check the path and "
                              "its folders' permissions.") from None


def _check_existing(path: Path) -> None:
    if not path.exists():
        raise AudioInputError(f"{path}: no such file; check the path.")
    if path.is_dir():
        raise AudioInputError(
            f"{path} is a folder without mixture.wav/.flac; give an audio file "
            "(WAV, FLAC, OGG, MP3) or a MUSDB-style track folder."
        )
    if not stat.S_ISREG(path.stat().st_mode):
        raise AudioInputError(f"{path} is not a regular file (a FIFO, device or socket); give "
                              "an audio file.")
    if path.stat().st_size == 0:
        raise AudioInputError(f"{path} is an empty file (0 bytes); give a valid audio file.")


def info(path: str | os.PathLike) -> AudioInfo:
    """Read a file's header. Raises :class:`AudioInputError` for anything unreadable."""
    path = Path(path)
    _check_path(path)
    try:
        with decoder_notes_hidden(path):
            meta = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError / LibsndfileError / TypeError
        return _ffmpeg_info(path, exc)
    return AudioInfo(path, int(meta.frames), int(meta.samplerate), int(meta.channels),
                     meta.format, meta.subtype)


FFMPEG = "FFMPEG"  # AudioInfo.format of a file decoded with ffmpeg (see .decode)


def _ffmpeg_info(path: Path, refused: Exception) -> AudioInfo:
    """The header of a file libsndfile ``refused``, read with ffprobe (as demucs does)."""
    from . import decode

    if not decode.available():
        hint = ("install ffmpeg (e.g. apt install ffmpeg) to read it, or convert it to WAV/FLAC"
                if path.suffix.lower() in decode.FFMPEG_EXTENSIONS
                else "use WAV, FLAC, OGG or MP3, or install ffmpeg for other formats")
        raise AudioInputError(f"{path} is not a readable audio file ({short_reason(refused)}); "
                              f"{hint}.") from None
    frames, rate, channels, codec = decode.probe(path)
    return AudioInfo(path, frames, rate, channels, FFMPEG, codec)


def load(
    path: str | os.PathLike,
    samplerate: int | None = None,
    start: float = 0.0,
    duration: float | None = None,
    channels: int = 2,
) -> Audio:
    """Decode ``path`` into ``[channels, time]`` float32, optionally an excerpt and resampled.

    Mono is duplicated to stereo; more channels than ``channels`` are downmixed (noted).
    Resampling to ``samplerate`` (if given and different) uses julius. Raises
    :class:`AudioInputError` for missing, empty, zero-length or non-finite audio, and
    :class:`.errors.ConfigError` for a negative or non-finite ``start``/``duration``.
    """
    meta = info(path)
    check_excerpt(start, duration)
    first = int(round(start * meta.samplerate))
    if meta.frames == 0:
        raise AudioInputError(f"{meta.path} holds no audio (0 frames); give a longer file.")
    if first >= meta.frames:
        raise AudioInputError(
            f"{meta.path} is {meta.duration:.2f} s long; --start {start:g} s is past its end."
        )
    count = excerpt_frames(meta, start, duration)
    try:
        with decoder_notes_hidden(meta.path):
            data, rate = _read_planar(meta, first, count)
    except (AudioInputError, MemoryError):  # out of memory is no decoding problem
        raise
    except Exception as exc:
        raise AudioInputError(f"{meta.path} could not be decoded ({short_reason(exc)}).") from None
    if data.shape[1] == 0:
        raise AudioInputError(f"{meta.path} holds no audio (0 frames); give a longer file.")
    notes: list[str] = []
    samples = torch.from_numpy(data)
    samples, note = fit_channels(samples, channels)
    if note:
        notes.append(note)
    if samplerate is not None and rate != samplerate:
        samples = resample(samples, rate, samplerate)
        notes.append(f"resampled {rate} Hz → {samplerate} Hz")
        rate = samplerate
    return Audio(samples.contiguous(), int(rate), notes, meta)


def excerpt_frames(meta: AudioInfo, start: float, duration: float | None) -> int:
    """How many frames :func:`load` reads from ``meta``'s file for this excerpt."""
    first = min(meta.frames, int(round(start * meta.samplerate)))
    count = meta.frames - first
    if duration is not None:
        count = min(count, max(1, int(round(duration * meta.samplerate))))
    return count


READ_BLOCK = 1 << 20  # frames decoded at a time


def _read_planar(meta: AudioInfo, first: int, count: int) -> tuple[np.ndarray, int]:
    """Decode ``count`` frames from ``first`` straight into a ``[channels, time]`` float32
    array, block by block: no interleaved copy of the whole file, and each block is checked
    for NaN/inf as it arrives. Files libsndfile refused are decoded with ffmpeg instead."""
    if meta.format == FFMPEG:
        from . import decode

        data = decode.read(meta.path, first, min(count, meta.frames - first), meta.samplerate,
                           meta.channels)
        if not np.isfinite(data).all():
            raise AudioInputError(
                f"{meta.path} contains NaN or infinite samples; repair or re-export the file.")
        return data, meta.samplerate
    with sf.SoundFile(str(meta.path)) as f:
        if first:
            f.seek(first)
        count = min(count, meta.frames - first)
        out = np.empty((f.channels, count), dtype=np.float32)
        done = 0
        while done < count:
            block = f.read(min(READ_BLOCK, count - done), dtype="float32", always_2d=True)
            if block.shape[0] == 0:
                break
            if not np.isfinite(block).all():
                raise AudioInputError(
                    f"{meta.path} contains NaN or infinite samples; repair or re-export the file."
                )
            out[:, done:done + block.shape[0]] = block.T
            done += block.shape[0]
        return out[:, :done], int(f.samplerate)


# WAVE_FORMAT_EXTENSIBLE's default speaker orders (what libsndfile writes without a channel
# mask), by channel count: FL FR FC LFE BL BR (5.1), and so on.
SPEAKER_ORDERS = {
    3: ("FL", "FR", "FC"),
    4: ("FL", "FR", "BL", "BR"),
    5: ("FL", "FR", "FC", "BL", "BR"),
    6: ("FL", "FR", "FC", "LFE", "BL", "BR"),
    7: ("FL", "FR", "FC", "LFE", "BC", "SL", "SR"),
    8: ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"),
}
_MINUS_3DB = 0.5**0.5
# (to left, to right) per speaker, ITU-R BS.775; the LFE is dropped, as ffmpeg does.
_STEREO_GAINS = {"FL": (1.0, 0.0), "FR": (0.0, 1.0), "FC": (_MINUS_3DB, _MINUS_3DB),
                 "LFE": (0.0, 0.0), "BL": (_MINUS_3DB, 0.0), "BR": (0.0, _MINUS_3DB),
                 "SL": (_MINUS_3DB, 0.0), "SR": (0.0, _MINUS_3DB), "BC": (0.5, 0.5)}


def stereo_downmix_matrix(channels: int) -> tuple[torch.Tensor, str]:
    """``([2, channels], how)``: the ITU-R BS.775 downmix for the usual layouts (3 to 8
    channels in WAV speaker order, LFE dropped), else odd channels right and even left;
    each row is normalised to sum to 1, so the downmix cannot clip (as ffmpeg does)."""
    order = SPEAKER_ORDERS.get(channels)
    if order is None:
        matrix = torch.zeros(2, channels)
        matrix[0, 0::2], matrix[1, 1::2] = 1.0, 1.0
        how = "even channels left, odd right"
    else:
        matrix = torch.tensor([_STEREO_GAINS[name] for name in order]).T
        how = f"assumed {' '.join(order)} (WAV order), ITU-R BS.775" + (
            ", LFE dropped" if "LFE" in order else "")
    return matrix / matrix.sum(1, keepdim=True), how


def fit_channels(samples: torch.Tensor, channels: int) -> tuple[torch.Tensor, str | None]:
    """Map ``[c, t]`` to ``[channels, t]``: duplicate mono, downmix extra channels."""
    have = samples.shape[0]
    if have == channels:
        return samples, None
    if have == 1:
        return samples.expand(channels, -1).clone(), f"mono duplicated to {channels} channels"
    if channels == 1:
        return samples.mean(0, keepdim=True), f"{have} channels downmixed to mono"
    if channels == 2:
        matrix, how = stereo_downmix_matrix(have)
        return matrix @ samples, f"warning: {have} channels downmixed to stereo ({how})"
    raise AudioInputError(f"cannot map {have} channels to {channels}.")


def resample(samples: torch.Tensor, old_rate: int, new_rate: int) -> torch.Tensor:
    """Resample ``[..., time]`` from ``old_rate`` to ``new_rate`` with julius."""
    if old_rate == new_rate:
        return samples
    g = math.gcd(int(old_rate), int(new_rate))
    return julius.resample_frac(samples, int(old_rate) // g, int(new_rate) // g)


def save(
    path: str | os.PathLike,
    samples: torch.Tensor | np.ndarray,
    samplerate: int,
    subtype: Subtype | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write ``[channels, time]`` samples to WAV or FLAC (by extension), atomically.

    ``subtype`` defaults to FLOAT for WAV and PCM_24 for FLAC (FLAC has no float). Integer
    formats clip at ±1. ``tags`` (soundfile's names: title, comment, album, software…) go into
    the file's RIFF INFO or Vorbis comments. Raises :class:`OutputError` when the folder
    cannot be written.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".wav", ".flac"):
        raise OutputError(f"{path}: can only write .wav or .flac files.")
    if subtype is None:
        subtype = "FLOAT" if ext == ".wav" else "PCM_24"
    if ext == ".flac" and subtype == "FLOAT":
        raise OutputError("FLAC cannot hold float samples; use PCM_16 or PCM_24.")
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().to("cpu", torch.float32).numpy()
    data = np.asarray(samples, dtype=np.float32).T.copy(order="C")  # ours: clipped in place
    if subtype != "FLOAT":
        np.clip(data, -1.0, 1.0, out=data)
    with atomic_path(path) as tmp:
        _write_verified(tmp, data, int(samplerate), subtype, "WAV" if ext == ".wav" else "FLAC",
                        tags)
    return path


def _write_verified(tmp: Path, data: np.ndarray, samplerate: int, subtype: str,
                    fmt: str, tags: dict[str, str] | None = None) -> None:
    """Write ``data`` ``[time, channels]`` to ``tmp``, then decode it back in blocks.

    libsndfile can close a FLAC whose last bytes hit a full disk without an error, leaving a
    truncated, undecodable file: only reading it back proves it complete.
    """
    data = data.reshape(len(data), -1)
    frames, channels = data.shape
    try:
        with sf.SoundFile(str(tmp), "w", samplerate, channels, subtype, format=fmt) as file:
            for key, value in (tags or {}).items():
                setattr(file, key, value)
            file.write(data)
    except AssertionError:  # soundfile asserts that libsndfile took every frame
        raise IncompleteWrite("short write") from None
    try:
        decoded = sum(len(block) for block in sf.blocks(str(tmp), blocksize=1 << 16,
                                                        dtype="float32", always_2d=True))
        meta = sf.info(str(tmp))
    except (RuntimeError, sf.LibsndfileError, TypeError) as exc:
        raise IncompleteWrite(f"written file is unreadable: {short_reason(exc)}") from None
    if decoded != frames or meta.frames != frames or meta.channels != channels:
        raise IncompleteWrite(f"written file holds {decoded} of {frames} frames")
