"""Shared by ``train_demo_model.py`` and ``eval_demo_model.py``: the demo model's
architecture, the held-out evaluation sets (generator songs; songs sampled from the held-out
note bank) and SI-SDR (torchmetrics' convention).

Imports only torch, numpy, demucs and ``progdemix_tui.demo`` (numpy-only), so it runs on
a machine where the rest of the package's dependencies are not installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from progdemix_tui.demo import STEMS, generate_song  # noqa: E402

WEIGHTS = ROOT / "progdemix_tui" / "demo" / "weights" / "demo.safetensors"
HELD_OUT_SEEDS = tuple(range(1, 21))  # never used for training
TRAIN_SEED_BASE = 100_000  # training songs use seeds >= this
VALID_SEEDS = tuple(range(50_000, 50_008))  # monitoring during training only
EVAL_DURATION = 6.0
EVAL_SEGMENT = 10.0
MODEL_KWARGS = {"sources": list(STEMS), "channels": 10}
# Note banks written by scripts/render_note_bank.py (not in git; the lead carries .gpudata/).
TRAIN_BANK = ROOT / ".gpudata" / "train.npz"
HELD_OUT_BANK = ROOT / ".gpudata" / "heldout.npz"


def build_model(**overrides) -> torch.nn.Module:
    """The demo HDemucs (default depth 6, nfft 4096), random weights."""
    from demucs.hdemucs import HDemucs

    return HDemucs(**{**MODEL_KWARGS, **overrides})


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """SI-SDR in dB over the last axis, as torchmetrics computes it (zero_mean=False)."""
    eps = torch.finfo(estimate.dtype).eps
    alpha = ((estimate * reference).sum(-1, keepdim=True) + eps) / (
        (reference**2).sum(-1, keepdim=True) + eps)
    target = alpha * reference
    noise = target - estimate
    ratio = ((target**2).sum(-1) + eps) / ((noise**2).sum(-1) + eps)
    return 10 * torch.log10(ratio)


def held_out_songs(seeds=HELD_OUT_SEEDS, duration: float = EVAL_DURATION) -> np.ndarray:
    """Stems ``[songs, 4, 2, T]`` of the held-out evaluation songs."""
    return np.stack([generate_song(s, duration).stems for s in seeds])


def held_out_sampled_songs(bank: str | Path = HELD_OUT_BANK, seeds=HELD_OUT_SEEDS,
                           duration: float = EVAL_DURATION) -> np.ndarray:
    """Stems ``[songs, 4, 2, T]`` of songs sampled from the held-out note bank (programs,
    kits and a SoundFont that the training bank never has)."""
    from progdemix_tui.demo.notebank import NoteBank
    from progdemix_tui.demo.sampled import generate_sampled_song

    notes = NoteBank.load(bank)
    return np.stack([generate_sampled_song(s, notes, duration).stems for s in seeds])


def score_summary(scores: np.ndarray) -> dict[str, dict[str, float]]:
    """Mean and min SI-SDR per stem (and over all), rounded, for JSON reports."""
    columns = {name: scores[:, i] for i, name in enumerate(STEMS)} | {"all": scores}
    return {name: {"mean": round(float(col.mean()), 2), "min": round(float(col.min()), 2)}
            for name, col in columns.items()}


@torch.no_grad()
def evaluate(model: torch.nn.Module, stems: np.ndarray, device: str = "cpu",
             segment: float = EVAL_SEGMENT, shifts: int = 0, wiener: int = 0) -> np.ndarray:
    """One-shot separation with ``demucs.apply.apply_model``; SI-SDR ``[songs, 4]`` (dB),
    per channel then averaged over channels. ``wiener`` > 0 post-filters every stem with
    that many iterations of demucs's multichannel Wiener filter (diagnostics only)."""
    from demucs.apply import apply_model

    model.eval()
    scores = []
    for song in stems:
        refs = torch.from_numpy(song).to(device)
        mix = refs.sum(0)
        est = apply_model(model, mix[None], segment=segment, overlap=0.25, shifts=shifts,
                          split=True, device=device)[0]
        if wiener:
            from progdemix_tui.engine.postfilter import wiener_target

            est = torch.stack([wiener_target(est, mix, i, wiener) for i in range(len(est))])
        scores.append(si_sdr(est.float(), refs).mean(-1).cpu().numpy())
    return np.stack(scores)


def format_scores(scores: np.ndarray) -> str:
    """One line per stem: mean and min SI-SDR over songs."""
    lines = [f"{'stem':<8} {'mean dB':>8} {'min dB':>8}"]
    for i, name in enumerate(STEMS):
        lines.append(f"{name:<8} {scores[:, i].mean():8.2f} {scores[:, i].min():8.2f}")
    lines.append(f"{'all':<8} {scores.mean():8.2f} {scores.min():8.2f}")
    return "\n".join(lines)
