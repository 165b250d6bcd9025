"""SDR as BSSEval v4 computes it (museval): framewise, then the median over frames.

museval is optional. Its package ``__init__`` imports musdb/stempeg, which refuse to import
without ffmpeg, so when that fails the pure-numpy ``museval/metrics.py`` is loaded on its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import warnings
from types import ModuleType

import numpy as np
import torch

from .errors import ConfigError

MUSEVAL_MISSING = "--sdr needs museval (BSSEval v4): pip install museval, or drop --sdr."
_metrics: ModuleType | None = None


def museval_metrics() -> ModuleType:
    """``museval.metrics``; raises :class:`ConfigError` with one line if museval is absent."""
    global _metrics
    if _metrics is not None:
        return _metrics
    try:
        _metrics = importlib.import_module("museval.metrics")
        return _metrics
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "museval":
            raise ConfigError(MUSEVAL_MISSING) from None
    except Exception:  # noqa: BLE001 - stempeg raises RuntimeError without ffmpeg
        pass
    spec = importlib.util.find_spec("museval")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ConfigError(MUSEVAL_MISSING)
    file_spec = importlib.util.spec_from_file_location(
        "_progdemix_museval_metrics", f"{locations[0]}/metrics.py")
    if file_spec is None or file_spec.loader is None:
        raise ConfigError(MUSEVAL_MISSING)
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    _metrics = module
    return module


def check_available() -> None:
    """Raise :class:`ConfigError` now (before any work) if museval cannot be used."""
    museval_metrics()


def framewise_sdr(estimates: torch.Tensor, references: torch.Tensor, samplerate: int,
                  window: float = 1.0) -> np.ndarray:
    """BSSEval v4 SDR per source and frame: ``[sources, channels, time]`` → ``[sources, frames]``.

    Like ``museval.evaluate``: all sources are evaluated together, without permutation, with
    ``window = hop`` (1 s); frames where any reference or estimate is silent are NaN.
    """
    metrics = museval_metrics()
    refs = references.detach().to("cpu", torch.float64).numpy().transpose(0, 2, 1)
    ests = estimates.detach().to("cpu", torch.float64).numpy().transpose(0, 2, 1)
    win = int(round(window * samplerate))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        sdr, _isr, _sir, _sar, _perm = metrics.bss_eval(
            refs, ests, window=win, hop=win, compute_permutation=False,
            framewise_filters=False, bsseval_sources_version=False)
    return np.asarray(sdr, dtype=np.float64)


def sdr_db(estimates: torch.Tensor, references: torch.Tensor, samplerate: int,
           window: float = 1.0) -> list[float | None]:
    """Median over frames of :func:`framewise_sdr` per source (NaN frames ignored).

    This is the number museval reports per track and target. None where no frame is defined.
    """
    frames = framewise_sdr(estimates, references, samplerate, window)
    out: list[float | None] = []
    for row in frames:
        finite = row[np.isfinite(row)]
        value = float(np.median(finite)) if finite.size else math.nan
        out.append(value if math.isfinite(value) else None)
    return out
