"""The progressive inference loop.

Step 0 separates the original mixture y (the one-shot baseline). Each step n = 1..N builds a
new mixture y_n from the previous estimates (see :mod:`.mixing`) and separates it again.
:func:`iterate` is a generator yielding one :class:`IterationResult` per step, so consumers
(CLI, TUI worker, evaluator, session writer) see each step as soon as it exists and only the
current step's audio lives in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass
from typing import Protocol

import torch

from . import adaptive as adaptive_beta
from .config import RunConfig
from .errors import AudioInputError, ReferencesRequired
from .metrics import residual_db, si_sdr_stems
from .mixing import build_mixture, clip_guard, integrated_loudness, match_loudness
from .postfilter import wiener_target
from .procedure import Procedure, procedure_for
from .schedules import beta as schedule_beta

StepProgress = Callable[[int, int, int], None]
"""Called as ``on_chunk(step, done, total)`` after each chunk the separator processes."""


class SeparatorLike(Protocol):
    """What :func:`iterate` needs from a separator (see :class:`.separator.Separator`).

    ``sources`` and ``samplerate`` are read-only: a property or a plain attribute will do.
    A separator may also have ``separate_step0`` (``separate``'s signature): step 0 calls it
    instead, so that it may reuse a stored one-shot separation (:mod:`.step0_cache`).
    """

    @property
    def sources(self) -> tuple[str, ...]: ...

    @property
    def samplerate(self) -> int: ...

    def separate(self, mix: torch.Tensor, on_chunk: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> torch.Tensor:
        """``[batch, channels, time]`` → ``[batch, sources, channels, time]``."""
        ...


@dataclass
class StepMetrics:
    """Numbers for one step, free of audio: what manifests, tables and the timeline show.

    Undefined values are ``None`` (shown as n/a). ``si_sdr`` and ``si_sdr_delta`` exist only
    with references; ``si_sdr_delta`` is the target's SI-SDR minus step 0's.
    """

    step: int
    beta: float | None
    seconds: float
    clip_factor: float
    loudness_gain_db: float
    residual_db: float | None
    estimate_change: dict[str, float | None] | None
    si_sdr: dict[str, float | None] | None
    si_sdr_delta: float | None
    adaptive_beta_mean: float | None = None
    adaptive_kept_previous: float | None = None
    converged: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> StepMetrics:
        return cls(**data)


def best_step(metrics: list[StepMetrics], target: str) -> int | None:
    """Step with the highest SI-SDR of ``target``; None without references."""
    scored = [(m.si_sdr[target], m.step) for m in metrics
              if m.si_sdr and m.si_sdr.get(target) is not None]
    return max(scored)[1] if scored else None


@dataclass
class IterationResult:
    """One step of a run: its metrics plus its audio.

    ``mixture`` is y_n ``[channels, time]`` (y itself at step 0); ``estimates`` is
    ``[sources, channels, time]`` in the order of ``sources``.
    """

    metrics: StepMetrics
    mixture: torch.Tensor
    estimates: torch.Tensor
    sources: tuple[str, ...]
    target: str
    samplerate: int
    total_steps: int

    @property
    def step(self) -> int:
        return self.metrics.step

    def stem(self, name: str) -> torch.Tensor:
        """``[channels, time]`` estimate of stem ``name``."""
        return self.estimates[self.sources.index(name)]


@dataclass(frozen=True)
class LoopState:
    """What step ``step + 1`` needs of a run stopped after step ``step`` (``run --resume``):
    that step's ``estimates`` ``[sources, channels, time]`` and its mixture y_n
    ``[channels, time]``, both as the loop held them (float32), and step 0's target SI-SDR."""

    step: int
    estimates: torch.Tensor
    mixture: torch.Tensor
    base_target_sdr: float | None


@dataclass(frozen=True)
class CheckedConfig:
    """``config`` validated for a model's ``sources`` and for whether references exist."""

    config: RunConfig
    sources: tuple[str, ...] | None  # None: checked before the model was known
    has_references: bool
    score: str | None
    """The adaptive score to use (:func:`check_references`); None without adaptive β."""

    def covers(self, config: RunConfig, sources: tuple[str, ...], has_references: bool) -> bool:
        """Whether this check stands for ``config`` run on ``sources`` with or without
        references, so that nothing needs checking again."""
        # checked before the model was known: all but the target's being one of its stems
        known = (self.sources == tuple(sources) if self.sources is not None
                 else config.target in sources)
        return self.config is config and known and self.has_references == has_references


def check_config(config: RunConfig, sources: tuple[str, ...] | None,
                 has_references: bool) -> CheckedConfig:
    """Validate ``config`` (:meth:`RunConfig.validate`) and its need for references
    (:func:`check_references`); raises the :class:`.errors.ConfigError` that applies.
    ``sources`` None: the model is not known yet (its stems are checked once it is)."""
    config.validate(sources)
    return CheckedConfig(config, None if sources is None else tuple(sources), has_references,
                         check_references(config, has_references))


def iterate(
    separator: SeparatorLike,
    mixture: torch.Tensor,
    config: RunConfig,
    references: torch.Tensor | None = None,
    cancel: threading.Event | None = None,
    on_chunk: StepProgress | None = None,
    checked: CheckedConfig | None = None,
    resume_from: LoopState | None = None,
) -> Iterator[IterationResult]:
    """Run progressive inference on ``mixture`` ``[channels, time]``, one step at a time.

    ``references`` (``[sources, channels, time]``, same order as ``separator.sources``)
    enable SI-SDR and are required by oracle mode and the oracle adaptive score. Yields
    N+1 results (fewer on early stop). Raises :class:`.errors.Cancelled` when ``cancel`` is
    set (within one chunk); results already yielded stay valid. ``config`` is checked
    (:func:`check_config`) unless ``checked`` already covers it. ``resume_from`` continues
    a run after its last complete step (yielding only the steps after it).
    """
    sources = tuple(separator.sources)
    has_references = references is not None
    if checked is None or not checked.covers(config, sources, has_references):
        checked = check_config(config, sources, has_references)
    _check_inputs(mixture, references, sources)
    procedure = procedure_for(config)  # this tool's or the study's, chosen once
    separator = procedure.separator(separator, mixture.shape[-1])
    target = sources.index(config.target)
    score_kind = checked.score
    # All maths happens on the separator's device; results are handed out on the CPU.
    device = getattr(separator, "device", torch.device("cpu"))
    mixture = mixture.to(device)
    references = references.to(device) if references is not None else None
    mixture, file_mixture = procedure.mixtures(mixture, references)
    rate = separator.samplerate
    loudness = integrated_loudness(mixture, rate) if config.loudness_match else None
    inputs = _RunInputs(separator, config, mixture, references, sources, target, score_kind,
                        loudness, rate, cancel, procedure, file_mixture)

    def progress(step: int) -> Callable[[int, int], None] | None:
        if on_chunk is None:
            return None
        return lambda done, total: on_chunk(step, done, total)

    if resume_from is None:
        previous, previous_mix, base_target_sdr = yield from _step0(inputs, progress(0))
        first_step = 1
    else:
        previous = resume_from.estimates.to(device)
        previous_mix = resume_from.mixture.to(device)
        base_target_sdr, first_step = resume_from.base_target_sdr, resume_from.step + 1

    for n in range(first_step, procedure.last_step(config.steps) + 1):
        start = time.perf_counter()
        b = schedule_beta(config.schedule, n, config.steps, config.beta_max)
        if config.adaptive is None:
            separated = _plain_step(inputs, b, previous, progress(n))
        else:
            separated = _adaptive_step(inputs, b, previous, previous_mix, progress(n))
        estimates, y_n = separated.estimates, separated.mixture
        metrics = _metrics(inputs, n, b, separated, previous, base_target_sdr,
                           time.perf_counter() - start)
        change = metrics.estimate_change[config.target] if metrics.estimate_change else None
        metrics.converged = bool(config.early_stop_db is not None and change is not None
                                 and change >= config.early_stop_db)
        yield IterationResult(metrics, y_n.cpu(), estimates.cpu(), sources, config.target, rate,
                              config.steps)
        if metrics.converged:
            return
        previous, previous_mix = estimates, y_n


def _step0(inputs: _RunInputs, on_chunk: Callable[[int, int], None] | None
           ) -> Generator[IterationResult, None, tuple[torch.Tensor, torch.Tensor, float | None]]:
    """Step 0, the one-shot baseline (through the separator's step-0 cache if it has one);
    yields its result and returns the loop's state after it."""
    config, separator, mixture = inputs.config, inputs.separator, inputs.mixture
    start = time.perf_counter()
    separate_step0 = getattr(separator, "separate_step0", separator.separate)
    first = separate_step0(mixture[None], on_chunk, inputs.cancel)[0]
    first = _postfilter(first, mixture, inputs.target, config)
    baseline = _metrics(inputs, 0, None, _StepAudio(first, mixture), None, None,
                        time.perf_counter() - start)
    yield IterationResult(baseline, mixture.cpu(), first.cpu(), inputs.sources, config.target,
                          inputs.rate, config.steps)
    return first, mixture, baseline.si_sdr[config.target] if baseline.si_sdr else None


def _check_inputs(mixture: torch.Tensor, references: torch.Tensor | None,
                  sources: tuple[str, ...]) -> None:
    if mixture.dim() != 2 or mixture.shape[-1] == 0:
        raise AudioInputError(f"mixture must be [channels, time] with samples, got {tuple(mixture.shape)}.")
    if not torch.isfinite(mixture).all():
        raise AudioInputError("the mixture contains NaN or infinite samples.")
    if references is not None and (references.shape[0] != len(sources)
                                   or references.shape[1:] != mixture.shape):
        raise AudioInputError(
            f"reference stems have shape {tuple(references.shape)}, expected "
            f"{(len(sources), *mixture.shape)} (one per source, like the mixture)."
        )


def check_references(config: RunConfig, has_references: bool) -> str | None:
    """Raise :class:`ReferencesRequired` if ``config`` needs references that are absent.

    Returns the adaptive score to use (None without adaptive β).
    """
    if config.mode == "oracle" and not has_references:
        raise ReferencesRequired(
            "oracle mode needs the true stems: use a MUSDB-style track folder or --references DIR."
        )
    if config.adaptive is None:
        return None
    kind = config.adaptive.score
    if kind == "auto":
        return "oracle" if has_references else "decorrelation"
    if kind == "oracle" and not has_references:
        raise ReferencesRequired(
            "the oracle adaptive score needs reference stems; use --adaptive-score decorrelation."
        )
    return kind


def _guard(y_n: torch.Tensor, loudness: float | None, rate: int,
           config: RunConfig) -> tuple[torch.Tensor, float, float]:
    gain_db = 0.0
    if config.loudness_match:
        y_n, gain_db = match_loudness(y_n, loudness, rate)
    clip = 1.0
    if config.clip_guard:
        y_n, clip = clip_guard(y_n)
    return y_n, gain_db, clip


def _postfilter(estimates: torch.Tensor, y: torch.Tensor, target: int,
                config: RunConfig) -> torch.Tensor:
    if not config.wiener:
        return estimates
    estimates = estimates.clone()
    estimates[target] = wiener_target(estimates, y, target)
    return estimates


@dataclass(frozen=True)
class _RunInputs:
    """What stays the same for every step of one :func:`run` (on the separator's device)."""

    separator: SeparatorLike
    config: RunConfig
    mixture: torch.Tensor  # y, [channels, time]
    references: torch.Tensor | None  # [sources, channels, time]
    sources: tuple[str, ...]
    target: int  # index of config.target in sources
    score_kind: str | None  # adaptive score (see check_references)
    loudness: float | None  # y's integrated loudness, with loudness matching
    rate: int
    cancel: threading.Event | None
    procedure: Procedure  # this tool's or the study's (.procedure)
    file_mixture: torch.Tensor | None = None  # the track's mixture when y is the study's new one


@dataclass(frozen=True)
class _StepAudio:
    """What one step separated, before its metrics: ``estimates`` of ``mixture`` (y_n), the
    loudness gain and clip factor applied to y_n, and the adaptive choice (if any)."""

    estimates: torch.Tensor  # [sources, channels, time]
    mixture: torch.Tensor  # [channels, time]
    gain_db: float = 0.0
    clip: float = 1.0
    adaptive_beta_mean: float | None = None
    adaptive_kept_previous: float | None = None


def _plain_step(inputs: _RunInputs, beta_n: float, previous: torch.Tensor,
                on_chunk: Callable[[int, int], None] | None) -> _StepAudio:
    """One step with a fixed β: build y_n from ``previous``, guard it, separate it."""
    config, target = inputs.config, inputs.target
    y_n = _build(inputs, beta_n, previous)
    y_n, gain_db, clip = _guard(y_n, inputs.loudness, inputs.rate, config)
    estimates = inputs.separator.separate(y_n[None], on_chunk, inputs.cancel)[0]
    estimates = _postfilter(estimates, y_n, target, config)
    return _StepAudio(estimates, y_n, gain_db, clip)


def _adaptive_step(inputs: _RunInputs, beta_n: float, previous: torch.Tensor,
                   previous_mix: torch.Tensor,
                   on_chunk: Callable[[int, int], None] | None) -> _StepAudio:
    """One adaptive step: K candidates in one batch, best kept per chunk and channel."""
    config, target, references = inputs.config, inputs.target, inputs.references
    mixture, rate, score_kind = inputs.mixture, inputs.rate, inputs.score_kind
    assert config.adaptive is not None and score_kind is not None
    betas = adaptive_beta.candidate_betas(beta_n, config.adaptive.candidates)
    mixes, gains, clips = [], [], []
    for b in betas:
        y, gain_db, clip = _guard(_build(inputs, b, previous), inputs.loudness, rate, config)
        mixes.append(y)
        gains.append(gain_db)
        clips.append(clip)
    batch = torch.stack(mixes)
    outs = inputs.separator.separate(batch, on_chunk, inputs.cancel)  # [K, S, C, T]
    outs = torch.stack([_postfilter(o, y, target, config) for o, y in zip(outs, batch, strict=True)])
    cand_stems = torch.cat([previous[None], outs])
    cand_mixes = torch.cat([previous_mix[None], batch])
    chunk = max(1, int(config.adaptive.chunk_seconds * rate))
    chosen = adaptive_beta.choose(
        cand_stems, cand_mixes, betas, target, chunk, score_kind,
        references[target] if references is not None else None, mixture)
    return _StepAudio(chosen.stems, chosen.mixture, max(gains, key=abs), min(clips),
                      adaptive_beta_mean=float(chosen.betas.mean()),
                      adaptive_kept_previous=float((chosen.choice == 0).float().mean()))


def _build(inputs: _RunInputs, beta_n: float, previous: torch.Tensor) -> torch.Tensor:
    """y_n (:func:`.mixing.build_mixture`, or the procedure's own: the study's oracle mixture)."""
    config = inputs.config
    own = inputs.procedure.mixture_n(config.mode, beta_n, inputs.mixture, inputs.references,
                                     inputs.target, inputs.file_mixture)
    if own is not None:
        return own
    return build_mixture(config.mode, beta_n, inputs.mixture, previous, inputs.target,
                         inputs.references)


def _metrics(inputs: _RunInputs, step: int, b: float | None, audio: _StepAudio,
             previous: torch.Tensor | None, base_sdr: float | None,
             seconds: float) -> StepMetrics:
    """Step ``step``'s numbers; ``base_sdr`` is step 0's target SI-SDR (None at step 0)."""
    references, sources, target = inputs.references, inputs.sources, inputs.target
    estimates = audio.estimates
    si_sdr = None
    delta = None
    if references is not None:
        si_sdr = dict(zip(sources, si_sdr_stems(estimates, references), strict=True))
        value = si_sdr[sources[target]]
        if base_sdr is not None and value is not None:
            delta = value - base_sdr
        elif step == 0:
            delta = 0.0 if value is not None else None
    change = None
    if previous is not None:
        change = dict(zip(sources, si_sdr_stems(estimates, previous), strict=True))
    return StepMetrics(step=step, beta=b, seconds=seconds, clip_factor=audio.clip,
                       loudness_gain_db=audio.gain_db,
                       residual_db=residual_db(audio.mixture, estimates),
                       estimate_change=change, si_sdr=si_sdr, si_sdr_delta=delta,
                       adaptive_beta_mean=audio.adaptive_beta_mean,
                       adaptive_kept_previous=audio.adaptive_kept_previous)
