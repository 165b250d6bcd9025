"""Finding and loading separation models: the separator seam.

A model is named by a *spec*: a demucs name (``hdemucs_mmi``, ``htdemucs``, ``mdx_extra``…,
fetched into the Hugging Face cache by ``demucs.hf``), ``demo`` (the small model shipped with
this package), a path to a ``.safetensors`` file in demucs's format (class, args and kwargs
in the metadata), a path to a pickled ``.th`` checkpoint (refused unless trusted, because
unpickling runs code), or torchaudio's ``HDEMUCS_HIGH_MUSDB`` / ``HDEMUCS_HIGH_MUSDB_PLUS``.
With ``repo``, names are looked up in a local demucs repo folder (``NAME.yaml`` bag files and
``SIG.safetensors`` or ``SIG[-CHECKSUM].th`` model files).

Each of those is a :class:`~.base.ModelSource` (one module each) in
:data:`~.registry.SOURCES`; what they load is a :class:`~.base.LoadedModel` (the family
contract; demucs's in :mod:`.demucs_family`).
"""

from typing import TYPE_CHECKING

from ..config import DEFAULT_MODEL as DEFAULT_MODEL  # re-exported: engine.DEFAULT_MODEL
from ..model_files import SAFE_CLASSES as SAFE_CLASSES  # re-exported: the allow-list
from .base import (
    LoadedModel,
    ModelRequest,
    ModelShape,
    ModelSource,
    ModelStatus,
    Notify,
    RunNotes,
    parameter_count,
    shape_of,
)
from .demo import DEMO_WEIGHTS
from .demucs_family import LoadedDemucs
from .demucs_family import wrap as _wrap
from .pretrained import DESCRIPTIONS
from .registry import (
    FAMILY_PACKAGES,
    SOURCES,
    family_of,
    family_version,
    known_models,
    list_models,
    load_model,
    model_shape,
    model_status,
    model_stems,
    register,
    source_for,
)
from .repo import RepoListing, list_repo
from .torchaudio_bundle import TORCHAUDIO_BUNDLES, TORCHAUDIO_SOURCES
from .weights import PICKLED_SUFFIXES, file_kind, load_safetensors, save_safetensors

if TYPE_CHECKING:
    from .demucs_family import DemucsModel as DemucsModel

__all__ = [
    "DEFAULT_MODEL", "DEMO_WEIGHTS", "DESCRIPTIONS", "PICKLED_SUFFIXES", "SAFE_CLASSES",
    "FAMILY_PACKAGES", "SOURCES", "TORCHAUDIO_BUNDLES", "TORCHAUDIO_SOURCES", "LoadedDemucs", "LoadedModel",
    "ModelRequest", "ModelShape", "ModelSource", "ModelStatus", "Notify", "RepoListing",
    "RunNotes", "_wrap", "family_of", "family_version", "file_kind", "known_models", "list_models", "list_repo",
    "load_model", "load_safetensors", "model_shape", "model_stems", "model_status",
    "parameter_count", "register", "save_safetensors", "shape_of", "source_for",
]
