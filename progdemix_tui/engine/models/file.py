"""A model file: ``.safetensors`` in demucs's format (checked, no code runs) or a pickled
``.th``/``.pt``/``.pth`` checkpoint (only with ``--trust-checkpoint``)."""

from __future__ import annotations

from pathlib import Path

from .. import hub
from .base import LoadedModel, ModelRequest, ModelShape, ModelStatus
from .demucs_family import wrap
from .weights import (
    PICKLED_SUFFIXES,
    cached_sources,
    file_kind,
    load_pickled,
    load_safetensors,
    safetensors_shape,
)


class FileSource:
    """A path to a model file (a name that reads as a path, or a file that exists)."""

    offered = False

    def handles(self, request: ModelRequest) -> bool:
        path = Path(request.spec).expanduser()
        return path.suffix in (".safetensors", *PICKLED_SUFFIXES) or path.is_file() or (
            request.repo is None and hub.looks_like_path(request.spec))

    def names(self) -> tuple[str, ...]:
        return ()

    def status(self, name: str, with_sources: bool = False) -> ModelStatus:
        path = Path(name).expanduser()
        ok = path.is_file()
        return ModelStatus(path.stem, "model file", ok, path.stat().st_size if ok else None,
                           str(path) if ok else None, str(path),
                           cached_sources([path]) if ok and with_sources else None)

    def shape(self, request: ModelRequest) -> ModelShape | None:
        path = Path(request.spec).expanduser()
        if path.suffix != ".safetensors" or not path.is_file():
            return None
        return safetensors_shape([path], path.stat().st_size)

    def load(self, request: ModelRequest) -> LoadedModel:
        path = Path(request.spec).expanduser()
        if file_kind(path) == "safetensors":
            return wrap(path.stem, load_safetensors(path), str(path))
        return wrap(path.stem, load_pickled(path, request.trust_checkpoint), str(path))
