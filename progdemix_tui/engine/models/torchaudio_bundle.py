"""torchaudio's Hybrid Demucs bundles (``HDEMUCS_HIGH_MUSDB(_PLUS)``), when torchaudio is
importable (an optional extra). Its HDemucs is a fixed class; its state loads as plain
tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import ModelUnavailable
from ..hub import reason
from .base import LoadedModel, ModelRequest, ModelShape, ModelStatus
from .demucs_family import wrap

TORCHAUDIO_BUNDLES = {
    "HDEMUCS_HIGH_MUSDB": "torchaudio Hybrid Demucs trained on MUSDB18-HQ train set",
    "HDEMUCS_HIGH_MUSDB_PLUS": "torchaudio Hybrid Demucs trained on MUSDB18-HQ train AND test "
    "sets plus extra data: do not evaluate it on MUSDB18-HQ test (leakage)",
}
TORCHAUDIO_SOURCES = ("drums", "bass", "other", "vocals")
"""The sources of torchaudio's HDemucs bundles, in its order."""


class TorchaudioSource:
    """torchaudio's bundles, by name."""

    offered = False  # needs the torchaudio extra: listed by ``models``, not offered in the TUI

    def handles(self, request: ModelRequest) -> bool:
        return request.spec in TORCHAUDIO_BUNDLES

    def names(self) -> tuple[str, ...]:
        return tuple(TORCHAUDIO_BUNDLES)

    def status(self, name: str, with_sources: bool = False) -> ModelStatus:
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        stem = f"hdemucs_high_{'musdbhq_plus' if 'PLUS' in name else 'trained'}"
        files = list(folder.glob(f"{stem}*"))
        size = sum(f.stat().st_size for f in files) if files else None
        return ModelStatus(name, TORCHAUDIO_BUNDLES.get(name, ""), bool(files), size,
                           str(folder) if files else None, "torchaudio", TORCHAUDIO_SOURCES)

    def shape(self, request: ModelRequest) -> ModelShape | None:
        return None  # the bundle's rate is known once torchaudio is imported: at loading

    def load(self, request: ModelRequest) -> LoadedModel:
        name = request.spec
        try:
            import torchaudio.pipelines as pipelines
        except Exception as exc:
            raise ModelUnavailable(
                f"{name} needs torchaudio ({reason(exc)}); install the extra: "
                "pip install 'progdemix-tui[torchaudio]'."
            ) from None
        bundle = getattr(pipelines, name)
        try:
            inner = _torchaudio_hdemucs(bundle)
        except Exception as exc:
            raise ModelUnavailable(f"cannot get weights for {name} ({reason(exc)}).") from None
        module = TorchaudioAdapter(inner, int(bundle.sample_rate), TORCHAUDIO_SOURCES)
        return wrap(name, module, "torchaudio bundle")


def _torchaudio_hdemucs(bundle: Any) -> torch.nn.Module:
    """torchaudio's HDemucs (a fixed class, never one a file names) with the bundle's state,
    read as plain tensors (``weights_only``: a tampered checkpoint cannot run code)."""
    from torchaudio.models import hdemucs_high
    from torchaudio.utils import download_asset

    state = torch.load(download_asset(bundle._model_path), map_location="cpu", weights_only=True)
    model = hdemucs_high(sources=list(TORCHAUDIO_SOURCES))
    model.load_state_dict(state)
    return model.eval()


class TorchaudioAdapter(torch.nn.Module):
    """Gives torchaudio's HDemucs the attributes demucs's ``apply_model`` reads."""

    def __init__(self, inner: torch.nn.Module, samplerate: int, sources: tuple[str, ...]):
        super().__init__()
        self.inner = inner
        self.samplerate = samplerate
        self.sources = list(sources)
        self.audio_channels = 2
        self.segment = 10.0

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return self.inner(mix)
