"""One (track, target) of an evaluation: the progressive run with its metrics and the
oracle-gain sweep, collected in a :class:`TrackResult`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from ..config import RunConfig
from ..dataset import TrackAudio
from ..metrics import si_sdr_db
from ..mixing import build_mixture
from ..progressive import SeparatorLike, iterate
from .settings import beta_to_gain


@dataclass
class TrackResult:
    """One finished (track, target): per-step metrics (StepMetrics dicts plus ``sdr``) and
    the oracle-gain sweep (dicts with ``beta``, ``gain_db``, ``si_sdr``, ``input_si_sdr``)."""

    track: str
    target: str
    start: float
    duration: float
    samplerate: int
    steps: list[dict]
    oracle_gain: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_track(
    separator: SeparatorLike,
    track: TrackAudio,
    config: RunConfig,
    sdr: bool = False,
    oracle_betas: Iterable[float] = (),
    cancel: threading.Event | None = None,
    on_chunk: Callable[[int, int, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    sdr_whole: bool = False,
) -> TrackResult:
    """Progressive inference on one track for ``config.target``, plus the oracle-gain sweep.

    SI-SDR per stem comes from the loop itself; SDR (BSSEval v4, see
    :mod:`progdemix_tui.engine.sdr`) is added per step when ``sdr``. ``on_step(step)`` is
    called after each step (oracle-gain points count as steps ``N+1…``). ``sdr_whole`` adds
    the study's "standard SDR" over the whole excerpt (:func:`..sdr.whole_sdr_db`).
    """
    start = time.perf_counter()
    sources = tuple(separator.sources)
    rate = separator.samplerate
    if sdr:
        from ..sdr import sdr_db
    steps = []
    for result in iterate(separator, track.mixture, config, track.references, cancel, on_chunk):
        entry = result.metrics.to_dict()
        entry["sdr"] = (dict(zip(sources, sdr_db(result.estimates, track.references, rate),
                                 strict=True)) if sdr else None)
        if sdr_whole:
            from ..sdr import whole_sdr_db

            entry["sdr_whole"] = dict(zip(sources, whole_sdr_db(result.estimates,
                                                                track.references), strict=True))
        steps.append(entry)
        if on_step is not None:
            on_step(result.step)
    oracle = oracle_gain_sweep(separator, track, config.target, oracle_betas, cancel,
                               on_chunk, on_step, first_step=len(steps))
    return TrackResult(track.name, config.target, track.start, track.duration, rate, steps,
                       oracle, list(track.notes), time.perf_counter() - start)


def oracle_gain_sweep(
    separator: SeparatorLike,
    track: TrackAudio,
    target: str,
    betas: Iterable[float],
    cancel: threading.Event | None = None,
    on_chunk: Callable[[int, int, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    first_step: int = 0,
) -> list[dict]:
    """The study's lemma: separate ``x_target + (1-β)·acc`` (true stems, rescaled to the
    mixture's peak) once per β and record the target's SI-SDR; it rises with the gain."""
    sources = tuple(separator.sources)
    index = sources.index(target)
    points = []
    for k, b in enumerate(betas):
        y = build_mixture("oracle", b, track.mixture, track.references, index, track.references)
        chunk = None if on_chunk is None else (
            lambda done, total, s=first_step + k: on_chunk(s, done, total))
        estimate = separator.separate(y[None], chunk, cancel)[0, index].cpu()
        points.append({"beta": b, "gain_db": beta_to_gain(b),
                       "si_sdr": si_sdr_db(estimate, track.references[index]),
                       "input_si_sdr": si_sdr_db(y, track.references[index])})
        if on_step is not None:
            on_step(first_step + k)
    return points
