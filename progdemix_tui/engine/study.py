"""``--preset study``: the study's procedure as its code ran it, re-derived (docs/study.md).

The study's code (alessandromanattini/DEMIXING, ``L12.ipynb``) differs from its text and from
this tool's defaults. With ``--preset study`` the engine follows the code
(:data:`.procedure.STUDY` chooses these parts once):

- separation: one forward pass over the whole excerpt, no input normalisation
  (:class:`WholeExcerptSeparator`), instead of 10 s segments with overlap and mean/std
  normalisation;
- β = n/N for add-to-mixture and oracle (checked by :meth:`.config.RunConfig.problems`);
- steps reported 0 … N−1: the last step (β = 1) is dropped
  (:meth:`.procedure.StudyProcedure.last_step`);
- the excerpt: 30 s from the largest ``librosa.effects.trim`` onset over the mixture and
  stem files (:func:`trim_onset`, re-derived with numpy: librosa is not a dependency);
- the "new mixture": the sum of the stems rescaled to the peak of the mixture
  (:func:`new_mixture`), which is what is separated;
- the oracle mixture as its code computes it (:func:`oracle_mixture`);
- the sample standard deviation over tracks (:mod:`.evaluation.statistics`).

Every other knob keeps this tool's default. Plain torch and numpy: no Textual, no Rich.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import soundfile as sf
import torch

from .config import STEMS
from .errors import AudioInputError, Cancelled, ConfigError
from .separator import memory_errors

if TYPE_CHECKING:
    from .models import DemucsModel
    from .separator import Separator

EXCERPT_SECONDS = 30.0  # the study's SEGMENT_LENGTH
# librosa.effects.trim's defaults, as the study called it: top_db=60, ref=np.max,
# frame_length=2048, hop_length=512, on librosa.feature.rms (center=True, zero padding).
TRIM_TOP_DB = 60.0
TRIM_FRAME = 2048
TRIM_HOP = 512
TRIM_AMIN_POWER = 1e-10  # librosa.amplitude_to_db's amin = 1e-5, squared
READ_BLOCK = TRIM_HOP * 512  # frames read at a time when scanning a file
ORACLE_NOTE = ("oracle mixture as the study's code computes it: its stems dict also holds "
               "the mixture and the new mixture, so y_n = x[t] + (1−β)·(Σ others + mixture + "
               "new mixture), rescaled by max|new mixture| / max|Σ of all of them|")


# --------------------------------------------------------------------------- the excerpt


def _onset_from_block_energy(blocks: np.ndarray, length: int) -> int:
    """librosa.effects.trim's start (in samples) from per-hop summed energy ``blocks``.

    ``blocks[j]`` is Σ x² over samples ``[j·hop, (j+1)·hop)`` of the mono signal of ``length``
    samples. Frame k of librosa's centred RMS covers ``[k·hop − frame/2, k·hop + frame/2)``
    with zeros outside the signal: blocks k−2 … k+1 here.
    """
    frames = 1 + length // TRIM_HOP
    per_frame = TRIM_FRAME // TRIM_HOP  # 4 blocks
    padded = np.concatenate([np.zeros(per_frame // 2), blocks,
                             np.zeros(max(0, frames + per_frame - len(blocks)))])
    cumulative = np.concatenate([[0.0], np.cumsum(padded)])
    energy = cumulative[per_frame:per_frame + frames] - cumulative[:frames]
    power = energy / TRIM_FRAME  # mean square of each frame (zeros counted)
    db = 10 * np.log10(np.maximum(TRIM_AMIN_POWER, power))
    db -= 10 * np.log10(max(TRIM_AMIN_POWER, float(power.max())))
    loud = np.flatnonzero(db > -TRIM_TOP_DB)
    return int(loud[0]) * TRIM_HOP if loud.size else 0


def trim_onset(samples: np.ndarray) -> int:
    """``librosa.effects.trim(librosa.to_mono(samples))[1][0]`` for ``[channels, time]``
    (or ``[time]``): the first sample of the first frame within 60 dB of the loudest."""
    mono = np.asarray(samples, dtype=np.float64)
    if mono.ndim > 1:
        mono = mono.mean(0)
    length = mono.shape[-1]
    pad = (-length) % TRIM_HOP
    blocks = np.square(np.pad(mono, (0, pad))).reshape(-1, TRIM_HOP).sum(1)
    return _onset_from_block_energy(blocks, length)


def file_trim_onset(path: str | Path) -> int:
    """:func:`trim_onset` of an audio file, in frames at its own rate, read block by block
    (a long file never sits in memory). Raises :class:`AudioInputError` if undecodable."""
    parts, length = [], 0
    try:
        for data in sf.blocks(str(path), blocksize=READ_BLOCK, dtype="float32",
                              always_2d=True):
            mono = data.astype(np.float64).mean(1)
            length += mono.shape[0]
            pad = (-mono.shape[0]) % TRIM_HOP
            parts.append(np.square(np.pad(mono, (0, pad))).reshape(-1, TRIM_HOP).sum(1))
    except Exception as exc:  # noqa: BLE001 - libsndfile errors come in several types
        raise AudioInputError(f"{path} could not be decoded ({exc}).") from None
    blocks = np.concatenate(parts) if parts else np.zeros(0)
    if not np.isfinite(blocks).all():
        raise AudioInputError(f"{path} contains NaN or infinite samples; repair or re-export "
                              "the file.")
    return _onset_from_block_energy(blocks, length)


def files_onset(files: Iterable[str | Path]) -> int:
    """The study's excerpt start: the largest :func:`file_trim_onset` over ``files`` (the
    mixture and every stem), in frames at their rate."""
    return max((file_trim_onset(path) for path in files), default=0)


def folder_files(folder: Path) -> list[Path]:
    """The mixture and stem files of a track folder that the study's onset looks at."""
    from .tracks import find_stem

    found = [find_stem(folder, name) for name in ("mixture", *STEMS)]
    return [path for path in found if path is not None]


# --------------------------------------------------------------------------- mixtures


def new_mixture(mixture: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """The study's "new mixture": ``Σ_s x[s]`` rescaled to the peak of ``mixture``.

    ``mixture`` is ``[channels, time]``, ``references`` ``[sources, channels, time]``.
    """
    total = references.sum(0)
    peak = float(total.abs().max())
    return total * (float(mixture.abs().max()) / peak) if peak > 0 else total


def oracle_mixture(beta: float, mixture: torch.Tensor, references: torch.Tensor, target: int,
                   file_mixture: torch.Tensor) -> torch.Tensor:
    """y_n of the study's oracle mode as its code computes it (see :data:`ORACLE_NOTE`).

    ``mixture`` is the new mixture being separated, ``file_mixture`` the track's own mixture
    (both ``[channels, time]``), ``references`` the true stems ``[sources, channels, time]``.
    """
    others = references.sum(0) - references[target] + file_mixture + mixture
    y = references[target] + (1.0 - beta) * others
    every = references.sum(0) + file_mixture + mixture
    peak = float(every.abs().max())
    return y * (float(mixture.abs().max()) / peak) if peak > 0 else y


# --------------------------------------------------------------------------- separation


class WholeExcerptSeparator:
    """A :class:`.separator.Separator` run the study's way: the model called once on the
    whole input, without normalisation (``apply_model(split=False)``; shifts, device and
    precision as the separator's). Satisfies :class:`.progressive.SeparatorLike`."""

    def __init__(self, separator: Separator) -> None:
        self.inner = separator
        self.device = separator.device
        self.notes = separator.notes

    @property
    def sources(self) -> tuple[str, ...]:
        return self.inner.sources

    @property
    def samplerate(self) -> int:
        return self.inner.samplerate

    def check_length(self, frames: int) -> None:
        """Raise :class:`ConfigError` when the model cannot take ``frames`` in one pass."""
        limit = self.inner.model.max_segment
        if frames / self.samplerate > limit:
            raise ConfigError(
                f"--preset study separates the whole excerpt in one pass, but model "
                f"{self.inner.model.name} takes at most {limit:g} s at once; use a Hybrid "
                f"Demucs model (hdemucs_mmi) or a --duration/--excerpt of {limit:g} s or less.")

    def separate(self, mix: torch.Tensor, on_chunk: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> torch.Tensor:
        """``[batch, channels, time]`` → ``[batch, sources, channels, time]`` float32."""
        from demucs.apply import apply_model

        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        self.check_length(mix.shape[-1])
        sep = self.inner
        random.seed(sep.seed)  # apply_model's shift trick draws from `random`
        # the separator's precision, as it applies it: autocast, its weights, float32 input
        with memory_errors(sep.device_name), sep.inference():
            out = apply_model(cast("DemucsModel", sep.runnable_module()),
                              mix.to(sep.device, torch.float32), shifts=sep.shifts,
                              split=False, device=sep.device)
        sep.check_finite(out)
        if on_chunk is not None:
            on_chunk(1, 1)
        return out.float()


def run_excerpt(source: str | Path, start: float | None,
                duration: float | None) -> tuple[float, float | None, str | None]:
    """``run``'s excerpt with the study preset: ``(start, duration, note)`` in seconds.

    A track folder without an explicit ``start`` gets the study's choice: from the largest
    trim onset over its files (:func:`files_onset`), ``duration`` or 30 s long. Anything else
    keeps what was given (``start`` None: 0) and no note.
    """
    folder = Path(source)
    files = folder_files(folder) if start is None and folder.is_dir() else []
    if not files:
        return (0.0 if start is None else start), duration, None
    from .audio import info

    rate = info(files[0]).samplerate
    onset = files_onset(files) / rate
    length = EXCERPT_SECONDS if duration is None else duration
    return onset, length, (f"--preset study: the excerpt starts at {onset:.3f} s, the largest "
                           f"librosa-trim onset over the track's files, and lasts "
                           f"{length:g} s (or to the end)")
