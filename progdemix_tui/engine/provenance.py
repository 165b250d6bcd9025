"""What produced a session or an evaluation, built once for both documents: the header
(format, version, status, times) and the run's provenance (model, device, threads, versions)."""

from __future__ import annotations

import datetime as _dt
import platform


def utc_now(timespec: str = "seconds") -> str:
    """The current UTC time, ISO 8601 (to the second by default), for manifests."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec=timespec)


def versions() -> dict[str, str]:
    """Versions of what produced a result, for reproducibility."""
    import demucs
    import torch

    from progdemix_tui import __version__

    return {"progdemix_tui": __version__, "torch": torch.__version__,
            "demucs": getattr(demucs, "__version__", "?"), "python": platform.python_version()}


def header(fmt: str, version: int, created: str = "seconds") -> dict:
    """A new document's first keys: ``format``, ``version``, ``status`` running, ``created``
    (to ``created``'s precision, :func:`utc_now`) and ``updated``."""
    return {"format": fmt, "version": version, "status": "running", "created": utc_now(created),
            "updated": utc_now()}


def provenance(model: dict, device: str, threads: int | None) -> dict:
    """``model`` (:func:`~progdemix_tui.engine.job.model_description`), ``device``, torch's
    ``threads`` and the :func:`versions` that produced a result."""
    return {"model": model, "device": device, "threads": threads, "versions": versions()}
