"""Optional Wiener post-filter of the target stem, with demucs's multichannel Wiener filter."""

from __future__ import annotations

import torch

N_FFT = 4096
HOP = 1024
FRAMES_PER_BLOCK = 300  # as demucs's HDemucs does, to bound memory


def wiener_target(stems: torch.Tensor, mixture: torch.Tensor, target: int,
                  iterations: int = 1) -> torch.Tensor:
    """Refine ``stems[target]`` by Wiener filtering ``mixture`` with all stems' magnitudes.

    ``stems`` is ``[sources, channels, time]``, ``mixture`` ``[channels, time]``; returns the
    filtered target ``[channels, time]``.
    """
    from demucs.wiener import wiener

    length = mixture.shape[-1]
    if length < N_FFT:
        return stems[target]
    window = torch.hann_window(N_FFT, device=mixture.device)
    spec = torch.stft(mixture.float(), N_FFT, HOP, window=window, return_complex=True)
    mags = torch.stft(stems.reshape(-1, length).float(), N_FFT, HOP, window=window,
                      return_complex=True).abs()
    sources, channels = stems.shape[:2]
    mags = mags.reshape(sources, channels, *mags.shape[-2:])  # [S, C, F, N]
    mix_ri = torch.view_as_real(spec).permute(2, 1, 0, 3)  # [N, F, C, 2]
    v = mags.permute(3, 2, 1, 0)  # [N, F, C, S]
    frames = mix_ri.shape[0]
    out = []
    for start in range(0, frames, FRAMES_PER_BLOCK):
        block = slice(start, start + FRAMES_PER_BLOCK)
        z = wiener(v[block], mix_ri[block], iterations, residual=False)  # [n, F, C, 2, S]
        out.append(z[..., target])
    filtered = torch.view_as_complex(torch.cat(out).permute(2, 1, 0, 3).contiguous())  # [C, F, N]
    return torch.istft(filtered, N_FFT, HOP, window=window, length=length)
