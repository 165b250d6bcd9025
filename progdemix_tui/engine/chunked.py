"""Batched chunks: ``demucs.apply.apply_model`` with several chunks of a pass in one forward.

:func:`apply_batched` follows ``apply_model`` (demucs 4.1) step for step — a bag's models
with their per-source weights, the random shifts (drawn from ``random`` in the same order),
the split into ``segment``-long chunks at ``(1 - overlap)`` strides, each chunk padded with
its neighbours' samples (``TensorChunk.padded``) to the model's valid length, and the
overlap-add with the same triangular weight in the same order — except that up to ``batch``
chunks whose padded inputs have one length go through the model in one call. The result
equals ``apply_model``'s to float tolerance (a batched convolution may sum in another order).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import torch

ChunkDone = Callable[[], None]
"""Called once per chunk after the forward that separated it."""
BeforeForward = Callable[[], None]
"""Called before every forward (the cancel check)."""
TRANSITION_POWER = 1.0
"""``apply_model``'s default, which the separator uses."""


def apply_batched(model: Any, mix: Any, *, batch: int, shifts: int, overlap: float,
                  segment: float, device: torch.device, before: BeforeForward,
                  done: ChunkDone) -> torch.Tensor:
    """``apply_model(model, mix, shifts, split=True, overlap, segment=segment)`` with up to
    ``batch`` chunks per forward. ``mix`` is ``[batch, channels, time]`` (or a demucs
    ``TensorChunk``); returns ``[batch, sources, channels, time]``."""
    from demucs.apply import BagOfModels, TensorChunk, tensor_chunk

    if isinstance(model, BagOfModels):
        estimates: Any = 0.0
        totals = [0.0] * len(model.sources)
        for sub_model, model_weights in zip(model.models, model.weights, strict=True):
            out = apply_batched(sub_model, mix, batch=batch, shifts=shifts, overlap=overlap,
                                segment=segment, device=device, before=before, done=done)
            for k, inst_weight in enumerate(model_weights):
                out[:, k, :, :] *= inst_weight
                totals[k] += inst_weight
            estimates += out
            del out
        for k in range(estimates.shape[1]):
            estimates[:, k, :, :] /= totals[k]
        return estimates
    if shifts:
        max_shift = int(0.5 * model.samplerate)
        chunk = tensor_chunk(mix)
        length = chunk.shape[-1]
        padded_mix = chunk.padded(length + 2 * max_shift)
        shifted_sum: Any = 0.0
        for _ in range(shifts):
            offset = random.randint(0, max_shift)
            shifted = TensorChunk(padded_mix, offset, length + max_shift - offset)
            res = apply_batched(model, shifted, batch=batch, shifts=0, overlap=overlap,
                                segment=segment, device=device, before=before, done=done)
            shifted_sum += res[..., max_shift - offset:]
        return shifted_sum / shifts
    return _split(model, mix, batch, overlap, segment, device, before, done)


def _valid_length(model: Any, length: int, segment: float) -> int:
    """The length ``apply_model`` pads a chunk of ``length`` samples to."""
    from demucs.htdemucs import HTDemucs

    if isinstance(model, HTDemucs):
        return int(segment * model.samplerate)
    if hasattr(model, "valid_length"):
        return int(model.valid_length(length))
    return length


def _split(model: Any, mix: Any, batch: int, overlap: float, segment: float,
           device: torch.device, before: BeforeForward, done: ChunkDone) -> torch.Tensor:
    """``apply_model``'s split branch, forwarding up to ``batch`` chunks at once; chunk
    outputs are added in offset order, as ``apply_model`` adds them."""
    from demucs.apply import TensorChunk
    from demucs.utils import center_trim

    items, channels, length = mix.shape
    out = torch.zeros(items, len(model.sources), channels, length, device=mix.device)
    sum_weight = torch.zeros(length, device=mix.device)
    segment_length = int(model.samplerate * segment)
    stride = int((1 - overlap) * segment_length)
    weight = torch.cat([torch.arange(1, segment_length // 2 + 1, device=device),
                        torch.arange(segment_length - segment_length // 2, 0, -1,
                                     device=device)])
    weight = (weight / weight.max()) ** TRANSITION_POWER
    model.to(device)
    model.eval()
    offsets = range(0, length, stride)
    chunks = [TensorChunk(mix, offset, segment_length) for offset in offsets]
    groups: dict[int, list[int]] = {}
    for index, chunk in enumerate(chunks):
        groups.setdefault(_valid_length(model, chunk.length, segment), []).append(index)
    pending = sorted((indices[i:i + batch] for indices in groups.values()
                      for i in range(0, len(indices), batch)), key=lambda group: group[0])
    results: dict[int, torch.Tensor] = {}
    added = 0
    for group in pending:
        valid = _valid_length(model, chunks[group[0]].length, segment)
        inputs = torch.cat([chunks[i].padded(valid).to(device) for i in group])
        before()
        with torch.no_grad():
            separated = model(inputs)
        del inputs
        for n, i in enumerate(group):
            results[i] = center_trim(separated[n * items:(n + 1) * items], chunks[i].length)
            done()
        del separated
        while added in results:  # overlap-add what is ready, in offset order
            chunk_out = results.pop(added)
            offset, chunk_length = offsets[added], chunk_out.shape[-1]
            out[..., offset:offset + segment_length] += (
                weight[:chunk_length] * chunk_out).to(mix.device)
            sum_weight[offset:offset + segment_length] += weight[:chunk_length].to(mix.device)
            added += 1
    out /= sum_weight
    return out


def draws_per_forward(model: Any) -> bool:
    """Whether ``model`` (or a model of its bag) draws from ``random`` in every forward:
    HTDemucs's transformer does, so with random shifts the offsets ``apply_model`` draws
    depend on how many forwards ran, and batching would change them."""
    from demucs.htdemucs import HTDemucs

    return any(isinstance(layer, HTDemucs) for layer in model.modules())
