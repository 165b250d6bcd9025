"""demucs's pretrained models by name (``hdemucs_mmi``, ``htdemucs``… or ``OWNER/NAME``):
bags in the Hugging Face cache (``demucs.hf``'s layout), downloaded when missing and checked
before they are built; demucs's legacy pickled repo only when trusted."""

from __future__ import annotations

from pathlib import Path

from .. import hub
from ..config import DEFAULT_MODEL
from ..errors import ModelUnavailable
from ..model_files import load_checked_safetensors_files, read_bag
from .base import LoadedModel, ModelRequest, ModelShape, ModelStatus
from .demucs_family import make_bag, unwrap, wrap
from .weights import cached_sources, safetensors_shape

DESCRIPTIONS = {
    DEFAULT_MODEL: "Hybrid Demucs v3, MUSDB18-HQ + 800 songs (the study's architecture)",
    "htdemucs": "Hybrid Transformer Demucs v4",
    "htdemucs_ft": "Hybrid Transformer Demucs v4, fine-tuned per source (4 models, slow)",
    "htdemucs_6s": "Hybrid Transformer Demucs v4, 6 sources (adds guitar, piano)",
    "mdx": "Demucs v3 MDX challenge bag, MUSDB18-HQ only",
    "mdx_extra": "Demucs v3 MDX challenge bag, extra training data",
    "mdx_q": "mdx, quantized (needs diffq)",
    "mdx_extra_q": "mdx_extra, quantized (needs diffq)",
}


class PretrainedSource:
    """Any other name: a demucs bag on the Hugging Face hub (the fallback source)."""

    offered = True

    def handles(self, request: ModelRequest) -> bool:
        return True

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(hub.known_names()))

    def status(self, name: str, with_sources: bool = False) -> ModelStatus:
        description = DESCRIPTIONS.get(name, "")
        repo_id = hub.repo_for(name)[0]
        paths = _cached_files(name)
        if paths is None:
            return ModelStatus(name, description, False, None, None, repo_id)
        return ModelStatus(name, description, True, sum(p.stat().st_size for p in paths[1:]),
                           str(paths[0].parent), repo_id,
                           cached_sources(paths[1:]) if with_sources else None)

    def shape(self, request: ModelRequest) -> ModelShape | None:
        try:
            paths = _cached_files(request.spec)
        except Exception:  # a name the hub refuses: loading says why
            return None
        if paths is None:
            return None
        return safetensors_shape(paths[1:], sum(p.stat().st_size for p in paths[1:]))

    def load(self, request: ModelRequest) -> LoadedModel:
        """A demucs bag from the Hugging Face cache, downloading what is missing (checked
        first)."""
        name = request.spec
        try:
            repo_id, bag, files = hub.resolve(name, request.say)
        except hub.NotReachable as exc:
            if request.trust_checkpoint and "/" not in name:
                return _load_legacy_remote(name, exc)
            raise hub.not_cached_error(name, str(exc)) from None
        modules = load_checked_safetensors_files(files)
        bag_module = make_bag(modules, bag, f"Hugging Face repository {repo_id}")
        return wrap(name, unwrap(bag_module),
                    f"Hugging Face repository {repo_id} (cache {hub.cache_dir()})")


def _cached_files(name: str) -> list[Path] | None:
    """``[bag file, model files…]`` of ``name`` in the Hugging Face cache; None unless all
    are there (a broken bag file is not a usable cached model)."""
    from huggingface_hub import try_to_load_from_cache

    repo_id = hub.repo_for(name)[0]
    bag_path = try_to_load_from_cache(repo_id, f"{name}.yaml")
    if not isinstance(bag_path, str):
        return None
    try:
        sigs = read_bag(Path(bag_path)).models
    except ModelUnavailable:
        return None
    found = [try_to_load_from_cache(repo_id, f"{sig}.safetensors") for sig in sigs]
    paths = [Path(file) for file in found if isinstance(file, str)]
    if len(paths) < len(sigs):
        return None
    return [Path(bag_path), *paths]


def _load_legacy_remote(name: str, first_error: Exception) -> LoadedModel:
    """demucs's legacy download of pickled checkpoints (checksummed); only when trusted."""
    from demucs.pretrained import get_model

    try:
        model = get_model(name, repo=None)
    except Exception as exc:
        raise ModelUnavailable(
            f"cannot get weights for model {name!r} from the Hugging Face hub "
            f"({hub.reason(first_error)}) nor the legacy repo ({hub.reason(exc)})."
        ) from None
    return wrap(name, model, "legacy demucs repo (torch hub cache)")
