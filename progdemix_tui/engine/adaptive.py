"""Adaptive β (after Zang et al. 2025): per step, try several β and keep the best locally.

At step n the loop builds K candidate mixtures with β ∈ {β_n/K, 2β_n/K, …, β_n} and
separates them in one batched forward pass. Together with the "keep previous" candidate
(x̂_{n-1} itself) that makes K+1 candidates. The signal is cut into chunks of
``chunk_seconds``; for every chunk and channel the candidate with the highest score wins,
and its stems (and its y_n) are copied into the step's result.

Scores, higher is better:

- ``oracle``: SI-SDR of the candidate's target against the reference target (needs
  references; an upper bound of what a reference-free choice could do).
- ``consistency`` (reference-free): how well the candidate's target plus the one-shot
  accompaniment estimate (the non-target stems of step 0) rebuild the original mixture,
  ``10·log10(‖y‖² / ‖y − x̂_target − â_0‖²)``. A target estimate that drops part of the
  target or takes in accompaniment leaves a larger residual. It is a proxy: it does not
  need references, and it cannot see errors that step 0's accompaniment shares.

Because "keep previous" is always a candidate, a step never scores below the previous one
on the chosen score, chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .metrics import si_sdr


def candidate_betas(beta_n: float, count: int) -> list[float]:
    """K evenly spaced β values in (0, β_n]: ``[β_n/K, 2β_n/K, …, β_n]``."""
    return [beta_n * (k + 1) / count for k in range(count)]


@dataclass
class Selection:
    """The result of choosing per chunk and channel.

    ``choice`` is ``[channels, chunks]`` of candidate indices (0 = keep previous, k ≥ 1 =
    the k-th β); ``betas`` is ``[channels, chunks]`` of the β used (0 for keep previous).
    """

    stems: torch.Tensor  # [sources, channels, time]
    mixture: torch.Tensor  # [channels, time]
    choice: torch.Tensor
    betas: torch.Tensor
    scores: torch.Tensor  # [candidates, channels, chunks]


def chunk_scores(targets: torch.Tensor, reference: torch.Tensor, chunk: int,
                 kind: str, mixture: torch.Tensor | None = None,
                 accompaniment: torch.Tensor | None = None) -> torch.Tensor:
    """Scores ``[candidates, channels, chunks]`` for ``targets`` ``[candidates, channels, time]``.

    ``kind`` is ``oracle`` (``reference`` = true target) or ``consistency`` (``mixture`` = y,
    ``accompaniment`` = step 0's non-target sum, both ``[channels, time]``).
    """
    cand, channels, length = targets.shape
    chunks = max(1, -(-length // chunk))
    pad = chunks * chunk - length

    def split(x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.pad(x, (0, pad))
        return x.reshape(*x.shape[:-1], chunks, chunk)

    if kind == "oracle":
        return si_sdr(split(targets), split(reference)[None].expand(cand, -1, -1, -1)).float()
    assert mixture is not None and accompaniment is not None
    residual = split(mixture - accompaniment)[None] - split(targets)
    energy = split(mixture).to(torch.float64).pow(2).sum(-1)[None]
    error = residual.to(torch.float64).pow(2).sum(-1)
    eps = torch.finfo(torch.float32).eps
    return (10 * torch.log10((energy + eps) / (error + eps))).float()


def select(candidate_stems: torch.Tensor, candidate_mixtures: torch.Tensor, betas: list[float],
           scores: torch.Tensor, chunk: int) -> Selection:
    """Assemble the best candidate per chunk and channel.

    ``candidate_stems`` is ``[K+1, sources, channels, time]`` with index 0 = keep previous,
    ``candidate_mixtures`` ``[K+1, channels, time]``, ``scores`` ``[K+1, channels, chunks]``.
    """
    choice = scores.argmax(0)  # [channels, chunks]
    length = candidate_stems.shape[-1]
    index = choice.repeat_interleave(chunk, dim=-1)[..., :length]  # [channels, time]
    stems_idx = index[None, None].expand(1, candidate_stems.shape[1], -1, -1)
    stems = candidate_stems.gather(0, stems_idx)[0]
    mixture = candidate_mixtures.gather(0, index[None])[0]
    beta_table = torch.tensor([0.0, *betas], device=choice.device)
    return Selection(stems, mixture, choice, beta_table[choice], scores)
