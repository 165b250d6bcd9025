"""Chunked overlap-add inference as the RoFormers' training code runs it (its ``demix``).

The input is reflect-padded by ``border = chunk - step`` at both ends (when longer than two
borders), cut into chunks every ``step`` samples (a last short chunk reflect-padded when over
half a chunk, else zero-padded), each chunk's estimate weighted by a window with linear fades
of ``chunk // 10`` samples (none before the first chunk nor after the last), summed, divided
by the summed weights (0 where no weight), and the padding cut off. The training code decides
"first" and "last" per forward of ``inference.batch_size`` chunks; here it is per chunk (its
result with a batch size of 1), so batching chunks never changes the output.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

Forward = Callable[[torch.Tensor], torch.Tensor]
"""``[n, channels, chunk]`` → ``[n, stems, channels, chunk]``."""


def step_for(chunk: int, overlap: float) -> int:
    """The hop between chunks for an ``overlap`` fraction: ``chunk // n`` when ``overlap`` is
    ``1 - 1/n`` (the training code's ``num_overlap = n``), else ``chunk * (1 - overlap)``."""
    inverse = 1 / (1 - overlap)
    whole = round(inverse)
    if whole >= 1 and math.isclose(inverse, whole, rel_tol=1e-9):
        return max(1, chunk // whole)
    return max(1, int(chunk * (1 - overlap)))


def padded_length(length: int, chunk: int, step: int) -> tuple[int, int]:
    """``(border, padded length)`` for an input of ``length`` samples."""
    border = chunk - step
    if border > 0 and length > 2 * border:
        return border, length + 2 * border
    return 0, length


def chunk_count(length: int, chunk: int, step: int) -> int:
    """How many chunks :func:`demix` cuts ``length`` samples into."""
    return math.ceil(padded_length(length, chunk, step)[1] / step)


def demix(forward: Forward, mix: torch.Tensor, *, stems: int, chunk: int, step: int,
          batch_chunks: int, before: Callable[[], None], done: Callable[[], None]) -> torch.Tensor:
    """``mix`` ``[batch, channels, time]`` → ``[batch, stems, channels, time]``; up to
    ``batch_chunks`` chunk positions (each for the whole batch) per forward. ``before()`` runs
    before every forward, ``done()`` once per chunk after its forward."""
    batch, channels, length = mix.shape
    border, total = padded_length(length, chunk, step)
    audio = F.pad(mix, (border, border), mode="reflect") if border else mix
    fade = chunk // 10
    window = torch.ones(chunk, device=mix.device)
    window[:fade] = torch.linspace(0, 1, fade, device=mix.device)
    window[chunk - fade:] = torch.linspace(1, 0, fade, device=mix.device)
    starts = list(range(0, total, step))
    result = torch.zeros(batch, stems, channels, total, device=mix.device)
    weight = torch.zeros(total, device=mix.device)
    for first in range(0, len(starts), max(1, batch_chunks)):
        group = starts[first:first + max(1, batch_chunks)]
        before()
        out = forward(torch.cat([_chunk(audio, start, chunk) for start in group]))
        for index, start in enumerate(group):
            size = min(chunk, total - start)
            ramp = window[:size].clone()
            if start == 0:  # as the training code: a lone chunk keeps its fade-out
                ramp[:fade] = 1
            elif start == starts[-1]:
                ramp[max(0, chunk - fade):] = 1
            part = out[index * batch:(index + 1) * batch, ..., :size].float()
            result[..., start:start + size] += part * ramp
            weight[start:start + size] += ramp
            done()
        del out
    estimate = torch.where(weight > 0, result / weight, torch.zeros((), device=mix.device))
    return estimate[..., border:total - border] if border else estimate


def _chunk(audio: torch.Tensor, start: int, chunk: int) -> torch.Tensor:
    """``chunk`` samples from ``start``, padded at the end as the training code pads them."""
    part = audio[..., start:start + chunk]
    missing = chunk - part.shape[-1]
    if not missing:
        return part
    mode = "reflect" if part.shape[-1] > chunk // 2 else "constant"
    return F.pad(part, (0, missing), mode=mode)
