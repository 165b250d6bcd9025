"""The separator seam: what a loaded model is (:class:`LoadedModel`, the family contract) and
where models come from (:class:`ModelSource`).

A family (demucs, Open-Unmix, a band-split RoFormer) implements :class:`LoadedModel`; each
place models come from (the package's demo, a hub, a folder, a file, a torchaudio bundle)
is a :class:`ModelSource` in :data:`.registry.SOURCES`, tried in order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

Notify = Callable[[str], None]
"""Receives one-line notes worth showing before a slow step (a download starts…)."""


@runtime_checkable
class LoadedModel(Protocol):
    """A model ready to separate, whatever its family."""

    name: str
    family: str
    """``"demucs"``, ``"openunmix"``, ``"roformer"``…"""
    module: torch.nn.Module
    """The weights: ``.parameters()``, ``.to(device)``, dtype casts."""
    sources: tuple[str, ...]
    """Stem names, plain (:mod:`..stem_names`)."""
    samplerate: int
    audio_channels: int
    origin: str
    max_segment: float
    """Seconds one chunk may have; ``math.inf`` when any length works."""

    def chunks(self, length: int, segment: float, overlap: float, shifts: int) -> int:
        """How many model forwards one apply of ``length`` samples makes (for progress)."""
        ...

    def apply(self, module: torch.nn.Module, mix: torch.Tensor, *, segment: float,
              overlap: float, shifts: int, batch_chunks: int, device: torch.device,
              before: Callable[[], None], done: Callable[[], None]) -> torch.Tensor:
        """``mix`` ``[batch, channels, time]`` float32 on ``device`` at :attr:`samplerate`
        → ``[batch, sources, channels, time]`` float32. ``module`` is the runnable copy of
        :attr:`module` (precision applied; call it, not :attr:`module`). ``before()`` runs
        before every forward (it raises :class:`..errors.Cancelled` to stop), ``done()``
        after each. Normalisation, chunking, overlap-add and post-filters happen inside."""
        ...


@runtime_checkable
class RunNotes(Protocol):
    """Optional for a family: notes on how a run will go, added to the separator's notes
    before each apply (e.g. demucs: chunks that cannot be batched)."""

    def run_notes(self, *, shifts: int, batch_chunks: int) -> list[str]:
        ...


def parameter_count(model: LoadedModel) -> int:
    """The number of weights of ``model``."""
    return sum(p.numel() for p in model.module.parameters())


@dataclass(frozen=True)
class ModelRequest:
    """What the user asked for: a name, file or folder entry, and how it may be loaded."""

    spec: str
    repo: Path | None = None
    trust_checkpoint: bool = False
    notify: Notify | None = None
    config: Path | None = None
    """The model's own config file (``--model-config``: a RoFormer's training YAML)."""

    @classmethod
    def of(cls, spec: str, repo: str | os.PathLike | None = None, trust_checkpoint: bool = False,
           notify: Notify | None = None, config: str | os.PathLike | None = None) \
            -> ModelRequest:
        return cls(spec, None if repo is None else Path(repo), trust_checkpoint, notify,
                   Path(config).expanduser() if config else None)

    def say(self, text: str) -> None:
        """Pass ``text`` to :attr:`notify`, if any."""
        if self.notify is not None:
            self.notify(text)


@dataclass(frozen=True)
class ModelStatus:
    """Whether a known model's weights are available locally."""

    name: str
    description: str
    cached: bool
    size_bytes: int | None
    location: str | None
    origin: str = ""
    """Where the weights come from: ``package``, ``torchaudio``, a Hugging Face repository id
    or a local repo folder."""
    sources: tuple[str, ...] | None = None
    """The stems it separates, read from local safetensors metadata (None: not known here)."""
    family: str = "demucs"
    """The model's family (:attr:`LoadedModel.family`)."""
    samplerate: int | None = None
    """Its rate, where known without loading it."""
    size_source: str | None = None
    """How :attr:`size_bytes` is known when not from files here: ``estimate`` (the weights a
    download would bring, from the model's published architecture); None: local files."""


@dataclass(frozen=True)
class ModelShape:
    """What the memory check needs of a model: its rate, stem count and size in memory."""

    samplerate: int
    sources: int
    model_bytes: int | None = None
    """Bytes of its weights in memory (None: estimated from its file)."""
    segment: float | None = None
    """Seconds one forward sees unless ``--segment`` says otherwise (None: the global default;
    ``math.inf``: the whole input at once, as Open-Unmix)."""
    stems: tuple[str, ...] | None = None
    """Their names, where known without loading it."""


def shape_of(model: LoadedModel) -> ModelShape:
    """A loaded model's shape, its weights counted as float32."""
    segment = getattr(model, "default_segment", None)
    return ModelShape(model.samplerate, len(model.sources), 4 * parameter_count(model),
                      model.max_segment if math.isinf(model.max_segment) else segment)


class ModelSource(Protocol):
    """One place models come from. :func:`.registry.load_model` asks each source of
    :data:`.registry.SOURCES` in turn whether it :meth:`handles` a request."""

    offered: bool
    """Whether its :meth:`names` are offered in the TUI's model list (else only listed by
    ``models``)."""

    def handles(self, request: ModelRequest) -> bool:
        """Whether this source is the one to load ``request`` (a name, file or folder)."""
        ...

    def names(self) -> tuple[str, ...]:
        """The model names it lists in ``models`` (none for files and folders)."""
        ...

    def status(self, name: str, with_sources: bool = False) -> ModelStatus:
        """Whether ``name`` is available offline (no download), without building it;
        ``with_sources``: also its stems where local metadata tells them."""
        ...

    def shape(self, request: ModelRequest) -> ModelShape | None:
        """The model's rate and stems as known without loading it (None: only loading
        tells)."""
        ...

    def load(self, request: ModelRequest) -> LoadedModel:
        """Load the model; raises :class:`..errors.ModelUnavailable` (or another named
        error) only."""
        ...
