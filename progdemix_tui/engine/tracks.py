"""Inputs with optional reference stems: plain files, MUSDB-style track folders.

A MUSDB18-HQ track folder holds ``mixture`` and ``drums``, ``bass``, ``other``, ``vocals``
files (WAV or FLAC). Given such a folder, its stems become the references of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import audio
from .config import STEMS, check_excerpt
from .errors import AudioInputError, InputUnreadable, NoMixture

STEM_EXTENSIONS = (".wav", ".flac")


def find_stem(folder: Path, name: str) -> Path | None:
    """``folder/name.wav`` or ``.flac``, whichever exists: a regular file first, else any
    entry but a folder (a FIFO, a device, a dangling link), so that reading it says what it
    is instead of the folder passing for one without that stem."""
    candidates = [folder / f"{name}{ext}" for ext in STEM_EXTENSIONS]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    for candidate in candidates:
        if candidate.is_symlink() or (candidate.exists() and not candidate.is_dir()):
            return candidate
    return None


def is_track_folder(folder: str | Path) -> bool:
    """True if ``folder`` holds a mixture file and all four stems."""
    folder = Path(folder)
    return folder.is_dir() and all(find_stem(folder, n) for n in ("mixture", *STEMS))


def reference_parts(folder: Path, sources: tuple[str, ...] = STEMS) -> dict[str, tuple[str, ...]]:
    """Which stem files of ``folder`` make each of the model's ``sources``' references: its
    own file; but for a model with fewer stems than the four standard ones (a vocals +
    instrumental RoFormer, a one-target Open-Unmix) on a folder holding those four, its last
    stem (the rest of the song) is the sum of the four but its other stems. Stems with no
    file and no such sum are missing (absent from the result)."""
    parts: dict[str, tuple[str, ...]] = {
        name: (name,) for name in sources if find_stem(folder, name) is not None}
    if 0 < len(sources) < len(STEMS) and set(sources[:-1]) <= set(STEMS) \
            and not missing_stems_of(folder, STEMS):
        parts[sources[-1]] = tuple(s for s in STEMS if s not in sources[:-1])
    return parts


def missing_stems_of(folder: Path, names: tuple[str, ...]) -> list[str]:
    """``names`` without a file in ``folder``."""
    return [name for name in names if find_stem(folder, name) is None]


def missing_stems(folder: Path, sources: tuple[str, ...] = STEMS) -> list[str]:
    """The model's ``sources`` whose references ``folder`` cannot give
    (:func:`reference_parts`)."""
    parts = reference_parts(folder, sources)
    return [name for name in sources if name not in parts]


@dataclass(frozen=True)
class InputInfo:
    """A run's input as its headers describe it (:func:`inspect_input`); no audio read."""

    path: Path
    audio: audio.AudioInfo
    """The file itself, or a track folder's mixture."""
    track_folder: bool
    references: bool
    """Whether reference stems come with it: all four in the track folder, or a
    ``references`` folder given."""


def inspect_input(path: str | Path, references: str | Path | None = None) -> InputInfo:
    """What ``path`` (an audio file or a MUSDB-style track folder) holds, from headers.

    Raises :class:`.errors.InputUnreadable` (a folder the OS refuses to list),
    :class:`.errors.NoMixture` (a folder without a mixture file) or the
    :class:`.errors.AudioInputError` of an unreadable audio file.
    """
    path = Path(path)
    try:
        mixture = find_stem(path, "mixture") if path.is_dir() else None
        track_folder = mixture is not None
        has_refs = references is not None or (track_folder and is_track_folder(path))
        if mixture is None and path.is_dir():
            raise NoMixture(
                f"{path} is a folder without mixture.wav/.flac; give an audio file "
                "(WAV, FLAC, OGG, MP3) or a MUSDB-style track folder."
            )
    except OSError as exc:
        raise InputUnreadable(f"{path}: cannot be read ({exc.strerror}); check the path and "
                              "its folders' permissions.", exc) from None
    return InputInfo(path, audio.info(mixture or path), track_folder, has_refs)


@dataclass
class PreparedInput:
    """A mixture ``[channels, time]`` at the model rate, and references if found.

    ``references`` is ``[sources, channels, time]`` in the model's source order.
    """

    path: Path
    mixture: torch.Tensor
    samplerate: int
    references: torch.Tensor | None
    start: float
    info: audio.AudioInfo
    notes: list[str] = field(default_factory=list)
    given: Path | None = None  # the path as given (a track folder, not its mixture file)
    requested_duration: float | None = None  # --duration as given (None: to the end)

    def describe(self) -> dict:
        """JSON-ready description for manifests; ``resume`` holds what ``run --resume``
        needs to load the same excerpt again and to tell that it is the same
        (:mod:`.resume`)."""
        resume = {"source": str(self.given or self.path), "duration": self.requested_duration,
                  "sha256": excerpt_digest(self.mixture)}
        return {"path": str(self.path), "start": self.start, "resume": resume,
                "duration": self.mixture.shape[-1] / self.samplerate,
                "file_samplerate": self.info.samplerate, "file_channels": self.info.channels,
                "format": f"{self.info.format}/{self.info.subtype}",
                "references": self.references is not None, "notes": self.notes}


SHORT_INPUT_SECONDS = 1.0


def load_input(path: str | Path, samplerate: int, sources: tuple[str, ...] = STEMS,
               start: float = 0.0, duration: float | None = None,
               references: str | Path | None = None) -> PreparedInput:
    """Load a file or MUSDB-style track folder (plus ``references`` folder if given)."""
    path = Path(path)
    ref_folder: Path | None = Path(references) if references is not None else None
    mixture_path, warning = path, None
    if path.is_dir():
        mix = find_stem(path, "mixture")
        if mix is None:
            raise AudioInputError(
                f"{path} is a folder without mixture.wav/.flac; give an audio file or a "
                "MUSDB-style track folder."
            )
        mixture_path = mix
        if ref_folder is None:
            ref_folder, warning = _folder_references(path, sources)
    loaded = audio.load(mixture_path, samplerate, start, duration)
    notes = list(loaded.notes) + ([warning] if warning else [])
    seconds = loaded.samples.shape[-1] / samplerate
    if seconds < SHORT_INPUT_SECONDS:
        notes.append(f"warning: the input is only {seconds:.2f} s long; separation and its "
                     f"metrics mean little under {SHORT_INPUT_SECONDS:g} s")
    refs = None
    if ref_folder is not None:
        refs, ref_notes = _load_references(ref_folder, sources, samplerate, start,
                                           loaded.samples.shape[-1])
        notes += ref_notes
    assert loaded.source is not None
    return PreparedInput(mixture_path, loaded.samples, samplerate, refs, start, loaded.source,
                         notes, path, duration)


def check_tensor_input(samples: torch.Tensor, rate: int, start: float = 0.0,
                       duration: float | None = None) -> audio.AudioInfo:
    """What :func:`tensor_input` checks before any work, as :func:`inspect_input` does for a
    file: the excerpt, the rate, the shape (``[channels, time]`` with samples); returns the
    tensor's description. Raises :class:`AudioInputError` or :class:`.errors.ConfigError`."""
    check_excerpt(start, duration)
    if not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        raise AudioInputError(f"samplerate must be a positive whole number of Hz, not {rate!r}.")
    if not isinstance(samples, torch.Tensor) or samples.dim() != 2 or samples.shape[-1] == 0:
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples)
        raise AudioInputError(f"audio must be a [channels, time] tensor with samples, got "
                              f"{shape}; give mono as [1, time].")
    info = audio.AudioInfo(Path("<tensor>"), samples.shape[-1], rate, samples.shape[0],
                           "tensor", "FLOAT")
    if int(round(start * rate)) >= info.frames:
        raise AudioInputError(f"the audio is {info.duration:.2f} s long; start {start:g} s is "
                              "past its end.")
    return info


def tensor_input(samples: torch.Tensor, rate: int, samplerate: int,
                 sources: tuple[str, ...] = STEMS, start: float = 0.0,
                 duration: float | None = None,
                 references: torch.Tensor | None = None) -> PreparedInput:
    """A :class:`PreparedInput` from audio in memory, as :func:`load_input` makes one from a
    file: ``samples`` ``[channels, time]`` at ``rate``, cut to the excerpt, mapped to stereo
    and resampled to ``samplerate`` with julius (as :func:`.audio.load` does); ``references``
    ``[sources, channels, time]`` at ``rate`` alike. Raises :class:`AudioInputError` for a
    tensor of another shape or no samples, :class:`.errors.ConfigError` for a bad excerpt."""
    info = check_tensor_input(samples, rate, start, duration)
    frames = info.frames
    first = int(round(start * rate))
    count = audio.excerpt_frames(info, start, duration)
    mixture, notes = _model_input(samples[..., first:first + count], rate, samplerate)
    refs = None
    if references is not None:
        if references.dim() != 3 or references.shape[0] != len(sources) \
                or references.shape[-1] != frames:
            raise AudioInputError(
                f"references must be [sources, channels, time] = [{len(sources)}, channels, "
                f"{frames}] ({', '.join(sources)}, as long as the audio), got "
                f"{tuple(references.shape)}.")
        refs = torch.stack([_model_input(stem[..., first:first + count], rate, samplerate)[0]
                            for stem in references])
        notes.append("references given with the audio")
    seconds = mixture.shape[-1] / samplerate
    if seconds < SHORT_INPUT_SECONDS:
        notes.append(f"warning: the input is only {seconds:.2f} s long; separation and its "
                     f"metrics mean little under {SHORT_INPUT_SECONDS:g} s")
    return PreparedInput(info.path, mixture, samplerate, refs, start, info, notes, None,
                         duration)


def _model_input(samples: torch.Tensor, rate: int,
                 samplerate: int) -> tuple[torch.Tensor, list[str]]:
    """``[c, t]`` at ``rate`` → stereo float32 at ``samplerate``, with notes."""
    samples = samples.detach().to("cpu", torch.float32)
    stereo, note = audio.fit_channels(samples, 2)
    notes = [note] if note else []
    if rate != samplerate:
        stereo = audio.resample(stereo, rate, samplerate)
        notes.append(f"resampled {rate} Hz → {samplerate} Hz")
    return stereo.contiguous(), notes


def excerpt_digest(mixture: torch.Tensor) -> str:
    """SHA-256 of an excerpt's float32 samples and shape: the same file, excerpt and rate
    give the same digest."""
    import hashlib

    samples = mixture.detach().to("cpu", torch.float32).contiguous()
    digest = hashlib.sha256(f"{tuple(samples.shape)}".encode())
    digest.update(samples.numpy().data)
    return digest.hexdigest()


def _folder_references(folder: Path, sources: tuple[str, ...]) -> tuple[Path | None, str | None]:
    """A track folder's own references: ``(folder, None)`` when every stem is there;
    ``(None, warning)`` when only some are (the run goes on without references)."""
    missing = missing_stems(folder, sources)
    if not missing:
        return folder, None
    if len(missing) == len(sources):
        return None, None
    return None, (f"warning: {folder.name} lacks the reference stem(s) {', '.join(missing)} "
                  "(.wav or .flac): running without references")


def _load_references(folder: Path, sources: tuple[str, ...], samplerate: int, start: float,
                     length: int) -> tuple[torch.Tensor, list[str]]:
    if not folder.is_dir():
        raise AudioInputError(f"--references {folder} is not a folder.")
    missing = missing_stems(folder, sources)
    if missing:
        raise AudioInputError(
            f"{folder} lacks reference stems {', '.join(missing)} (.wav or .flac)."
        )
    parts = reference_parts(folder, sources)
    stems = None
    notes = []
    for i, name in enumerate(sources):
        if parts[name] != (name,):
            notes.append(f"reference {name} = {' + '.join(parts[name])} (the rest of the song)")
        for part in parts[name]:
            x = _reference(folder, part, samplerate, start, length)
            if stems is None:  # filled stem by stem: no second copy of all references
                stems = torch.zeros(len(sources), x.shape[0], length, dtype=x.dtype)
            n = min(length, x.shape[-1])
            stems[i, :, :n] += x[..., :n]
            del x
    assert stems is not None
    return stems, [f"references from {folder}", *notes]


def _reference(folder: Path, name: str, samplerate: int, start: float,
               length: int) -> torch.Tensor:
    """One stem file of ``folder`` at ``samplerate``, checked to match the mixture's length."""
    stem_path = find_stem(folder, name)
    assert stem_path is not None
    x = audio.load(stem_path, samplerate, start, length / samplerate).samples
    if abs(x.shape[-1] - length) > 2:
        raise AudioInputError(
            f"reference {stem_path.name} is {x.shape[-1]} samples long but the mixture is "
            f"{length}; stems must match the mixture."
        )
    return x
