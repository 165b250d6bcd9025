"""The demucs family: a demucs model (or bag of models, or torchaudio's HDemucs behind an
adapter) applied as ``demucs.separate`` does — input normalised, ``demucs.apply.apply_model``
chunking and overlap-adding — or with several chunks per forward (:mod:`..chunked`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, cast

import torch

from ..chunked import apply_batched, draws_per_forward
from ..errors import ModelUnavailable
from ..hub import reason
from ..model_files import Bag, check_stem_names

if TYPE_CHECKING:
    from demucs.apply import BagOfModels
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    DemucsModel: TypeAlias = BagOfModels | Demucs | HDemucs | HTDemucs
    """The types :func:`demucs.apply.apply_model` is annotated with, for ``cast``: torch
    types the attributes demucs sets on a module (``sources``…) as tensors or modules, and
    the torchaudio adapter duck-types a demucs model."""

BATCH_SHIFTS_NOTE = ("--batch-chunks: with --shifts this model's chunks run one at a time (its "
                     "transformer draws from the shifts' random numbers in every forward)")


@dataclass
class LoadedDemucs:
    """A demucs model: ``module`` maps ``[batch, channels, time]`` to ``[batch, sources,
    channels, time]`` and carries demucs's attributes (``sources``, ``samplerate``…)."""

    name: str
    module: torch.nn.Module
    sources: tuple[str, ...]
    samplerate: int
    audio_channels: int
    origin: str
    max_segment: float
    family: str = "demucs"

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def chunks(self, length: int, segment: float, overlap: float, shifts: int) -> int:
        """Forwards of one apply: chunks per pass × shifts × the bag's models."""
        segment_length = int(self.samplerate * segment)
        stride = max(1, int((1 - overlap) * segment_length))
        per_pass = math.ceil(length / stride)
        bag = len(getattr(self.module, "models", [None]))
        return per_pass * max(1, shifts) * bag

    def batches(self, shifts: int, batch_chunks: int) -> bool:
        """Whether chunks go through the model ``batch_chunks`` at a time: not with random
        shifts on a model that draws from ``random`` in every forward (HTDemucs)."""
        return batch_chunks > 1 and not (shifts and draws_per_forward(self.module))

    def run_notes(self, *, shifts: int, batch_chunks: int) -> list[str]:
        """:data:`BATCH_SHIFTS_NOTE` where batched chunks were asked for but cannot be."""
        return ([BATCH_SHIFTS_NOTE]
                if batch_chunks > 1 and not self.batches(shifts, batch_chunks) else [])

    def apply(self, module: torch.nn.Module, mix: torch.Tensor, *, segment: float,
              overlap: float, shifts: int, batch_chunks: int, device: torch.device,
              before: Callable[[], None], done: Callable[[], None]) -> torch.Tensor:
        """Normalise like ``demucs.separate`` (so quiet and loud inputs behave alike), apply
        in chunks, and undo the normalisation."""
        from demucs.apply import apply_model

        ref = mix.mean(1)  # [batch, time]
        mean = ref.mean(-1)[:, None, None]
        std = ref.std(-1, correction=0).clamp_min(1e-8)[:, None, None]
        normalised = (mix - mean) / std

        def callback(info: dict) -> None:
            if info.get("state") == "start":
                before()
            elif info.get("state") == "end":
                done()

        if self.batches(shifts, batch_chunks):
            out = apply_batched(module, normalised, batch=batch_chunks, shifts=shifts,
                                overlap=overlap, segment=segment, device=device,
                                before=before, done=done)
        else:
            out = apply_model(cast("DemucsModel", module), normalised, shifts=shifts,
                              split=True, overlap=overlap, device=device, segment=segment,
                              callback=callback)
        del normalised
        # In place: the output [batch, sources, channels, time] is the largest tensor here.
        return out.float().mul_(std[..., None]).add_(mean[..., None] / len(self.sources))


def wrap(name: str, module: torch.nn.Module, origin: str) -> LoadedDemucs:
    """A loaded demucs ``module`` (in eval mode), its stems checked."""
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    module.eval()
    model = cast("DemucsModel", module)  # or the torchaudio adapter, with the same attributes
    if isinstance(module, BagOfModels):
        max_segment = float(module.max_allowed_segment)
    elif isinstance(module, HTDemucs):
        max_segment = float(module.segment)
    else:
        max_segment = float("inf")
    sources = check_stem_names(model.sources, f"model {name!r} ({origin})")
    return LoadedDemucs(name=name, module=module, sources=sources,
                        samplerate=int(model.samplerate),
                        audio_channels=int(model.audio_channels), origin=origin,
                        max_segment=max_segment)


def make_bag(modules: list[torch.nn.Module], bag: Bag, where: str) -> torch.nn.Module:
    """demucs's BagOfModels; a bag whose parts do not fit together is ModelUnavailable."""
    from demucs.apply import BagOfModels

    try:
        parts = cast("list[Demucs | HDemucs | HTDemucs]", modules)  # checked by BagOfModels
        return BagOfModels(parts, bag.weights, bag.segment)
    except (AssertionError, ValueError, TypeError) as exc:
        raise ModelUnavailable(
            f"the bag in {where} does not fit together ({reason(exc)}): its models must share "
            "sources, sample rate and channels, and 'weights' needs one number per source."
        ) from None


def unwrap(bag) -> torch.nn.Module:
    """A bag of one model with unit weights is just that model."""
    if len(bag.models) == 1 and all(w == 1 for w in bag.weights[0]):
        return bag.models[0]
    return bag
