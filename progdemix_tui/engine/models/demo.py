"""The package's demo model: a small HDemucs shipped as package data (always offline)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelUnavailable
from .base import LoadedModel, ModelRequest, ModelShape, ModelStatus
from .demucs_family import wrap
from .weights import cached_sources, load_safetensors, safetensors_shape

DEMO_WEIGHTS = (Path(__file__).resolve().parent.parent.parent / "demo" / "weights"
                / "demo.safetensors")
DESCRIPTION = "small HDemucs trained on this package's synthetic demo songs (offline)"


class DemoSource:
    """``demo``: the shipped weights."""

    offered = True

    def handles(self, request: ModelRequest) -> bool:
        return request.spec == "demo"

    def names(self) -> tuple[str, ...]:
        return ("demo",)

    def status(self, name: str, with_sources: bool = False) -> ModelStatus:
        ok = DEMO_WEIGHTS.is_file()
        return ModelStatus(name, DESCRIPTION, ok, DEMO_WEIGHTS.stat().st_size if ok else None,
                           str(DEMO_WEIGHTS) if ok else None, "package",
                           cached_sources([DEMO_WEIGHTS]) if ok and with_sources else None)

    def shape(self, request: ModelRequest) -> ModelShape | None:
        if not DEMO_WEIGHTS.is_file():
            return None
        # stored as float16: twice its file's size in memory
        return safetensors_shape([DEMO_WEIGHTS], 2 * DEMO_WEIGHTS.stat().st_size)

    def load(self, request: ModelRequest) -> LoadedModel:
        if not DEMO_WEIGHTS.is_file():
            raise ModelUnavailable(
                f"the demo model's weights are missing ({DEMO_WEIGHTS}); reinstall progdemix-tui."
            )
        return wrap("demo", load_safetensors(DEMO_WEIGHTS), f"package data {DEMO_WEIGHTS}")
