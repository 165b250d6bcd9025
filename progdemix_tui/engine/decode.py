"""Formats libsndfile cannot read (M4A/AAC, Opus in MP4/WebM, WMA…), decoded the way demucs
does: ``demucs.audio.AudioFile`` (ffprobe for the header, ffmpeg to float32 PCM).

Used by :mod:`.audio` only after soundfile refused a file. Without ffmpeg on ``PATH`` the
caller says what to install. Every number ffprobe reports is checked before it is used.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np

from .errors import AudioInputError

FFMPEG_EXTENSIONS = (".m4a", ".aac", ".mp4", ".opus", ".webm", ".wma", ".mka", ".ac3")
"""Extensions a folder of songs lists besides libsndfile's (decoded with ffmpeg)."""
MAX_CHANNELS = 64
MAX_RATE = 768_000


def available() -> bool:
    """Whether ffmpeg and ffprobe are on ``PATH``."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def probe(path: Path) -> tuple[int, int, int, str]:
    """``(frames, samplerate, channels, codec)`` of the first audio stream of ``path``.

    Raises :class:`AudioInputError` when ffprobe cannot read it or reports nonsense.
    """
    from demucs.audio import AudioFile

    file = AudioFile(path)
    try:
        stream = file.info["streams"][file._audio_streams[0]]  # noqa: SLF001 - demucs's own
        rate, channels = int(stream["sample_rate"]), int(stream["channels"])
        seconds = float(file.duration)
        codec = str(stream.get("codec_name", "?"))[:32]
    except subprocess.CalledProcessError:
        raise AudioInputError(f"{path} is not a readable audio file: neither libsndfile nor ffmpeg "
                              "recognise its format; use WAV, FLAC, OGG, MP3 or M4A.") from None
    except IndexError:
        raise AudioInputError(f"{path} holds no audio stream; use WAV, FLAC, OGG, MP3 or "
                              "M4A.") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AudioInputError(f"{path} is not a readable audio file (ffprobe: "
                              f"{type(exc).__name__}); use WAV, FLAC, OGG, MP3 or M4A.") from None
    if not (0 < rate <= MAX_RATE and 0 < channels <= MAX_CHANNELS and math.isfinite(seconds)
            and seconds > 0):
        raise AudioInputError(f"{path}: ffprobe reports {rate} Hz, {channels} channels, "
                              f"{seconds} s; re-encode the file as WAV or FLAC.")
    return int(round(seconds * rate)), rate, channels, codec


def read(path: Path, first: int, count: int, rate: int, channels: int) -> np.ndarray:
    """Frames ``first`` to ``first + count`` of ``path`` as ``[channels, time]`` float32."""
    from demucs.audio import AudioFile

    try:
        wav = AudioFile(path).read(seek_time=first / rate if first else None,
                                   duration=count / rate, streams=0)
    except (subprocess.CalledProcessError, OSError, RuntimeError, ValueError) as exc:
        raise AudioInputError(f"{path} could not be decoded by ffmpeg ({type(exc).__name__}); "
                              "re-encode it as WAV or FLAC.") from None
    data = wav.numpy().astype(np.float32, copy=False)
    if data.ndim != 2 or data.shape[0] != channels:
        raise AudioInputError(f"{path}: ffmpeg gave {tuple(data.shape)} samples for "
                              f"{channels} channels; re-encode it as WAV or FLAC.")
    return data
