"""The Python API: :func:`separate` runs progressive inference on a file or a tensor in one
call and returns a typed :class:`Result` (every step's stems and metrics). docs/api.md.

It is the engine's own run path (:func:`.engine.job.check_run`, :class:`.engine.Separator`,
:func:`.engine.progressive.iterate`, or :func:`.engine.job.run_session` with a session
folder); the parameters and their defaults are the options of :mod:`.engine.options`, by
their names. torch loads on the first call, not on import.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine.config import (
    STEMS,
    AdaptiveScore,
    Mode,
    Precision,
    Preset,
    RunConfig,
    ScheduleName,
    StemFormat,
)
from .engine.errors import ConfigError
from .engine.options import OPTION, Value, run_config

if TYPE_CHECKING:
    import torch

    from .engine.progressive import StepMetrics
    from .engine.tracks import PreparedInput

_D: dict[str, Any] = {name: option.default for name, option in OPTION.items()}
"""Each option's default (:data:`.engine.options.OPTIONS`): the one place they are declared."""


@dataclass(frozen=True)
class Result:
    """What :func:`separate` returns: every step's stems and metrics, and how it ran.

    ``stems[i]`` is step ``metrics[i].step``'s estimate of every source, a float32 CPU tensor
    ``[sources, channels, time]`` at ``samplerate`` (the model's) in the order of ``sources``;
    ``mixtures[i]`` is the mixture that step separated (y_n ``[channels, time]``; the input at
    step 0). At a step n > 0 only the target is a new estimate of the song (the other stems
    are separations of y_n); :meth:`take_home` gives the song's stems of a step.
    """

    stems: tuple[torch.Tensor, ...]
    mixtures: tuple[torch.Tensor, ...]
    metrics: tuple[StepMetrics, ...]
    sources: tuple[str, ...]
    target: str
    samplerate: int
    config: RunConfig
    """The parameters used (validated; defaults filled in)."""
    model: dict[str, Any]
    """The model and how it ran (:func:`.engine.job.model_description`)."""
    start: float
    """Where the excerpt starts in the input, in seconds."""
    notes: tuple[str, ...] = ()
    session: Path | None = None
    """The session folder written (``session_dir``), else None."""

    @property
    def steps(self) -> tuple[int, ...]:
        """The step numbers, 0 (the one-shot baseline) first."""
        return tuple(m.step for m in self.metrics)

    @property
    def best_step(self) -> int | None:
        """The step with the target's highest SI-SDR; None without references."""
        from .engine.progressive import best_step

        return best_step(list(self.metrics), self.target)

    def index(self, step: int) -> int:
        """Position of step number ``step`` in :attr:`stems` (-1: the last step)."""
        if step == -1:
            return len(self.metrics) - 1
        if step not in self.steps:
            raise ConfigError(f"step {step} is not in this result (steps {self.steps[0]} to "
                              f"{self.steps[-1]}).")
        return self.steps.index(step)

    def stem(self, name: str, step: int = -1) -> torch.Tensor:
        """``[channels, time]`` estimate of stem ``name`` at step ``step`` (-1: the last)."""
        if name not in self.sources:
            raise ConfigError(f"{name!r} is not a stem of this model ({', '.join(self.sources)}).")
        return self.stems[self.index(step)][self.sources.index(name)]

    def take_home(self, step: int = -1) -> dict[str, torch.Tensor]:
        """The song's stems at ``step``: the target from that step, ``no_<target>`` as the
        input mixture minus it, and the other stems from step 0 (the steps after separate
        y_n, not the song)."""
        target = self.stem(self.target, step)
        stems = {name: self.stem(name, 0) for name in self.sources if name != self.target}
        return {self.target: target, f"no_{self.target}": self.mixtures[0] - target, **stems}


def separate(
    audio: str | os.PathLike[str] | torch.Tensor,
    model: str = _D["model"],
    *,
    samplerate: int | None = None,
    references: str | os.PathLike[str] | torch.Tensor | None = None,
    target: str = _D["target"],
    steps: int = _D["steps"],
    mode: Mode = _D["mode"],
    schedule: ScheduleName = _D["schedule"],
    beta_max: float = _D["beta_max"],
    preset: Preset = _D["preset"],
    adaptive_k: int = _D["adaptive_k"],
    adaptive_score: AdaptiveScore = _D["adaptive_score"],
    adaptive_chunk: float = _D["adaptive_chunk"],
    early_stop: float | None = _D["early_stop"],
    wiener: bool = _D["wiener"],
    loudness_match: bool = _D["loudness_match"],
    clip_guard: bool = _D["clip_guard"],
    start: float | None = _D["start"],
    duration: float | None = _D["duration"],
    device: str = _D["device"],
    precision: Precision = _D["precision"],
    segment: float | None = _D["segment"],
    overlap: float | None = _D["overlap"],
    shifts: int = _D["shifts"],
    batch_chunks: int = _D["batch_chunks"],
    seed: int = _D["seed"],
    cache: bool = _D["cache"],
    repo: str | None = _D["repo"],
    trust_checkpoint: bool = _D["trust_checkpoint"],
    model_config: str | None = _D["model_config"],
    session_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    stem_format: StemFormat = _D["stem_format"],
    cancel: threading.Event | None = None,
) -> Result:
    """Run progressive inference on ``audio`` and return every step (:class:`Result`).

    ``audio`` is an audio file, a MUSDB-style track folder (its stems become the references)
    or a tensor ``[channels, time]`` at ``samplerate`` Hz, which is then required; like a
    file it is mapped to stereo and resampled to the model's rate. ``references``: a folder
    of reference stems, or with a tensor a tensor ``[sources, channels, time]`` at
    ``samplerate``. The other parameters are the CLI's options by their names
    (``progdemix-tui run --help``; ``early_stop`` is ``--early-stop``'s dB, ``adaptive_k``
    ``--adaptive``'s K). ``session_dir`` also writes a session folder there, as ``run --out``
    does (``overwrite`` reuses a non-empty one). ``cancel``: set it from another thread to
    stop within one chunk (:class:`~progdemix_tui.engine.errors.Cancelled`).

    Errors are the engine's (:class:`~progdemix_tui.engine.errors.ProgdemixError` and its
    subclasses: ``ConfigError``, ``AudioInputError``, ``ModelUnavailable``, ``DeviceError``…),
    each one line saying what is wrong. torch's thread count is left as it is.
    """
    values: dict[str, Value] = {
        "model": model, "repo": repo, "trust_checkpoint": trust_checkpoint,
        "model_config": model_config, "device": device,
        "precision": precision, "target": target, "steps": steps, "mode": mode,
        "schedule": schedule, "beta_max": beta_max, "preset": preset, "adaptive_k": adaptive_k,
        "adaptive_score": adaptive_score, "adaptive_chunk": adaptive_chunk,
        "early_stop": early_stop, "wiener": wiener, "loudness_match": loudness_match,
        "clip_guard": clip_guard, "segment": segment, "overlap": overlap, "shifts": shifts,
        "batch_chunks": batch_chunks, "seed": seed, "cache": cache}
    config = run_config(values).validate(STEMS if target in STEMS else None)
    import torch

    if isinstance(audio, torch.Tensor):
        return _run(config, None, audio, samplerate, references, start, duration, session_dir,
                    overwrite, stem_format, cancel)
    if samplerate is not None:
        raise ConfigError("samplerate= is for a tensor input; a file says its own rate.")
    if isinstance(references, torch.Tensor):
        raise ConfigError("references= with a file input is a folder of reference stems; "
                          "tensor references go with a tensor input.")
    return _run(config, Path(audio), None, None, references, start, duration, session_dir,
                overwrite, stem_format, cancel)


def _run(config: RunConfig, source: Path | None, samples: torch.Tensor | None,
         rate: int | None, references: Any, start: float | None, duration: float | None,
         session_dir: str | os.PathLike[str] | None, overwrite: bool, stem_format: StemFormat,
         cancel: threading.Event | None) -> Result:
    """Check everything a model is not needed for, load the model, run; as ``run`` does."""
    from .engine import audio, hub, study
    from .engine.job import check_run, model_description, run_session
    from .engine.progressive import check_config, iterate
    from .engine.resources import preflight
    from .engine.separator import Separator
    from .engine.session import check_output_folder
    from .engine.tracks import check_tensor_input, load_input, tensor_input

    notes: list[str] = []
    if source is not None:
        if config.preset == "study":  # the study's excerpt of a track folder, as run picks it
            start, duration, note = study.run_excerpt(source, start, duration)
            notes += [note] if note else []
        start = start or 0.0
        checked = check_run(source, config, start, duration, references).checked
    else:
        start = start or 0.0
        if rate is None:
            raise ConfigError("a tensor input needs samplerate= (its rate in Hz).")
        assert samples is not None
        info = check_tensor_input(samples, rate, start, duration)
        checked = check_config(config, STEMS if config.target in STEMS else None,
                               references is not None)
        preflight(audio.excerpt_frames(info, start, duration), rate, config,
                  references is not None)
    out = Path(session_dir) if session_dir is not None else None
    if out is not None:
        check_output_folder(out, overwrite)
    spec = config.separator
    hub.preflight(spec.model, spec.repo, spec.trust_checkpoint, spec.model_config)
    separator = Separator.from_config(spec)
    config.validate(separator.sources)  # the target against the model's own stems
    prepared: PreparedInput
    if source is not None:
        prepared = load_input(source, separator.samplerate, separator.sources, start, duration,
                              references)
    else:
        assert samples is not None and rate is not None
        prepared = tensor_input(samples, rate, separator.samplerate, separator.sources, start,
                                duration, references)
    notes += prepared.notes
    if out is not None:
        results = run_session(separator, prepared, config, out, cancel,
                              overwrite=overwrite, stem_format=stem_format, checked=checked)
    else:
        results = iterate(separator, prepared.mixture, config, prepared.references, cancel,
                          checked=checked)
    steps = list(results)
    return Result(stems=tuple(r.estimates for r in steps),
                  mixtures=tuple(r.mixture for r in steps),
                  metrics=tuple(r.metrics for r in steps), sources=tuple(separator.sources),
                  target=config.target, samplerate=separator.samplerate, config=config,
                  model=model_description(separator), start=start,
                  notes=tuple(notes + list(separator.notes)),
                  session=out)
