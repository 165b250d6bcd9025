"""A perfect separator for testing the loop's maths: it knows the true stems.

Given a mixture that is a linear combination ``Σ_s a_s·x_s`` of the true stems, it finds the
gains ``a_s`` by least squares and returns ``a_s·x_s`` — exactly what an ideal separator
returns. It counts chunks like the real one so cancellation and progress can be tested.
"""

from __future__ import annotations

import torch

from progdemix_tui.engine.errors import Cancelled


class PerfectSeparator:
    def __init__(self, stems: torch.Tensor, samplerate: int = 44100, chunks: int = 3):
        self.stems = stems.double()  # [S, C, T]
        self.sources = ("drums", "bass", "other", "vocals")
        self.samplerate = samplerate
        self.chunks_per_call = chunks
        self.calls = 0

    def gains(self, mix: torch.Tensor) -> torch.Tensor:
        """Least-squares gains ``[S]`` with ``mix ≈ Σ_s gains[s]·stems[s]``."""
        basis = self.stems.reshape(len(self.sources), -1).T  # [C*T, S]
        return torch.linalg.lstsq(basis, mix.double().reshape(-1, 1)).solution[:, 0]

    def separate(self, mix: torch.Tensor, on_chunk=None, cancel=None) -> torch.Tensor:
        self.calls += 1
        outs = []
        for item in mix:
            for done in range(1, self.chunks_per_call + 1):
                if cancel is not None and cancel.is_set():
                    raise Cancelled("cancelled")
                if on_chunk is not None:
                    on_chunk(done, self.chunks_per_call)
            outs.append(self.gains(item)[:, None, None] * self.stems)
        return torch.stack(outs).float()
