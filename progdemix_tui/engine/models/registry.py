"""The model sources, tried in order, and the functions the rest of the program calls.

:data:`SOURCES` is the one place a new family's sources go (:func:`register`): the first
source that :meth:`~.base.ModelSource.handles` a request loads it.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..config import DEFAULT_MODEL
from ..families.openunmix import OpenUnmixSource
from ..families.roformer import RoformerSource
from .base import LoadedModel, ModelRequest, ModelShape, ModelSource, ModelStatus, Notify
from .demo import DemoSource
from .file import FileSource
from .pretrained import PretrainedSource
from .repo import RepoSource
from .torchaudio_bundle import TorchaudioSource
from .weights import cached_sources

SOURCES: list[ModelSource] = [DemoSource(), TorchaudioSource(), OpenUnmixSource(),
                              RoformerSource(), FileSource(), RepoSource(), PretrainedSource()]
"""Tried in this order (each family's files before the generic demucs file source); the last
(demucs's pretrained names) handles any name."""


FAMILY_PACKAGES = {"demucs": "demucs", "openunmix": "openunmix", "roformer": "BS-RoFormer"}
"""The distribution that runs each family's models (its version is part of the step-0 cache's
identity)."""


def family_version(family: str) -> str:
    """The installed version of ``family``'s package ("?" when unknown)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(FAMILY_PACKAGES.get(family, family))
    except PackageNotFoundError:
        return "?"


def register(source: ModelSource, first: bool = True) -> None:
    """Add ``source`` to :data:`SOURCES`: first (before the generic file, folder and hub
    sources, so it can claim its own names and files), or just before the hub fallback."""
    if source in SOURCES:
        return
    SOURCES.insert(0 if first else len(SOURCES) - 1, source)


def source_for(request: ModelRequest) -> ModelSource:
    """The first source of :data:`SOURCES` that handles ``request``."""
    return next(source for source in SOURCES if source.handles(request))


def load_model(spec: str = DEFAULT_MODEL, repo: str | os.PathLike | None = None,
               trust_checkpoint: bool = False, notify: Notify | None = None,
               config: str | os.PathLike | None = None) -> LoadedModel:
    """Load the model named by ``spec`` (a name, a file, or a name in the ``repo`` folder;
    ``config``: its own config file, ``--model-config``) through the source that handles it.
    Raises named errors only.

    ``notify`` receives one-line notes worth showing before a slow step: which Hugging Face
    repository a name with a slash comes from, and that a download starts.
    """
    request = ModelRequest.of(spec, repo, trust_checkpoint, notify, config)
    return source_for(request).load(request)


def model_shape(spec: str, repo: str | os.PathLike | None = None,
                config: str | os.PathLike | None = None) -> ModelShape | None:
    """The rate, stem count and size of model ``spec`` as known without loading it (local
    metadata); None when only loading can tell."""
    request = ModelRequest.of(spec, repo, config=config)
    try:
        return source_for(request).shape(request)
    except Exception:  # a broken cache entry or file: loading it will say what is wrong
        return None


def family_of(spec: str, repo: str | os.PathLike | None = None,
              config: str | os.PathLike | None = None) -> str | None:
    """The family of model ``spec`` as its source tells without loading it (Open-Unmix's
    names and folders, RoFormer files); None when only loading tells (demucs's sources)."""
    try:
        return getattr(source_for(ModelRequest.of(spec, repo, config=config)), "family", None)
    except Exception:  # an unreadable path: loading it will say what is wrong
        return None


def known_models() -> list[str]:
    """Model names offered to users, default first."""
    names = [name for source in SOURCES if source.offered for name in source.names()]
    return [DEFAULT_MODEL, *dict.fromkeys(n for n in names if n != DEFAULT_MODEL)]


def model_status(name: str, with_sources: bool = False) -> ModelStatus:
    """Whether ``name``'s weights are available offline (package data, a cache…) from the
    source that handles it; ``with_sources``: also the stems, read from local metadata."""
    return source_for(ModelRequest(name)).status(name, with_sources)


def model_stems(spec: str, config: str | os.PathLike | None = None) -> tuple[str, ...] | None:
    """The stems of model ``spec`` read without building it: a family's published names or
    config (``config``: ``--model-config``), a known name's cached weights or a
    ``.safetensors`` file's checked metadata; None when only loading can tell."""
    shape = model_shape(spec, config=config)
    if shape is not None and shape.stems is not None:
        return shape.stems
    try:
        path = Path(spec).expanduser()
        if path.suffix == ".safetensors" and path.is_file():
            return cached_sources([path])
        if spec in known_models() or spec in _listed():
            status = model_status(spec, with_sources=True)
            return status.sources if status.cached else None
    except Exception:  # a broken cache entry or file: loading it will say what is wrong
        return None
    return None


def _listed() -> list[str]:
    """Names listed by ``models`` but not offered (torchaudio's bundles)."""
    return [name for source in SOURCES if not source.offered for name in source.names()]


DEMUCS_RATE = 44100
"""The rate of every named demucs model (the package's, the demo, torchaudio's bundles)."""


def list_models() -> list[ModelStatus]:
    """Status of every known model, offered ones first, with its family and rate."""
    statuses = [model_status(n, with_sources=True) for n in (*known_models(), *_listed())]
    return [replace(s, samplerate=DEMUCS_RATE) if s.family == "demucs" and s.samplerate is None
            else s for s in statuses]
