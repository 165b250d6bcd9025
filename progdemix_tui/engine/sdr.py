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

from .extras import missing

MUSEVAL_WHAT = "BSSEval v4 SDR (--sdr bss or both)"
MUSEVAL_INSTEAD = "use --sdr whole, or drop --sdr"
_metrics: ModuleType | None = None


def museval_metrics() -> ModuleType:
    """``museval.metrics``; raises :class:`.extras.ExtraMissing` (a ``ConfigError``) with one
    line naming the ``[eval]`` extra if museval is absent."""
    global _metrics
    if _metrics is not None:
        return _metrics
    try:
        _metrics = importlib.import_module("museval.metrics")
        return _metrics
    except ImportError as exc:
        if (exc.name or "").split(".")[0] == "museval":
            raise missing("eval", MUSEVAL_WHAT, MUSEVAL_INSTEAD) from None
    except Exception:  # noqa: BLE001 - stempeg raises RuntimeError without ffmpeg
        pass
    spec = importlib.util.find_spec("museval")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise missing("eval", MUSEVAL_WHAT, MUSEVAL_INSTEAD)
    file_spec = importlib.util.spec_from_file_location(
        "_progdemix_museval_metrics", f"{locations[0]}/metrics.py")
    if file_spec is None or file_spec.loader is None:
        raise missing("eval", MUSEVAL_WHAT, MUSEVAL_INSTEAD)
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    _metrics = module
    return module


def check_available() -> None:
    """Raise :class:`.extras.ExtraMissing` now (before any work) if museval cannot be used."""
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


# --------------------------------------------------------------------------- whole-excerpt SDR

WHOLE_FILTER = 512  # taps of the distortion filter, torchmetrics' default filter_length


def whole_sdr(estimate: torch.Tensor, reference: torch.Tensor,
              filter_length: int = WHOLE_FILTER) -> torch.Tensor:
    """The study's "standard SDR": SDR over the whole signal, ``[..., time]`` → ``[...]`` dB.

    torchmetrics' ``signal_distortion_ratio`` with its defaults (``zero_mean=False``, no
    conjugate-gradient, no diagonal loading), re-derived: both signals scaled to unit norm,
    the best ``filter_length``-tap filter from reference to estimate solved from the
    reference's autocorrelation (a symmetric Toeplitz system) and the cross-correlation,
    then ``10·log10(c / (1 − c))`` of the coherence c it explains. One number per signal,
    unlike BSSEval v4's median over 1 s frames (:func:`sdr_db`). Computed in float64.
    """
    ref = reference.detach().to("cpu", torch.float64)
    est = estimate.detach().to("cpu", torch.float64)
    ref = ref / ref.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    est = est / est.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    n_fft = 2 ** math.ceil(math.log2(est.shape[-1] + ref.shape[-1] - 1))
    ref_fft = torch.fft.rfft(ref, n=n_fft, dim=-1)
    autocorr = torch.fft.irfft(ref_fft.real**2 + ref_fft.imag**2, n=n_fft)[..., :filter_length]
    est_fft = torch.fft.rfft(est, n=n_fft, dim=-1)
    crosscorr = torch.fft.irfft(ref_fft.conj() * est_fft, n=n_fft, dim=-1)[..., :filter_length]
    lags = torch.arange(filter_length)
    toeplitz = autocorr[..., (lags[:, None] - lags[None, :]).abs()]
    solution = torch.linalg.solve(toeplitz, crosscorr)
    coherence = (crosscorr * solution).sum(-1)
    return 10.0 * torch.log10(coherence / (1 - coherence))


def whole_sdr_db(estimates: torch.Tensor, references: torch.Tensor) -> list[float | None]:
    """:func:`whole_sdr` per source, mean over channels: ``[sources, channels, time]`` pairs
    → one value per source (None where undefined, e.g. a silent channel)."""
    values = whole_sdr(estimates, references).mean(-1)
    out: list[float | None] = []
    for value, ref, est in zip(values.tolist(), references, estimates, strict=True):
        silent = bool((ref.pow(2).sum(-1) <= 1e-12).any() or (est.pow(2).sum(-1) <= 1e-12).any())
        out.append(None if silent or not math.isfinite(value) else value)
    return out
