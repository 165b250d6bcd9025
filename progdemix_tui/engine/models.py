"""Finding and loading separation models through demucs's own loading code.

A model is named by a *spec*: a demucs name (``hdemucs_mmi``, ``htdemucs``, ``mdx_extra``…,
fetched into the Hugging Face cache by ``demucs.hf``), ``demo`` (the small model shipped with
this package), a path to a ``.safetensors`` file in demucs's format (class, args and kwargs
in the metadata), a path to a pickled ``.th`` checkpoint (refused unless trusted, because
unpickling runs code), or torchaudio's ``HDEMUCS_HIGH_MUSDB`` / ``HDEMUCS_HIGH_MUSDB_PLUS``.
With ``repo``, names are looked up in a local demucs repo folder (``NAME.yaml`` bag files and
``SIG.safetensors`` or ``SIG[-CHECKSUM].th`` model files).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch
import yaml

from .errors import ModelUnavailable, UntrustedCheckpoint

DEFAULT_MODEL = "hdemucs_mmi"
DEMO_WEIGHTS = Path(__file__).resolve().parent.parent / "demo" / "weights" / "demo.safetensors"
TORCHAUDIO_BUNDLES = {
    "HDEMUCS_HIGH_MUSDB": "torchaudio Hybrid Demucs trained on MUSDB18-HQ train set",
    "HDEMUCS_HIGH_MUSDB_PLUS": "torchaudio Hybrid Demucs trained on MUSDB18-HQ train AND test "
    "sets plus extra data: do not evaluate it on MUSDB18-HQ test (leakage)",
}
DESCRIPTIONS = {
    "hdemucs_mmi": "Hybrid Demucs v3, MUSDB18-HQ + 800 songs (default; the study's architecture)",
    "htdemucs": "Hybrid Transformer Demucs v4",
    "htdemucs_ft": "Hybrid Transformer Demucs v4, fine-tuned per source (4 models, slow)",
    "htdemucs_6s": "Hybrid Transformer Demucs v4, 6 sources (adds guitar, piano)",
    "mdx": "Demucs v3 MDX challenge bag, MUSDB18-HQ only",
    "mdx_extra": "Demucs v3 MDX challenge bag, extra training data",
    "mdx_q": "mdx, quantized (needs diffq)",
    "mdx_extra_q": "mdx_extra, quantized (needs diffq)",
    "demo": "small HDemucs trained on this package's synthetic demo songs (offline)",
}
SAFE_CLASSES = {
    "demucs.hdemucs.HDemucs",
    "demucs.htdemucs.HTDemucs",
    "demucs.demucs.Demucs",
}


@dataclass
class LoadedModel:
    """A model ready for :func:`demucs.apply.apply_model`.

    ``module`` maps ``[batch, channels, time]`` to ``[batch, sources, channels, time]``.
    """

    name: str
    module: torch.nn.Module
    sources: tuple[str, ...]
    samplerate: int
    audio_channels: int
    origin: str
    max_segment: float

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


@dataclass(frozen=True)
class ModelStatus:
    """Whether a known model's weights are available locally."""

    name: str
    description: str
    cached: bool
    size_bytes: int | None
    location: str | None


# --------------------------------------------------------------------------- loading


def load_model(spec: str = DEFAULT_MODEL, repo: str | os.PathLike | None = None,
               trust_checkpoint: bool = False) -> LoadedModel:
    """Load the model named by ``spec`` (see module docstring). Raises named errors only."""
    path = Path(spec).expanduser()
    if spec == "demo":
        if not DEMO_WEIGHTS.is_file():
            raise ModelUnavailable(
                f"the demo model's weights are missing ({DEMO_WEIGHTS}); reinstall progdemix-tui."
            )
        return _wrap("demo", load_safetensors(DEMO_WEIGHTS), f"package data {DEMO_WEIGHTS}")
    if spec in TORCHAUDIO_BUNDLES:
        return _load_torchaudio(spec)
    if path.suffix in (".safetensors", ".th", ".pt", ".pth") or path.is_file():
        if not path.is_file():
            raise ModelUnavailable(f"model file {path} does not exist.")
        if path.suffix == ".safetensors":
            return _wrap(path.stem, load_safetensors(path), str(path))
        return _wrap(path.stem, _load_pickled(path, trust_checkpoint), str(path))
    if repo is not None:
        return _load_from_repo(spec, Path(repo), trust_checkpoint)
    return _load_from_hub(spec, trust_checkpoint)


def load_safetensors(path: str | os.PathLike) -> torch.nn.Module:
    """Load a demucs model saved as safetensors with class/args/kwargs metadata.

    Only demucs model classes are accepted in the metadata, so a crafted file cannot make
    the loader call arbitrary code.
    """
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:
        raise ModelUnavailable(f"{path} is not a valid safetensors file ({exc}).") from None
    klass = metadata.get("klass")
    if klass not in SAFE_CLASSES:
        raise ModelUnavailable(
            f"{path} does not hold a demucs model (metadata class {klass!r}); "
            "expected one saved with class, args and kwargs metadata."
        )
    if "structure" in metadata:
        raise ModelUnavailable(
            f"{path} holds a quantized (diffq) state, which is not supported; use an unquantized model."
        )
    from demucs.hf import load_safetensors_model

    model = load_safetensors_model(path)
    model.eval()
    return model


def save_safetensors(model: torch.nn.Module, path: str | os.PathLike, half: bool = False) -> Path:
    """Save a demucs model (built with ``capture_init``) in demucs's safetensors format."""
    from safetensors.torch import save_file

    from .audio import atomic_path

    args, kwargs = model._init_args_kwargs  # set by demucs.states.capture_init
    klass = f"{type(model).__module__}.{type(model).__qualname__}"
    dtype = torch.float16 if half else None
    state = {k: v.detach().to("cpu", dtype=dtype if v.is_floating_point() else None).contiguous()
             for k, v in model.state_dict().items()}
    metadata = {"klass": klass, "args": json.dumps(_encode_json(list(args))),
                "kwargs": json.dumps(_encode_json(dict(kwargs)))}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return path


def _encode_json(value):
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, dict):
        return {k: _encode_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_json(v) for v in value]
    return value


def _load_pickled(path: Path, trust: bool) -> torch.nn.Module:
    if not trust:
        raise UntrustedCheckpoint(
            f"{path} is a pickled checkpoint, and loading it runs code from the file; "
            "pass --trust-checkpoint if you trust its source, or use a .safetensors file."
        )
    from demucs.states import load_model as demucs_load

    try:
        model = demucs_load(path)
    except Exception as exc:
        raise ModelUnavailable(f"{path} could not be loaded as a demucs checkpoint ({exc}).") from None
    model.eval()
    return model


def _load_from_repo(name: str, repo: Path, trust: bool) -> LoadedModel:
    if not repo.is_dir():
        raise ModelUnavailable(f"--repo {repo} is not a folder.")
    bag_file = repo / f"{name}.yaml"
    if bag_file.is_file():
        bag = yaml.safe_load(bag_file.read_text())
        sigs = list(bag["models"])
    else:
        sigs, bag = [name], None
    modules = []
    for sig in sigs:
        safe = repo / f"{sig}.safetensors"
        if safe.is_file():
            modules.append(load_safetensors(safe))
            continue
        pickled = sorted(repo.glob(f"{sig}.th")) + sorted(repo.glob(f"{sig}-*.th"))
        if not pickled:
            raise ModelUnavailable(
                f"model {name!r} not found in {repo}: expected {name}.yaml and "
                f"{sig}.safetensors (or {sig}.th); see README 'Offline weights'."
            )
        if not trust:
            raise UntrustedCheckpoint(
                f"{pickled[0]} is a pickled checkpoint, and loading it runs code from the file; "
                "pass --trust-checkpoint if you trust its source."
            )
        from demucs.pretrained import get_model

        # demucs's LocalRepo verifies the checksum in the file name.
        try:
            loaded = get_model(sig, repo=repo)
        except Exception as exc:
            raise ModelUnavailable(f"{pickled[0]} could not be loaded ({exc}).") from None
        modules.append(loaded)
    from demucs.apply import BagOfModels

    weights = bag.get("weights") if bag else None
    module = BagOfModels(modules, weights, bag.get("segment") if bag else None)
    return _wrap(name, _unwrap(module), str(repo))


def _load_from_hub(name: str, trust: bool) -> LoadedModel:
    from demucs.hf import get_hf_model, hf_repo_name

    known = _known_remote_names()
    if "/" not in name and name not in known:
        raise ModelUnavailable(
            f"unknown model {name!r}; known: {', '.join(sorted(known | {'demo'}))}, "
            "or give a .safetensors path, --repo DIR, or HDEMUCS_HIGH_MUSDB(_PLUS)."
        )
    try:
        bag = get_hf_model(name)
    except Exception as exc:
        if trust:
            return _load_legacy_remote(name, exc)
        namespace, short = name.split("/", 1) if "/" in name else ("adefossez", name)
        raise ModelUnavailable(
            f"cannot get weights for model {name!r} ({_reason(exc)}). Cache folder: "
            f"{_hf_cache_dir()}. Connect once to download it, or place the files by hand: "
            f"{namespace}/{hf_repo_name(short)} in the Hugging Face cache layout, or "
            f"{short}.yaml plus its .safetensors files in a folder given with --repo "
            "(README: 'Offline weights'). Offline, try --model demo."
        ) from None
    return _wrap(name, _unwrap(bag), f"Hugging Face cache ({_hf_cache_dir()})")


def _load_legacy_remote(name: str, first_error: Exception) -> LoadedModel:
    """demucs's legacy download of pickled checkpoints (checksummed); only when trusted."""
    from demucs.pretrained import get_model

    try:
        model = get_model(name, repo=None)
    except Exception as exc:
        raise ModelUnavailable(
            f"cannot get weights for model {name!r} from the Hugging Face hub "
            f"({_reason(first_error)}) nor the legacy repo ({_reason(exc)})."
        ) from None
    return _wrap(name, model, "legacy demucs repo (torch hub cache)")


def _unwrap(bag) -> torch.nn.Module:
    """A bag of one model with unit weights is just that model."""
    if len(bag.models) == 1 and all(w == 1 for w in bag.weights[0]):
        return bag.models[0]
    return bag


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:140]}" if text else type(exc).__name__


def _load_torchaudio(name: str) -> LoadedModel:
    try:
        import torchaudio.pipelines as pipelines
    except Exception as exc:
        raise ModelUnavailable(
            f"{name} needs torchaudio ({_reason(exc)}); install the extra: "
            "pip install 'progdemix-tui[torchaudio]'."
        ) from None
    bundle = getattr(pipelines, name)
    try:
        inner = bundle.get_model()
    except Exception as exc:
        raise ModelUnavailable(f"cannot get weights for {name} ({_reason(exc)}).") from None
    module = _TorchaudioAdapter(inner, int(bundle.sample_rate))
    return _wrap(name, module, "torchaudio bundle")


class _TorchaudioAdapter(torch.nn.Module):
    """Gives torchaudio's HDemucs the attributes demucs's ``apply_model`` reads."""

    def __init__(self, inner: torch.nn.Module, samplerate: int):
        super().__init__()
        self.inner = inner
        self.samplerate = samplerate
        self.sources = list(inner.sources)
        self.audio_channels = 2
        self.segment = 10.0

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return self.inner(mix)


def _wrap(name: str, module: torch.nn.Module, origin: str) -> LoadedModel:
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    module.eval()
    if isinstance(module, BagOfModels):
        max_segment = float(module.max_allowed_segment)
    elif isinstance(module, HTDemucs):
        max_segment = float(module.segment)
    else:
        max_segment = float("inf")
    return LoadedModel(name=name, module=module, sources=tuple(module.sources),
                       samplerate=int(module.samplerate),
                       audio_channels=int(module.audio_channels), origin=origin,
                       max_segment=max_segment)


# --------------------------------------------------------------------------- status


def _known_remote_names() -> set[str]:
    from demucs.pretrained import REMOTE_ROOT

    return {p.stem for p in Path(REMOTE_ROOT).glob("*.yaml") if not p.stem.startswith("repro")}


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def known_models() -> list[str]:
    """Model names offered to users, default first."""
    names = sorted(_known_remote_names() - {DEFAULT_MODEL})
    return [DEFAULT_MODEL, "demo", *names]


def model_status(name: str) -> ModelStatus:
    """Whether ``name``'s weights are cached locally (Hugging Face cache or package data)."""
    description = DESCRIPTIONS.get(name, TORCHAUDIO_BUNDLES.get(name, ""))
    if name == "demo":
        ok = DEMO_WEIGHTS.is_file()
        return ModelStatus(name, description, ok, DEMO_WEIGHTS.stat().st_size if ok else None,
                           str(DEMO_WEIGHTS) if ok else None)
    if name in TORCHAUDIO_BUNDLES:
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        files = list(hub.glob(f"hdemucs_high_{'musdbhq_plus' if 'PLUS' in name else 'trained'}*"))
        size = sum(f.stat().st_size for f in files) if files else None
        return ModelStatus(name, description, bool(files), size, str(hub) if files else None)
    from demucs.hf import hf_repo_name
    from huggingface_hub import try_to_load_from_cache

    repo_id = f"adefossez/{hf_repo_name(name)}"
    bag_path = try_to_load_from_cache(repo_id, f"{name}.yaml")
    if not isinstance(bag_path, str):
        return ModelStatus(name, description, False, None, None)
    sigs = yaml.safe_load(Path(bag_path).read_text())["models"]
    size = 0
    for sig in sigs:
        file = try_to_load_from_cache(repo_id, f"{sig}.safetensors")
        if not isinstance(file, str):
            return ModelStatus(name, description, False, None, None)
        size += Path(file).stat().st_size
    return ModelStatus(name, description, True, size, str(Path(bag_path).parent))


def list_models() -> list[ModelStatus]:
    """Status of every known model, plus the torchaudio bundles."""
    return [model_status(n) for n in known_models()] + [
        model_status(n) for n in TORCHAUDIO_BUNDLES
    ]
